"""The ZIP of every published report of a round, for reviewers."""

import re
import unicodedata
import zipfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .models import Assessment, BulkExport

# Characters that separate paths somewhere: / and \, their full-width and mathematical look-alikes
# (Windows' "best fit" code-page conversion turns ／ and ＼ into / and \), and the characters Windows
# forbids in a file name.
_UNSAFE = set("/\\／＼∕⁄⧸⧹﹨:*?\"<>|")
_DOTS = re.compile(r"\.{2,}")
_RUNS = re.compile(r"_{2,}")
MAX_COMPONENT = 60
UNNAMED = "未命名"


def safe_component(text: str) -> str:
    """`text` as one path component: no separator, no control character, no "..", at most 60 characters.

    zipfile normalises an entry name (``a/../../b`` becomes ``../b``), so a name built from user text
    could leave the folder it is unzipped into; a single sanitised component never can.
    """
    chars = ["_" if c in _UNSAFE or unicodedata.category(c).startswith("C") else c for c in text]
    cleaned = _RUNS.sub("_", _DOTS.sub("_", "".join(chars))).strip("._ ")
    cleaned = cleaned[:MAX_COMPONENT].rstrip("._ ")
    return cleaned or UNNAMED


def entry_stem(a: Assessment) -> str:
    """The id makes the name unique; the unit and the title only make it readable."""
    return f"{a.pk:05d}-{safe_component(a.unit.short_name or a.unit.name)}-{safe_component(a.title)}"


def request(round_, user) -> BulkExport:
    """Record the request (`tasks.queue_bulk` records it and starts the job once it commits)."""
    return BulkExport.objects.create(round=round_, requested_by=user)


def build(bulk_id: int) -> None:
    job = BulkExport.objects.select_related("round").get(pk=bulk_id)
    published = list(
        Assessment.objects.filter(round=job.round, state=Assessment.State.PUBLISHED, confidential=False)
        .select_related("unit", "round", "publication")
        .order_by("unit__name", "kind", "project_name", "pk")
    )
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.RUNNING, total=len(published), done=0)
    name = f"bulk/round-{job.round.year}-{bulk_id}.zip"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            names = set()
            for n, a in enumerate(published, start=1):
                stem = entry_stem(a)
                for field in ("xlsx", "json"):
                    stored = getattr(a.publication, field)
                    entry = f"{stem}.{field}"
                    if entry in names or "/" in entry or "\\" in entry or ".." in entry:
                        raise ValueError(f"unsafe or duplicate ZIP entry name {entry!r}")
                    names.add(entry)
                    archive.write(Path(settings.MEDIA_ROOT) / stored.name, entry)
                BulkExport.objects.filter(pk=bulk_id).update(done=n)
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        BulkExport.objects.filter(pk=bulk_id).update(
            status=BulkExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    BulkExport.objects.filter(pk=bulk_id).update(status=BulkExport.Status.DONE, file=name, finished_at=timezone.now())
