"""Disclosure export: the outbox rows of export jobs and the files they write.

Approval writes an `ExportJob` in its own transaction (`create_job`); `tasks` sends it to Celery
after commit, runs it (files, then `workflow.publish`) and sweeps what the broker lost. This module
knows neither the workflow nor Celery: it writes files atomically, records them, and keeps the
public cache generation and the whole-portal list files.

While a job runs it beats (`heartbeat_at`, from a thread of the worker). A worker killed as a whole
(SIGKILL, the OOM killer) leaves its job RUNNING and its message unacknowledged until the broker's
visibility timeout (an hour); a job whose beat is older than EXPORT_STALE_SECONDS is reported by
/healthz and sent again by `tasks.dispatch_pending()` within minutes. Running a job twice is safe.
"""

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from portal import storage

from . import audit, generations, publishing
from .exports import lists, public
from .models import Assessment, ExportJob, Publication, PublicGeneration, PublishedVersion
from .readmodel import load_content

log = logging.getLogger(__name__)

REDISPATCH_AFTER = timedelta(minutes=10)



class ExportRefused(Exception):
    """The assessment must not be exported publicly (涉密, or not approved)."""


def create_job(assessment: Assessment, user=None) -> ExportJob | None:
    """The outbox row of an export (inside the caller's transaction); None for a 涉密 project and
    for one the bureau marked 依申请公开 or 不予公开 (it stays approved, not published).
    Sending it to the worker after commit is `tasks.queue_export`'s business."""
    if assessment.confidential or assessment.disclosure != Assessment.Disclosure.ACTIVE:
        return None
    job, _ = ExportJob.objects.get_or_create(
        assessment=assessment,
        status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING],
        defaults={"requested_by": user, "status": ExportJob.Status.QUEUED},
    )
    return job


def stale_running(now=None):
    """RUNNING jobs whose worker stopped beating: it died with them (their message waits in the broker
    for its visibility timeout). A job from before heartbeats existed counts from its start."""
    now = now or timezone.now()
    silent_since = now - timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    return ExportJob.objects.filter(
        Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at__isnull=True, started_at__lt=silent_since),
        status=ExportJob.Status.RUNNING,
    )


@contextmanager
def heartbeat(job_id: int):
    """Beat for a running job from a thread of its own (the export itself blocks)."""
    every = settings.EXPORT_HEARTBEAT_SECONDS
    done = threading.Event()

    def beat():
        try:
            while not done.wait(every):
                ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception as exc:  # a missed beat makes the job look stale: it is then run again, which is safe
            log.warning("export job %s: heartbeat failed: %s", job_id, exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"export-heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def record_failure(job_id: int, error: BaseException, *, final: bool) -> None:
    """Make a failure visible: the error text on the job, and FAILED when no retry is left."""
    status = ExportJob.Status.FAILED if final else ExportJob.Status.QUEUED
    changes = {"status": status, "error": f"{type(error).__name__}: {error}"[:2000]}
    if final:
        changes["finished_at"] = timezone.now()
    else:
        # The retry is already scheduled: the sweep must not send a second copy.
        changes["dispatched_at"] = timezone.now()
    with transaction.atomic():
        ExportJob.objects.filter(pk=job_id).update(**changes)
        job = ExportJob.objects.filter(pk=job_id).select_related("assessment").first()
        audit.record(
            "export.failed", outcome=audit.Outcome.FAILED, system=True,
            unit=job.assessment.unit_id if job else None, object_type="assessment",
            object_id=job.assessment_id if job else "",
            details={"job": job_id, "final": final, "error": type(error).__name__},  # the text may hold a URL
        )


def write_files(assessment_id: int) -> Publication:
    """Build the JSON, xlsx, PDF and Word files from one public read model and store them atomically.

    The 索引号 is given first (committed on its own, `publishing.assign_index_number`); the version
    is the latest again when the approved snapshot is the one it published, else the next, with
    its correction note (`publishing.plan_version`)."""
    loaded = load_content(assessment_id)
    if loaded.confidential:
        raise ExportRefused("涉密项目不公开、不导出。")
    if loaded.disclosure != Assessment.Disclosure.ACTIVE:
        raise ExportRefused(f"公开属性为“{loaded.get_disclosure_display()}”的自评不主动公开。")
    if loaded.state not in (Assessment.State.APPROVED, Assessment.State.PUBLISHED):
        raise ExportRefused(f"状态为“{loaded.get_state_display()}”的自评不能公开。")
    from .exports import docx, pdf, xlsx  # only needed where exports run, not in every web process

    now = timezone.now()
    # The publication date is fixed by the first export that succeeds, so re-runs yield the same documents.
    loaded.published_at = loaded.published_at or now
    publishing.assign_index_number(loaded)
    snapshot_sha256 = publishing.snapshot_hash(loaded)
    plan = publishing.plan_version(loaded, snapshot_sha256, now)
    meta = publishing.metadata(
        loaded, Publication(version=plan.number, version_published_at=plan.published_at, snapshot_sha256=snapshot_sha256)
    )
    report = public.build_public(loaded, meta=meta)
    if plan.new and plan.previous is not None:
        changes = publishing.correction_note(plan.previous.document, report.to_json(), report.view.table)
        report.correction = {"reason": plan.reason, "changes": changes}
    elif not plan.new and plan.number > 1:
        stored = PublishedVersion.objects.get(assessment_id=assessment_id, number=plan.number)
        report.correction = {"reason": stored.correction_reason, "changes": stored.correction}
    document = report.to_json()
    json_bytes = json_document(report)
    xlsx_bytes = xlsx.to_bytes(report)
    data = {"json": json_bytes, "xlsx": xlsx_bytes}
    if settings.DISCLOSURE_PRINT_COPIES:
        data.update(pdf=pdf.to_bytes(report), docx=docx.to_bytes(report))
    folder = f"disclosure/{assessment_id}"
    names = {fmt: f"{folder}/assessment-{assessment_id}.{fmt}" for fmt in data}
    for fmt, name in names.items():
        _atomic_write(name, data[fmt])
    for fmt in ("pdf", "docx"):
        if fmt not in data:  # copies switched off: none is served rather than an older version's
            names[fmt] = ""
            data[fmt] = b""
    # One INSERT … ON CONFLICT (assessment) DO UPDATE: a re-run replaces the record in one statement.
    publication = Publication(
        assessment_id=assessment_id,
        **names,
        **{f"{fmt}_sha256": hashlib.sha256(data[fmt]).hexdigest() if names[fmt] else "" for fmt in names},
        search_text=report.search_text(),
        generated_at=timezone.now(),
        version=plan.number,
        version_published_at=plan.published_at,
        snapshot_sha256=snapshot_sha256,
    )
    with transaction.atomic():
        Assessment.objects.filter(pk=assessment_id, published_at__isnull=True).update(published_at=loaded.published_at)
        Publication.objects.bulk_create(
            [publication], update_conflicts=True, unique_fields=["assessment"],
            update_fields=[*names, *(f"{fmt}_sha256" for fmt in names), "search_text", "generated_at",
                           "version", "version_published_at", "snapshot_sha256"],
        )
        publishing.record_version(loaded, plan, document, snapshot_sha256, report.correction)
    return publication


def json_document(report) -> bytes:
    return (json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _atomic_write(name: str, data: bytes) -> None:
    """Store `data` under `name` through the storage API: readers see the old file or the new one,
    never half of one (a rename on the local disk, a single PUT on S3)."""
    storage.put(name, data)


# The generation is re-read from the database at most once a second per process, so a cached
# public page costs no query; every process sees a publish or unpublish within that second
# (never a copy older than GENERATION_READ_EVERY), whatever cache the process has.
GENERATION_READ_EVERY = 1.0
_generation = {"value": None, "read_at": 0.0}


def bump_public_cache() -> None:
    """Invalidate every cached public page (publish and unpublish change what anyone may see).

    Call it inside the transaction that makes the change: the new generation commits with it.
    A new generation is a fresh nanosecond stamp, not a counter: a database restored from a
    backup could otherwise bring back a number under which pages and list files were kept.
    """
    generations.renew(PublicGeneration)
    forget_public_cache_generation()  # this connection sees the new value at once
    transaction.on_commit(forget_public_cache_generation)  # and so does every thread once it commits


def public_cache_generation() -> int:
    now = time.monotonic()
    if _generation["value"] is None or now - _generation["read_at"] >= GENERATION_READ_EVERY:
        _generation.update(value=generations.read(PublicGeneration), read_at=now)
    return _generation["value"]


LISTS_DIR = "disclosure/lists"
LISTS_LOCK_KEY = 0x5052544C  # "PRTL": the PostgreSQL advisory lock of the list build


def list_file(fmt: str) -> str | None:
    """The stored name of the whole portal's ``disclosure.<fmt>`` written for the current publish
    generation, if it exists."""
    name = f"{LISTS_DIR}/{public_cache_generation()}.{fmt}"
    return name if default_storage.exists(name) else None


@contextmanager
def lists_lock(*, wait: bool = True):
    """Held by one list build at a time, on every machine: a PostgreSQL advisory lock (on its own
    connection's session) when the files are shared (S3) and the database is PostgreSQL; otherwise
    an flock on the lists' local folder. Yields whether it was taken (always, with ``wait``)."""
    if connection.vendor == "postgresql" and not storage.is_local():
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [LISTS_LOCK_KEY])
                taken = True
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LISTS_LOCK_KEY])
                taken = bool(cursor.fetchone()[0])
        try:
            yield taken
        finally:
            if taken:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [LISTS_LOCK_KEY])
        return
    folder = Path(settings.MEDIA_ROOT) / LISTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lock = os.open(folder, os.O_RDONLY)  # the folder itself is the lock: no lock file among the lists
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)


def write_lists(*, wait: bool = True) -> bool:
    """Write the whole portal's disclosure.json and disclosure.csv for the current generation.

    One process at a time builds them (`lists_lock`, on every machine): with ``wait=False`` a
    caller that finds another build running returns False at once instead of building the same
    files. The generation is read before the reports: a publish or unpublish committed meanwhile
    gives a new generation, under which these files are never served (they may list a withdrawn
    report). Files of older generations are removed.
    """
    with lists_lock(wait=wait) as taken:
        if not taken:
            return False
        forget_public_cache_generation()
        generation = public_cache_generation()
        if not (list_file("json") and list_file("csv")):
            reports = list(lists.listed())
            _atomic_write(f"{LISTS_DIR}/{generation}.json", lists.json_bytes(reports))
            _atomic_write(f"{LISTS_DIR}/{generation}.csv", lists.csv_bytes(reports))
        try:
            _folders, names = default_storage.listdir(LISTS_DIR)
        except FileNotFoundError:
            names = []
        for old in names:
            if old.split(".")[0] != str(generation) and not old.startswith(".tmp-"):
                default_storage.delete(f"{LISTS_DIR}/{old}")
    return True


def forget_public_cache_generation() -> None:
    """Re-read the generation on next use (tests empty the shared cache between cases)."""
    _generation.update(value=None, read_at=0.0)
