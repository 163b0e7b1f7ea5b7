"""Celery tasks: thin, take ids, re-read everything from the database."""

import logging

from celery import shared_task

from . import bulk, exporting, notifications

log = logging.getLogger(__name__)

EXPORT_RETRIES = 5
NOTIFY_RETRIES = 5


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=EXPORT_RETRIES)
def export_assessment(self, job_id: int) -> None:
    try:
        exporting.run(job_id)
    except exporting.ExportRefused as exc:
        exporting.record_failure(job_id, exc, final=True)
    except Exception as exc:
        final = self.request.retries >= self.max_retries
        exporting.record_failure(job_id, exc, final=final)
        if not final:
            # 10 s, 20 s, 40 s … capped at 10 minutes: far below the broker's visibility timeout.
            raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 600)) from exc
        raise


@shared_task(acks_late=True)
def rebuild_public_lists() -> None:
    exporting.write_lists()


@shared_task
def dispatch_pending_exports() -> int:
    return exporting.dispatch_pending()


@shared_task(bind=True, acks_late=True, max_retries=2)
def build_bulk_zip(self, bulk_id: int) -> None:
    bulk.build(bulk_id)


def notify_countdown(retries: int) -> int:
    """Seconds before retry number `retries` + 1: 30 s, 1, 2, 4, 8 minutes (about 15 minutes in all)."""
    return 30 * 2**retries


@shared_task(bind=True, acks_late=True, max_retries=NOTIFY_RETRIES)
def send_notification(self, transition_id: int) -> int:
    """The e-mail of a transition. smtplib's errors and timeouts are OSErrors: those are retried."""
    try:
        return notifications.deliver(transition_id)
    except OSError as exc:
        # Without a broker the task runs inside the request: retrying there would hold the
        # officer's page for every SMTP timeout, so the embedded mode tries once.
        eager = self.app.conf.task_always_eager
        if eager or self.request.retries >= self.max_retries:
            attempts = 1 if eager else self.max_retries + 1
            log.error("notification for transition %s not sent, attempt %s of %s failed: %s: %s",
                      transition_id, self.request.retries + 1, attempts, type(exc).__name__, exc)
            return 0
        raise self.retry(exc=exc, countdown=notify_countdown(self.request.retries)) from exc
