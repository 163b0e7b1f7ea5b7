"""Celery tasks and what sends them: thin, take ids, re-read everything from the database.

The workflow announces each transition (`workflow.transitioned`, inside its transaction); the
receiver here writes what must commit with it (the export's outbox row, the public cache
generation) and sends the rest after commit (the export, the list rebuild, the e-mail). So the
workflow knows neither exporting nor Celery, exporting knows neither the workflow nor Celery, and
only this module imports them all.
"""

import logging

from celery import shared_task
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone

from . import audit, bulk, exporting, notifications, season, summary, workflow
from .models import Assessment, ExportJob

log = logging.getLogger(__name__)

REDISPATCH_AFTER = exporting.REDISPATCH_AFTER

EXPORT_RETRIES = 5
NOTIFY_RETRIES = 5


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=EXPORT_RETRIES)
def export_assessment(self, job_id: int) -> None:
    try:
        run_export(job_id)
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
    return dispatch_pending()


@shared_task
def warn_disclosure_deadlines() -> int:
    """Warn the bureau once per unit whose 公开 window is running out (register.warn_due)."""
    from . import register

    return register.warn_due()


@shared_task(bind=True, acks_late=True, max_retries=2)
def build_bulk_zip(self, bulk_id: int) -> None:
    bulk.build(bulk_id)


@shared_task(acks_late=True)
def send_task_reminders(today: str | None = None) -> dict:
    """Beat, every hour: the lead-time and deadline reminders due today (issue 14). Each is
    recorded before it is sent and at most once per task, kind and deadline, so a second run (or
    a second beat) sends nothing twice. `today` (ISO date) is for replaying a given day."""
    import datetime

    return season.due_reminders(datetime.date.fromisoformat(today) if today else None)


@shared_task(bind=True, acks_late=True, max_retries=2)
def build_round_report(self, report_id: int) -> None:
    summary.build(report_id)


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


# --- Sending -------------------------------------------------------------------------------


@receiver(workflow.transitioned, dispatch_uid="tasks.after_transition")
def after_transition(sender, *, assessment, transition, user, **kwargs):
    """What follows a transition: inside its transaction, the export's outbox row (approve) and
    the public cache generation (publish, unpublish); after commit, the sending."""
    if transition.action == "approve" and not assessment.round.disclosure_review:
        queue_export(assessment, user)  # with 公开审核 on, the bureau's decision queues it (disclosure_review.review_publish)
    if transition.action in ("publish", "unpublish", "correct"):
        exporting.bump_public_cache()  # commits with the state change: no process serves the old one for long
        transaction.on_commit(queue_list_rebuild)  # under the new generation
    if transition.action in notifications.TEMPLATES:
        transaction.on_commit(lambda: queue_notification(transition.pk))


def queue_export(assessment: Assessment, user=None) -> ExportJob | None:
    """Create the outbox row (inside the caller's transaction) and send it after commit."""
    job = exporting.create_job(assessment, user)
    if job is not None:
        transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id: int) -> bool:
    """Hand the job to Celery; on a broker outage leave it queued for the next sweep."""
    try:
        export_assessment.apply_async(args=[job_id], retry=False)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, OSError…
        log.warning("export job %s not dispatched, broker unavailable: %s", job_id, exc)
        return False
    ExportJob.objects.filter(pk=job_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).update(
        dispatched_at=timezone.now()
    )
    return True


def dispatch_pending() -> int:
    """Send every queued job never sent or sent long ago, and every running job whose worker died.

    A dead worker's job is sent again at once, then (while no worker takes the new copy) every
    REDISPATCH_AFTER, not on every sweep.
    """
    now = timezone.now()
    stale = now - REDISPATCH_AFTER
    queued = ExportJob.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale), status=ExportJob.Status.QUEUED
    )
    dead = exporting.stale_running(now).filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=F("started_at")) | Q(dispatched_at__lt=stale)
    )
    ids = sorted(set(queued.values_list("pk", flat=True)) | set(dead.values_list("pk", flat=True)))
    return sum(dispatch(pk) for pk in ids)


def run_export(job_id: int) -> None:
    """Do one export job: files, record, publish. Safe to run twice."""
    job = ExportJob.objects.select_related("assessment").get(pk=job_id)
    if job.status == ExportJob.Status.DONE:
        return
    now = timezone.now()
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.RUNNING, attempts=job.attempts + 1, started_at=now, heartbeat_at=now, error=""
    )
    assessment = job.assessment
    with exporting.heartbeat(job_id):
        exporting.write_files(assessment.pk)
        assessment.refresh_from_db()
        if assessment.state == Assessment.State.APPROVED:
            workflow.publish(assessment)
    with transaction.atomic():
        ExportJob.objects.filter(pk=job_id).update(status=ExportJob.Status.DONE, finished_at=timezone.now(), error="")
        audit.record(
            "export.generated", system=True, unit=assessment.unit_id, obj=assessment,
            details={"job": job_id, "attempt": job.attempts + 1},
        )


def queue_bulk(round_, user, *, with_evidence: bool = False):
    """Record a bulk ZIP request; the job starts once this commits."""
    job = bulk.request(round_, user, with_evidence=with_evidence)
    transaction.on_commit(lambda: build_bulk_zip.delay(job.pk))
    return job


def queue_round_report(round_, user, supervisor=""):
    """Record a 汇总表 / 汇总分析报告 request; the job starts once this commits."""
    job = summary.request(round_, user, supervisor)
    transaction.on_commit(lambda: build_round_report.delay(job.pk))
    return job


def queue_list_rebuild() -> None:
    """After a publish or unpublish commits: rebuild the lists in the background (best effort —
    without them the first request for a list builds them, see `views.public`)."""
    try:
        rebuild_public_lists.apply_async(retry=False)
    except Exception as exc:  # broker down: the next publish rebuilds them
        log.warning("public lists not rebuilt, broker unavailable: %s", exc)


def queue_notification(transition_id: int) -> None:
    """Hand the mail to Celery. A broker outage must not turn a committed transition into an error page."""
    try:
        send_notification.apply_async(args=[transition_id], retry=False)
    except Exception as exc:  # kombu OperationalError, redis ConnectionError, OSError …
        log.warning("notification for transition %s not queued, broker unavailable: %s", transition_id, exc)

