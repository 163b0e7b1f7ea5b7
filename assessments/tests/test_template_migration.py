"""Existing data migrates to the 表样 and renders, scores and exports exactly as before.

`golden/demo-0006.sql.gz` is the demo data (scripts/run.sh's seed_demo) as the database held it
before the 表样 existed (schema 0006, every date fixed); `golden/demo/` holds every rendering of it
by the code of that time (scripts/output_digest.py: paper form, scores, public JSON, xlsx bytes,
public page, each submission snapshot, the JSON list; the CSV list is read from the published
JSON files, which a migration does not touch). The test restores that database, migrates it
with today's code, renders everything again and compares.
"""

import gzip
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="the golden database is a SQLite dump (the PostgreSQL run checks the same code paths)",
)


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_demo_data_renders_scores_and_exports_byte_for_byte_after_migration(tmp_path):
    database = tmp_path / "old.sqlite3"
    with sqlite3.connect(database) as db:
        db.executescript(gzip.open(GOLDEN / "demo-0006.sql.gz", "rt", encoding="utf-8").read())
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")},
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_SECRET_KEY": "golden-test",
    }
    migrated = run(["manage.py", "migrate", "--noinput"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying assessments.0008_assign_templates... OK" in migrated.stdout

    rendered = tmp_path / "new"
    written = run(["scripts/output_digest.py", str(rendered)], env)
    assert written.returncode == 0, written.stderr
    assert "7 assessments written" in written.stdout

    compared = run(["scripts/output_digest.py", "--compare", str(GOLDEN / "demo"), str(rendered)], env)
    assert compared.stdout.strip().splitlines()[-1] == "24 files compared, 0 differ", compared.stdout
    assert compared.returncode == 0

    # Every assessment now names the built-in template of its old layout, version 1.
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "select a.id, t.code, v.number from assessments_assessment a"
            " join assessments_templateversion v on v.id = a.template_version_id"
            " join assessments_tabletemplate t on t.id = v.template_id order by a.id"
        ).fetchall()
    assert rows == [
        (1, "department", 1), (2, "project", 1), (3, "project", 1), (4, "department", 1),
        (5, "department", 1), (6, "department", 1), (7, "department", 1),
    ]
