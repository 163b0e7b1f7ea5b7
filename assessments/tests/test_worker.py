"""Exports through a real Redis broker and a real `celery worker` process (PostgreSQL runs only).

The worker is started against pytest's test database, so these tests commit for real
(transaction=True). On SQLite (an in-memory test database no other process can see) they are
skipped; in CI the PostgreSQL run must execute them.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from django.urls import reverse

from assessments import tasks, workflow
from assessments.models import Assessment, ExportJob, FundingRow, Indicator

# Its tests share one Redis database (BROKER_DB): under pytest-xdist they run in one process.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("test_worker")]

ROOT = Path(__file__).resolve().parents[2]
BROKER_DB = 15  # a Redis database of its own, flushed by each test


def require_services():
    if connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database (the worker is another process)")
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")


def dead_port() -> socket.socket:
    """A port of 127.0.0.1 where nothing listens, picked at run time (never a fixed number that
    another process may be using): the returned socket is bound but not listening, so connecting
    is refused and no other process can take the port until the caller closes the socket."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    return held


def start_redis(port: int, tmp_path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG":
            return proc
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"redis-server on port {port} did not start")


def start_worker(broker: str, media: Path, log: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=broker,
        DJANGO_MEDIA_ROOT=str(media),
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-only-not-secret"),
    )
    env.pop("DJANGO_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=1", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def approved_ready(alice, reviewer, department):
    """A small valid department assessment, submitted and in review."""
    FundingRow.objects.filter(assessment=department, source="total").update(budget=100, actual=95)
    Indicator.objects.create(assessment=department, position=1, level1="产出指标", level2="数量指标", name="培训次数",
                             target="≥10次", actual="10次", weight=50)
    Indicator.objects.create(assessment=department, position=2, level1="效益指标", level2="社会效益指标", name="社会稳定",
                             target="有所帮助", actual="有所帮助", weight=30)
    Indicator.objects.create(assessment=department, position=3, level1="满意度指标", level2="服务对象满意度指标",
                             name="群众满意度", target="≥95%", actual="96%", weight=10)
    workflow.perform(alice, department, "submit")
    workflow.perform(reviewer, department, "start_review")


def wait_until_published(pk: int, worker: subprocess.Popen, log: Path, seconds: float = 60) -> Assessment:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        a = Assessment.objects.get(pk=pk)
        if a.state == Assessment.State.PUBLISHED:
            return a
        if worker.poll() is not None:
            pytest.fail(f"worker exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"not published within {seconds} s (job: {ExportJob.objects.filter(assessment_id=pk).values().first()})\n"
                f"{log.read_text()[-3000:]}")


def test_approval_is_exported_by_a_real_worker(client, alice, reviewer, department, media, producer_to, tmp_path):
    require_services()
    broker = f"redis://127.0.0.1:6379/{BROKER_DB}"
    subprocess.run(["redis-cli", "-n", str(BROKER_DB), "flushdb"], check=True, capture_output=True)
    producer_to(broker)
    worker = start_worker(broker, media, tmp_path / "worker.log")
    try:
        approved_ready(alice, reviewer, department)
        workflow.perform(reviewer, department, "approve")
        a = wait_until_published(department.pk, worker, tmp_path / "worker.log")
    finally:
        stop(worker)
    assert ExportJob.objects.get(assessment=a).status == ExportJob.Status.DONE
    response = client.get(reverse("disclosure:xlsx", args=[a.pk]))
    assert response.status_code == 200
    book = openpyxl.load_workbook(__import__("io").BytesIO(b"".join(response.streaming_content)))
    texts = {str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None}
    assert "培训次数" in texts


def test_broker_down_at_approval_then_back(client, alice, reviewer, department, media, producer_to, tmp_path):
    require_services()
    held = dead_port()
    port = held.getsockname()[1]
    broker = f"redis://127.0.0.1:{port}/0"
    producer_to(broker)  # nothing listens there yet
    approved_ready(alice, reviewer, department)

    workflow.perform(reviewer, department, "approve")  # must succeed with the broker down

    department.refresh_from_db()
    assert department.state == Assessment.State.APPROVED
    job = ExportJob.objects.get(assessment=department)
    assert (job.status, job.dispatched_at) == (ExportJob.Status.QUEUED, None)

    held.close()  # the broker comes back on that port
    redis = start_redis(port, tmp_path)
    worker = start_worker(broker, media, tmp_path / "worker.log")
    try:
        assert tasks.dispatch_pending() == 1  # what the periodic task does every minute
        a = wait_until_published(department.pk, worker, tmp_path / "worker.log")
    finally:
        stop(worker)
        stop(redis)
    assert client.get(reverse("disclosure:json", args=[a.pk])).status_code == 200
