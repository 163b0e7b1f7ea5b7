"""Celery tasks: thin, take ids, re-read everything from the database."""

from celery import shared_task

from . import bulk, exporting

EXPORT_RETRIES = 5


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
