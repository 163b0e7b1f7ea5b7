"""Where the load test runs: its own database, Redis databases, port and scratch folder (loopback only).

Plain constants, no Django: load/run.sh and load/populate.py read them before Django starts.
"""

import os
from pathlib import Path

LOAD_DIR = Path(__file__).resolve().parent
ROOT = LOAD_DIR.parent
WORK_DIR = LOAD_DIR / ".work"           # git-ignored: media, logs, population.json, locust CSVs
MEDIA_DIR = WORK_DIR / "media"
STATIC_DIR = WORK_DIR / "static"
RESULTS_DIR = LOAD_DIR / "results"

# Never "portal" or "test_portal" (the tests), nor "portal_bench". PORTAL_LOAD_DB points a run elsewhere
# (CI's smoke run uses its own, so that it never drops a population kept with --keep).
DB_NAME = os.environ.get("PORTAL_LOAD_DB", "portal_load")
PG = "postgres://portal:portal@127.0.0.1:5432"
DATABASE_URL = f"{PG}/{DB_NAME}"
ADMIN_URL = f"{PG}/postgres"            # only to CREATE / DROP portal_load
REDIS_CACHE_URL = "redis://127.0.0.1:6379/11"
REDIS_BROKER_URL = "redis://127.0.0.1:6379/10"
HOST, PORT = "127.0.0.1", 8765
SECRET_KEY = "load-test-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def environment() -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": DATABASE_URL,
        "DATABASE_CONN_MAX_AGE": "60",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "REDIS_URL": REDIS_CACHE_URL,
        "CELERY_BROKER_URL": REDIS_BROKER_URL,
        "DJANGO_MEDIA_ROOT": str(MEDIA_DIR),
        "DJANGO_STATIC_ROOT": str(STATIC_DIR),
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


if __name__ == "__main__":  # `python -m load.config` prints the environment for load/run.sh
    for key, value in environment().items():
        print(f"export {key}={value!r}")
    print(f"export LOAD_DB_NAME={DB_NAME!r} LOAD_ADMIN_URL={ADMIN_URL!r} LOAD_HOST={HOST!r} LOAD_PORT={PORT}")
    print(f"export LOAD_WORK_DIR={str(WORK_DIR)!r} LOAD_RESULTS_DIR={str(RESULTS_DIR)!r}")
    print(f"export LOAD_REDIS_CACHE_DB={REDIS_CACHE_URL.rsplit('/', 1)[1]} LOAD_REDIS_BROKER_DB={REDIS_BROKER_URL.rsplit('/', 1)[1]}")
