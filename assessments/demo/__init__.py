"""Demo data: the five real seed documents as plain Python data, loaded by ``manage.py seed_demo``.

The seeds (``shared/seeds/000…004``) live outside the repository, so the repository carries its
own copy here. Texts are stored as written; only Word artefacts (``[bookmark: …]`` markers,
stray leading/trailing spaces, blank lines between paragraphs, one page break inside a word)
are removed. Paragraphs are separated by a single newline. Amounts and weights are strings
("10949.23"), turned into Decimal by the loader; None marks a cell the document leaves blank.

Each assessment is a dict:
    unit, year, kind, layout, officer (username), submit (bool), project_name (projects),
    header (Assessment fields), funding / structure / goals / indicators / project_expenses
    (row dicts), sections ({ReportSection key: {"title", "body"}}), and for the record only
    source (seed file) and report_title. Optional "expected" {"total", "grade"} is what the
    form itself states; the loader checks the computed score against it.
"""

from . import seed_000_lukou, seed_001_nanyue, seed_002_lusong, seed_003_wangcheng, seed_004_yuelu
from .directory import PASSWORD, REGIONS, ROUNDS, SEASON, UNITS, USERS

SEED_MODULES = (seed_000_lukou, seed_001_nanyue, seed_002_lusong, seed_003_wangcheng, seed_004_yuelu)

ASSESSMENTS = [assessment for module in SEED_MODULES for assessment in module.ASSESSMENTS]

__all__ = ["ASSESSMENTS", "PASSWORD", "REGIONS", "ROUNDS", "SEASON", "SEED_MODULES", "UNITS", "USERS"]
