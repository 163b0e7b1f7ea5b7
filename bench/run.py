#!/usr/bin/env python
"""The portal's performance benchmark (issue 6): generate a province, measure every main path
against its floors, write bench/results/. See bench/README.md.

    cd /work/main && .venv/bin/python bench/run.py [--tiny] [--out bench/results]

It sets its own environment (database portal_bench, Redis databases 13 and 14, a scratch
MEDIA_ROOT) before Django is imported, so it never touches the databases the tests use.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import config  # noqa: E402  (plain constants, no Django)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Benchmark the portal's main paths against their floors.")
    p.add_argument("--tiny", action="store_true", help="a few hundred rows, one repetition (CI: proves it still works)")
    p.add_argument("--out", default=str(config.RESULTS_DIR), help="folder for the JSON and Markdown results")
    p.add_argument("--reps", type=int, default=None, help="repetitions per path (default: 20 full, 1 tiny)")
    p.add_argument("--exports", type=int, default=None, help="exports for the throughput run (default: 1000 full, 10 tiny)")
    p.add_argument("--reuse-db", action="store_true",
                   help="measure the population already in portal_bench (from an earlier run with --keep-db)")
    p.add_argument("--keep-db", action="store_true", help="leave portal_bench and the media files in place afterwards")
    p.add_argument("--skip-throughput", action="store_true", help="leave out the Celery throughput run")
    p.add_argument("--profile", action="store_true",
                   help="profile every missed target with pyinstrument (pip install pyinstrument) into OUT/profiles/")
    p.add_argument("--units", type=int, default=None, help="override the number of units of the full population (trials)")
    p.add_argument("--only", default="", help="comma-separated groups to measure: dashboard,supervisor,entry,public,every,export,upload,evidence,throughput")
    return p.parse_args(argv)


def psql(sql: str) -> None:
    subprocess.run(["psql", config.ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def database_exists() -> bool:
    out = subprocess.run(["psql", config.ADMIN_URL, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{config.DB_NAME}'"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip() == "1"


def drop_database() -> None:
    # WITH (FORCE) ends sessions still connected to portal_bench (only the benchmark's own).
    psql(f"DROP DATABASE IF EXISTS {config.DB_NAME} WITH (FORCE)")


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.update(config.environment())
    os.environ.pop("DJANGO_DEBUG", None)  # measure what production runs: DEBUG off
    os.chdir(ROOT)
    started = time.perf_counter()
    reuse = args.reuse_db and database_exists() and (config.WORK_DIR / "population.json").exists()
    if not reuse:
        drop_database()
        psql(f"CREATE DATABASE {config.DB_NAME}")
        if config.MEDIA_DIR.exists():
            import shutil

            shutil.rmtree(config.MEDIA_DIR)
    config.WORK_DIR.mkdir(parents=True, exist_ok=True)
    config.MEDIA_DIR.mkdir(parents=True, exist_ok=True)

    import django

    django.setup()
    from bench import runner

    try:
        return runner.run(args, reuse=reuse, started=started)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database()
            import shutil

            shutil.rmtree(config.MEDIA_DIR, ignore_errors=True)
            (config.WORK_DIR / "population.json").unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
