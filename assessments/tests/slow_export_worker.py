"""A real Celery worker whose disclosure exports hang, for the SIGKILL test in test_resilience.py.

    python -m assessments.tests.slow_export_worker [celery worker options]

Before starting the worker (through `app.worker_main`, in this process) it replaces
`assessments.exports.xlsx.to_bytes` with a version that first touches the file named by
PORTAL_TEST_EXPORT_MARKER (so the test knows the export is under way) and then sleeps
PORTAL_TEST_EXPORT_DELAY seconds. The prefork pool forks its child from this process, so the child
inherits the patch. No application code is changed.
"""

import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from assessments.exports import xlsx

    delay = float(os.environ.get("PORTAL_TEST_EXPORT_DELAY", "60"))
    marker = os.environ.get("PORTAL_TEST_EXPORT_MARKER", "")
    original = xlsx.to_bytes

    def slow_to_bytes(report):
        if marker:
            Path(marker).write_text(str(os.getpid()))
        time.sleep(delay)
        return original(report)

    xlsx.to_bytes = slow_to_bytes

    from portal.celery import app

    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
