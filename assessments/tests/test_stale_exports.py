"""Issue 12, finding 13: an export whose worker died is seen in minutes, not in an hour.

A whole worker killed with SIGKILL leaves its job RUNNING and its message unacknowledged in Redis
until the broker's visibility timeout (one hour) gives it to another worker; meanwhile /healthz said
"ok". Now a running export beats (`ExportJob.heartbeat_at`, every EXPORT_HEARTBEAT_SECONDS); a
RUNNING job whose beat is older than EXPORT_STALE_SECONDS (2 minutes) is reported by /healthz
and sent again by the outbox sweep (every minute under beat).

The last test kills a real worker (PostgreSQL and Redis database 8, like test_resilience.py).
"""

import json
import signal
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from assessments import exporting, tasks, workflow
from assessments.models import Assessment, ExportJob, Publication

from .test_export_jobs import approve, make_project
from .test_resilience import (
    WORKER_OPTIONS,
    group_alive,
    kill_group,
    needs_postgresql_and_redis,
    start_group,
    wait_for,
)
from .test_resilience import worker_env as resilience_worker_env

STALE_BROKER_DB = 8  # a Redis database of its own (test_worker uses 15, test_resilience 12, the benchmark 13 and 14)
# Its tests share that Redis database: under pytest-xdist they run in one process.
pytestmark = pytest.mark.xdist_group("test_stale_exports")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


def left_running(job: ExportJob, *, beat_ago: float, dispatched_ago: float | None = None) -> None:
    """What a worker killed mid-export leaves behind: RUNNING, its last beat `beat_ago` seconds old."""
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, attempts=1, started_at=now - timedelta(seconds=beat_ago),
        heartbeat_at=now - timedelta(seconds=beat_ago),
        dispatched_at=now - timedelta(seconds=dispatched_ago if dispatched_ago is not None else beat_ago + 1),
    )


@pytest.fixture
def approved(alice, reviewer, unit_a, round_2020):
    """An approved project whose export job has not run (its after-commit dispatch was not executed)."""
    a = approve(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"))
    return a, ExportJob.objects.get(assessment=a)


@pytest.mark.django_db
def test_healthz_reports_an_export_whose_worker_died(client, approved):
    _a, job = approved
    left_running(job, beat_ago=150)
    status, body = healthz(client)
    assert status == 200
    assert body == {"database": "ok", "broker": "eager", "oldest_pending_export_seconds": body["oldest_pending_export_seconds"],
                    "stale_running_exports": 1, "status": "degraded"}

    # A long export that still beats is not stale.
    left_running(job, beat_ago=20)
    assert healthz(client) == (200, {"database": "ok", "broker": "eager",
                                     "oldest_pending_export_seconds": body["oldest_pending_export_seconds"],
                                     "stale_running_exports": 0, "status": "ok"})


@pytest.mark.django_db
def test_healthz_reports_a_job_left_running_before_heartbeats_existed(client, approved):
    _a, job = approved
    left_running(job, beat_ago=150)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=None)
    assert healthz(client)[1]["stale_running_exports"] == 1


@pytest.mark.django_db
def test_sweep_sends_a_dead_workers_export_again_within_minutes(approved):
    a, job = approved
    left_running(job, beat_ago=150)  # 2.5 minutes without a beat (the 75-minute rule waited an hour and a quarter)
    assert tasks.dispatch_pending() == 1  # eager here: the export runs now
    job.refresh_from_db()
    a.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (ExportJob.Status.DONE, 2, "")
    assert a.state == Assessment.State.PUBLISHED
    assert Publication.objects.filter(assessment=a).count() == 1


@pytest.mark.django_db
def test_sweep_leaves_a_beating_export_alone_and_does_not_resend_every_minute(approved, monkeypatch):
    _a, job = approved
    sent = []
    monkeypatch.setattr(tasks, "dispatch", lambda pk: sent.append(pk) or True)

    left_running(job, beat_ago=30)  # alive
    assert tasks.dispatch_pending() == 0
    left_running(job, beat_ago=150, dispatched_ago=60)  # stale, but sent again a minute ago: wait for that copy
    assert tasks.dispatch_pending() == 0
    left_running(job, beat_ago=900, dispatched_ago=660)  # that copy found no worker in 11 minutes: send once more
    assert tasks.dispatch_pending() == 1
    assert sent == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_a_running_export_beats(settings, alice, reviewer, unit_a, round_2020, monkeypatch):
    settings.EXPORT_HEARTBEAT_SECONDS = 0.05
    with monkeypatch.context() as patch:
        patch.setattr(tasks, "dispatch", lambda pk: True)  # approve without running the export
        a = approve(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"))
    job = ExportJob.objects.get(assessment=a)
    seen = []
    original = exporting.write_files

    def slow_write_files(pk):
        first = ExportJob.objects.get(pk=job.pk).heartbeat_at
        time.sleep(0.5)
        seen.append((first, ExportJob.objects.get(pk=job.pk).heartbeat_at))
        return original(pk)

    monkeypatch.setattr(exporting, "write_files", slow_write_files)
    threads_before = threading.active_count()
    tasks.run_export(job.pk)
    [(first, later)] = seen
    assert first is not None and later > first  # the beat moved while the export ran
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert threading.active_count() == threads_before  # the heartbeat thread ended with the job


# --- a real worker, killed as a whole ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_whole_worker_killed_the_job_is_seen_and_redone_in_seconds(settings, client, alice, reviewer, department, media,
                                                                   producer_to, tmp_path):
    """Production's one-hour visibility timeout stays; the heartbeat alone brings the job back."""
    needs_postgresql_and_redis()
    import redis

    from .test_worker import approved_ready

    settings.EXPORT_STALE_SECONDS = 4
    broker = f"redis://127.0.0.1:6379/{STALE_BROKER_DB}"
    broker_client = redis.Redis.from_url(broker)
    broker_client.flushdb()
    producer_to(broker)
    log = tmp_path / "worker.log"
    marker = tmp_path / "export-started"

    def worker_env(**extra):
        env = resilience_worker_env(broker, media, PORTAL_EXPORT_HEARTBEAT_SECONDS="1", PORTAL_EXPORT_STALE_SECONDS="4",
                                    **extra)
        env.pop("CELERY_VISIBILITY_TIMEOUT")  # the production default: one hour
        return env

    slow = start_group([sys.executable, "-m", "assessments.tests.slow_export_worker", *WORKER_OPTIONS],
                       worker_env(PORTAL_TEST_EXPORT_DELAY="120", PORTAL_TEST_EXPORT_MARKER=str(marker)), log)
    normal = None
    try:
        approved_ready(alice, reviewer, department)
        workflow.perform(reviewer, department, "approve")
        wait_for(lambda: marker.exists() and ExportJob.objects.filter(assessment=department,
                                                                       status=ExportJob.Status.RUNNING).exists(),
                 30, "the export to be running", log)
        time.sleep(1.5)  # at least one beat
        job = ExportJob.objects.get(assessment=department)
        assert job.heartbeat_at > job.started_at
        assert healthz(client)[1]["status"] == "ok"

        kill_group(slow, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: not group_alive(slow.pid), 5, "the worker's processes to end", log)
        assert broker_client.hlen("unacked") == 1  # Redis would give the message back only after an hour

        status, body = wait_for(lambda: (lambda r: r if r[1]["status"] == "degraded" else None)(healthz(client)),
                                15, "/healthz to report the dead export", log)
        assert (status, body["stale_running_exports"]) == (200, 1)
        assert time.monotonic() - killed < 10

        normal = start_group([sys.executable, "-m", "celery", "-A", "portal", "worker", *WORKER_OPTIONS], worker_env(), log)
        assert tasks.dispatch_pending() == 1  # what beat runs every minute
        wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.DONE, 40,
                 "the export to be redone by the new worker", log)
        assert time.monotonic() - killed < 60
    finally:
        if normal is not None:
            kill_group(normal, signal.SIGTERM)
        if slow.poll() is None:
            kill_group(slow, signal.SIGKILL)
        broker_client.flushdb()

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (ExportJob.Status.DONE, 2, "")
    assert Assessment.objects.get(pk=department.pk).state == Assessment.State.PUBLISHED
    assert healthz(client)[1]["stale_running_exports"] == 0
