"""`/healthz`: is the database there, can the broker be reached, is an export waiting too long,
did an export lose its worker.

No login and no session (a load balancer or a monitoring probe calls it), never cached.
HTTP 200 whenever the database answers — with the broker down the portal keeps working (exports
wait in the outbox) so the status is only "degraded" — and 503 when the database does not.
An export RUNNING without a heartbeat for EXPORT_STALE_SECONDS (its worker was killed) also makes
the status "degraded" until a worker has done it again.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # OperationalError, InterfaceError, a refused socket …
        log.warning("healthz: database unreachable: %s", exc)
        return "error"
    return "ok"


def broker_status(timeout: float = BROKER_TIMEOUT_SECONDS) -> str:
    """"eager" in the embedded mode (no broker), else "ok" or "unreachable" within `timeout` s."""
    from portal.celery import app

    if app.conf.task_always_eager:
        return "eager"
    try:
        with app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
    except Exception as exc:
        log.warning("healthz: broker unreachable: %s", exc)
        return "unreachable"
    return "ok"


def oldest_pending_export_seconds() -> int | None:
    """Age in seconds of the oldest export job not yet done (queued or running), None if none."""
    from assessments.models import ExportJob

    oldest = (
        ExportJob.objects.filter(status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING])
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is None:
        return None
    return max(0, int((timezone.now() - oldest).total_seconds()))


def stale_running_exports() -> int:
    """Running export jobs whose worker stopped beating (see exporting.stale_running)."""
    from assessments import exporting

    return exporting.stale_running().count()


@login_not_required
@never_cache
@require_safe
def healthz(request):
    database = database_status()
    broker = broker_status()
    oldest = stale = None
    if database == "ok":
        try:
            oldest = oldest_pending_export_seconds()
            stale = stale_running_exports()
        except Exception as exc:
            log.warning("healthz: export queue not readable: %s", exc)
            database = "error"
    if stale:
        log.warning("healthz: %s export job(s) running without a heartbeat for %s s", stale, settings.EXPORT_STALE_SECONDS)
    ok = database == "ok" and broker in ("ok", "eager") and not stale
    body = {
        "database": database,
        "broker": broker,
        "oldest_pending_export_seconds": oldest,
        "stale_running_exports": stale,
        "status": "ok" if ok else "degraded",
    }
    return JsonResponse(body, status=200 if database == "ok" else 503)
