"""Where the benchmark runs: its own database, Redis databases and scratch folder (all loopback)."""

import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"          # git-ignored: media files, worker log, population metadata
MEDIA_DIR = WORK_DIR / "media"
RESULTS_DIR = BENCH_DIR / "results"

# Overridable so that a run beside another one (parallel branches on one machine) has stores of its own.
DB_NAME = os.environ.get("PORTAL_BENCH_DB", "portal_bench")  # never "portal" or "test_portal": the tests own those
PG = "postgres://portal:portal@127.0.0.1:5432"
DATABASE_URL = f"{PG}/{DB_NAME}"
ADMIN_URL = f"{PG}/postgres"            # only to CREATE / DROP portal_bench
REDIS_CACHE_URL = os.environ.get("PORTAL_BENCH_REDIS_CACHE", "redis://127.0.0.1:6379/13")
REDIS_BROKER_URL = os.environ.get("PORTAL_BENCH_REDIS_BROKER", "redis://127.0.0.1:6379/14")
SECRET_KEY = "bench-only-not-a-secret"


def environment() -> dict[str, str]:
    """The settings the portal reads from the environment, pointed at the benchmark's own stores."""
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "REDIS_URL": REDIS_CACHE_URL,
        "CELERY_BROKER_URL": REDIS_BROKER_URL,
        "DJANGO_MEDIA_ROOT": str(MEDIA_DIR),
        # The in-process test Client sends Host: testserver.
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_LOG_LEVEL": "WARNING",
        # Notifications are rendered and "sent" in memory, never to a mail server.
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
