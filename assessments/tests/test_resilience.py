"""No lost data (issue 5): /healthz, the broker down, SQLite writers, a worker killed with SIGKILL
in the middle of an export, backup and restore.

The worker and backup tests need the PostgreSQL test database (other processes must see it) and
Redis; they are skipped on SQLite and fail instead of skipping when CI is set and a service is
missing.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from assessments import exporting, tasks, workflow
from assessments.models import Assessment, ExportJob, FundingRow, Indicator, Publication, Transition
from assessments.tests.test_worker import approved_ready, dead_port

ROOT = Path(__file__).resolve().parents[2]
KILL_BROKER_DB = 12  # a Redis database of its own (test_worker uses 15, the benchmark 13 and 14)
# Its tests share that Redis database: under pytest-xdist they run in one process.
pytestmark = pytest.mark.xdist_group("test_resilience")
RESTORE_DB = "portal_restore_test"


def healthz(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def needs_postgresql_and_redis():
    if connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database (other processes must see it)")
    missing = [tool for tool in ("redis-cli", "pg_dump", "pg_restore", "psql") if shutil.which(tool) is None]
    reachable = not missing and subprocess.run(["redis-cli", "ping"], capture_output=True, text=True).stdout.strip() == "PONG"
    if missing or not reachable:
        message = f"missing tools {missing}" if missing else "Redis does not answer on 127.0.0.1:6379"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so this test must not be skipped")
        pytest.skip(message)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def media_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


# --- /healthz -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_embedded_mode(client):
    status, body = healthz(client)
    assert status == 200
    assert body == {"database": "ok", "broker": "eager", "oldest_pending_export_seconds": None, "stale_running_exports": 0,
                    "status": "ok"}


@pytest.mark.django_db
def test_healthz_reports_the_oldest_pending_export(client, department):
    old = ExportJob.objects.create(assessment=department)
    ExportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(seconds=125))
    status, body = healthz(client)
    assert status == 200
    assert 125 <= body["oldest_pending_export_seconds"] <= 130
    ExportJob.objects.filter(pk=old.pk).update(status=ExportJob.Status.DONE)
    assert healthz(client)[1]["oldest_pending_export_seconds"] is None


@pytest.mark.django_db
def test_healthz_database_down_is_503(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused (test)")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", refuse)
        status, body = healthz(client)
    assert status == 503
    assert body == {"database": "error", "broker": "eager", "oldest_pending_export_seconds": None,
                    "stale_running_exports": None, "status": "degraded"}


@pytest.fixture
def dead_broker():
    """A Redis URL on a port where nothing listens, picked at run time and held for the test."""
    held = dead_port()
    yield f"redis://127.0.0.1:{held.getsockname()[1]}/0"
    held.close()


@pytest.mark.django_db
def test_broker_down_the_site_keeps_working(client, alice, reviewer, department, media_dir, producer_to,
                                            django_capture_on_commit_callbacks, dead_broker):
    producer_to(dead_broker)
    t0 = time.monotonic()
    status, body = healthz(client)
    assert time.monotonic() - t0 < 2  # a short timeout, never the default retries
    assert (status, body) == (200, {"database": "ok", "broker": "unreachable", "oldest_pending_export_seconds": None,
                                    "stale_running_exports": 0, "status": "degraded"})

    # Pages are served.
    client.force_login(alice)
    assert client.get(reverse("assessments:list")).status_code == 200
    assert client.get(reverse("assessments:edit", args=[department.pk])).status_code == 200
    client.logout()
    assert client.get(reverse("disclosure:list")).status_code == 200

    # Submit (through the page) and approve (through the workflow) succeed.
    FundingRow.objects.filter(assessment=department, source="total").update(budget=100, actual=95)
    for n, (l1, l2, name, target, actual, weight) in enumerate([
        ("产出指标", "数量指标", "培训次数", "≥10次", "10次", 50),
        ("效益指标", "社会效益指标", "社会稳定", "有所帮助", "有所帮助", 30),
        ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", 10),
    ], start=1):
        Indicator.objects.create(assessment=department, position=n, level1=l1, level2=l2, name=name, target=target,
                                 actual=actual, weight=weight)
    client.force_login(alice)
    response = client.post(reverse("assessments:submit", args=[department.pk]))
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    client.force_login(reviewer)
    assert client.get(reverse("assessments:dashboard")).status_code == 200
    workflow.perform(reviewer, department, "start_review")
    department.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, department, "approve")  # the dispatch is tried after commit, fails, is logged

    department.refresh_from_db()
    assert department.state == Assessment.State.APPROVED
    job = ExportJob.objects.get(assessment=department)
    assert (job.status, job.dispatched_at, job.attempts) == (ExportJob.Status.QUEUED, None, 0)
    assert tasks.dispatch_pending() == 0  # still down: stays queued for the next sweep

    status, body = healthz(client)
    assert status == 200
    assert (body["database"], body["broker"], body["status"]) == ("ok", "unreachable", "degraded")
    assert isinstance(body["oldest_pending_export_seconds"], int) and body["oldest_pending_export_seconds"] >= 0
    assert Transition.objects.filter(assessment=department).values_list("action", flat=True).count() == 3


@pytest.mark.django_db
def test_healthz_broker_ok(client, producer_to):
    needs_postgresql_and_redis()
    producer_to(f"redis://127.0.0.1:6379/{KILL_BROKER_DB}")
    assert healthz(client) == (200, {"database": "ok", "broker": "ok", "oldest_pending_export_seconds": None,
                                     "stale_running_exports": 0, "status": "ok"})


# --- SQLite: concurrent writers ----------------------------------------------------------------------


def test_sqlite_ten_concurrent_writers_lose_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/writers.sqlite3", DJANGO_SECRET_KEY="test-only-not-secret",
               DJANGO_MEDIA_ROOT=str(tmp_path / "media"), DJANGO_LOG_LEVEL="WARNING")
    result = subprocess.run([sys.executable, "-m", "assessments.tests.sqlite_writers", "10", "50"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == [] and outcome["error_count"] == 0
    assert outcome["journal_mode"] == "wal"
    assert outcome["conflicts"] == 0  # IMMEDIATE transactions: the read and the write hold one lock
    assert outcome["version_increase"] == 500  # no lost update
    assert outcome["goals_per_writer"] == {f"writer-{n}": 50 for n in range(10)}
    assert outcome["goals_total"] == 500


# --- Celery: a worker killed with SIGKILL in the middle of an export -----------------------------------


def worker_env(broker: str, media_root: Path, **extra) -> dict:
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=broker,
        DJANGO_MEDIA_ROOT=str(media_root),
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-only-not-secret"),
        CELERY_VISIBILITY_TIMEOUT="5",
        **extra,
    )
    env.pop("DJANGO_DEBUG", None)
    return env


WORKER_OPTIONS = ["--pool=prefork", "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
                  "--loglevel=INFO"]


def start_group(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process in a session (and so a process group) of its own: its pool children can be killed with it."""
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def group_alive(pgid: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(entry.name))
    return alive


def wait_for(predicate, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_export_completes_after_restart(alice, reviewer, department, media_dir, producer_to, tmp_path):
    needs_postgresql_and_redis()
    import redis

    broker = f"redis://127.0.0.1:6379/{KILL_BROKER_DB}"
    broker_client = redis.Redis.from_url(broker)
    broker_client.flushdb()
    producer_to(broker)
    log = tmp_path / "worker.log"
    marker = tmp_path / "export-started"
    started = time.monotonic()

    slow = start_group([sys.executable, "-m", "assessments.tests.slow_export_worker", *WORKER_OPTIONS],
                       worker_env(broker, media_dir, PORTAL_TEST_EXPORT_DELAY="120", PORTAL_TEST_EXPORT_MARKER=str(marker)),
                       log)
    normal = None
    try:
        approved_ready(alice, reviewer, department)
        workflow.perform(reviewer, department, "approve")  # commits; the job is dispatched on commit

        wait_for(lambda: marker.exists() and ExportJob.objects.filter(assessment=department,
                                                                       status=ExportJob.Status.RUNNING).exists(),
                 30, "the export to be running", log)
        assert len(group_alive(slow.pid)) == 2  # the worker and its one pool process
        kill_group(slow, signal.SIGKILL)
        # The pool child dies asynchronously once its parent is reaped: give the kernel a moment.
        deadline = time.monotonic() + 5
        while group_alive(slow.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_alive(slow.pid) == []

        # Killed mid-export: nothing published, the job left RUNNING, the message unacknowledged.
        job = ExportJob.objects.get(assessment=department)
        assert (job.status, job.attempts) == (ExportJob.Status.RUNNING, 1)
        assert Assessment.objects.get(pk=department.pk).state == Assessment.State.APPROVED
        assert not Publication.objects.filter(assessment=department).exists()
        assert broker_client.hlen("unacked") == 1
        # Still queued: only the e-mail to the officer (the approve's notice), which the one busy
        # pool process had not taken; the export is the unacknowledged message.
        queued = [json.loads(m)["headers"]["task"] for m in broker_client.lrange("celery", 0, -1)]
        assert queued == ["assessments.tasks.send_notification"]

        normal = start_group([sys.executable, "-m", "celery", "-A", "portal", "worker", *WORKER_OPTIONS],
                             worker_env(broker, media_dir), log)
        # The visibility timeout (5 s here, 1 hour in production) returns the message to the queue.
        wait_for(lambda: Assessment.objects.get(pk=department.pk).state == Assessment.State.PUBLISHED,
                 40, "the export to complete after the restart", log)
        wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.DONE, 10, "the job to be done", log)

        # The publish also queued the rebuild of the whole-portal lists: the worker writes them.
        def lists_written():
            exporting.forget_public_cache_generation()  # what the worker set, not this process's copy
            return exporting.list_file("json") is not None and exporting.list_file("csv") is not None

        wait_for(lists_written, 20, "the public lists to be written", log)
    finally:
        if normal is not None:
            kill_group(normal, signal.SIGTERM)
        if slow.poll() is None:
            kill_group(slow, signal.SIGKILL)
        broker_client.flushdb()

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (ExportJob.Status.DONE, 2, "")
    assert ExportJob.objects.filter(assessment=department).count() == 1
    publication = Publication.objects.get(assessment=department)  # exactly one
    assert list(Transition.objects.filter(assessment=department).values_list("action", flat=True).order_by("id")) == [
        "submit", "start_review", "approve", "publish"]
    # Through the storage API: the media folder, or (S3 run) this test's bucket prefix.
    from django.core.files.storage import default_storage

    stored = storage_digests(default_storage)
    folder = f"disclosure/{department.pk}"
    # The worker makes the print copies as production does (DISCLOSURE_PRINT_COPIES is on outside
    # this test process); no .tmp- leftovers.
    assert sorted(name for name in stored if name.startswith(folder + "/")) == [
        f"{folder}/assessment-{department.pk}.{ext}" for ext in ("docx", "json", "pdf", "xlsx")]
    assert stored[f"{folder}/assessment-{department.pk}.json"] == publication.json_sha256
    assert stored[f"{folder}/assessment-{department.pk}.xlsx"] == publication.xlsx_sha256
    # Besides the report's files only the whole-portal lists of the current generation.
    others = sorted(name for name in stored if not name.startswith(folder + "/"))
    generation = exporting.public_cache_generation()
    assert others == [f"disclosure/lists/{generation}.csv", f"disclosure/lists/{generation}.json"]
    assert broker_client.hlen("unacked") == 0
    assert time.monotonic() - started < 60


# --- Backup and restore ---------------------------------------------------------------------------------


def admin_dsn(dbname: str) -> str:
    db = connection.settings_dict
    return f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} password={db['PASSWORD']} dbname={dbname}"


def drop_database(name: str) -> None:
    """Drop `name`, whoever is connected. An autovacuum worker started on a database just restored is
    not ours to terminate (WITH (FORCE) refuses: InsufficientPrivilege, seen once in CI); a plain DROP
    cancels such a worker itself, and is tried again while the database is still in use."""
    import time

    import psycopg

    with psycopg.connect(admin_dsn("postgres"), autocommit=True) as conn:
        for _ in range(40):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.InsufficientPrivilege:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    return
                except psycopg.errors.ObjectInUse:
                    time.sleep(0.25)
        raise AssertionError(f"database {name} could not be dropped")


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(admin_dsn("postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def table_contents(dbname: str) -> dict[str, list[tuple]]:
    """Every row of every table of the public schema, in a stable order; and every sequence's position."""
    import psycopg

    out = {}
    with psycopg.connect(admin_dsn(dbname)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
            "ORDER BY table_name")]
        for table in tables:
            rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            out[table] = sorted(rows, key=repr)
        out["(sequences)"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return out


def media_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def run_script(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def storage_digests(storage, folder: str = "") -> dict[str, str]:
    """sha256 of every file in a storage (local folder or bucket prefix), by name, through its API."""
    out = {}
    folders, files = storage.listdir(folder)
    for name in files:
        path = f"{folder}/{name}" if folder else name
        with storage.open(path, "rb") as handle:
            out[path] = hashlib.sha256(handle.read()).hexdigest()
    for sub in folders:
        out.update(storage_digests(storage, f"{folder}/{sub}" if folder else sub))
    return out


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_into_a_fresh_database(settings, tmp_path):
    """The database and every stored file: the media folder, or (S3 run) the bucket's prefix,
    restored into a new database and a new folder or bucket prefix, 佐证材料 and 盖章版 included."""
    needs_postgresql_and_redis()
    from django.core.files.storage import default_storage

    from assessments.models import Evidence, SealedCopy
    from portal import storage as portal_storage

    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", force=True, stdout=open(os.devnull, "w"))  # commits: the exports run on commit
    assert Assessment.objects.filter(state=Assessment.State.PUBLISHED).count() >= 2
    published = Assessment.objects.filter(state=Assessment.State.PUBLISHED).first()
    for name, model in ((f"evidence/{published.pk}/backup.pdf", Evidence), (f"sealed/{published.pk}/backup.pdf", SealedCopy)):
        data = b"%PDF-1.4\n%" + name.encode() + b"\n%%EOF\n"
        portal_storage.put(name, data)
        extra = {"title": "签到表", "content_type": "application/pdf"} if model is Evidence else {}
        model.objects.create(assessment=published, file=name, original_name="a.pdf", size=len(data),
                             sha256=hashlib.sha256(data).hexdigest(), **extra)

    in_s3 = bool(settings.STORAGE_S3_BUCKET)
    source_media = Path(settings.MEDIA_ROOT)
    source_files = storage_digests(default_storage)
    assert f"evidence/{published.pk}/backup.pdf" in source_files and f"sealed/{published.pk}/backup.pdf" in source_files
    backup_dir, restored_media = tmp_path / "backup", tmp_path / "restored-media"
    if in_s3:  # the backup reads the bucket under this test's prefix (STORAGE_S3_PREFIX, set by conftest)
        restored_prefix = os.environ["STORAGE_S3_PREFIX"] + "-restored"
        restored_target = f"s3://{settings.STORAGE_S3_BUCKET}/{restored_prefix}"
    else:
        restored_target = str(restored_media)
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_MEDIA_ROOT=str(source_media))
    drop_database(RESTORE_DB)
    try:
        result = run_script("scripts/backup", str(backup_dir), env=env)
        assert result.returncode == 0, result.stderr
        manifest = json.loads((backup_dir / "manifest.json").read_text())
        assert sorted(os.listdir(backup_dir)) == ["SHA256SUMS", "database.dump", "manifest.json", "media.tar.gz"]
        assert manifest["database"]["name"] == connection.settings_dict["NAME"]
        for name, meta in manifest["files"].items():
            assert hashlib.sha256((backup_dir / name).read_bytes()).hexdigest() == meta["sha256"]
        assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=backup_dir, capture_output=True).returncode == 0
        assert (backup_dir / "database.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump custom format

        target_url = database_url().rsplit("/", 1)[0] + f"/{RESTORE_DB}"
        result = run_script("scripts/restore", str(backup_dir), target_url, restored_target, env=env)
        assert result.returncode == 0, result.stderr
        assert manifest["media_source"] == ({"kind": "s3", "bucket": settings.STORAGE_S3_BUCKET,
                                             "prefix": os.environ["STORAGE_S3_PREFIX"],
                                             "endpoint": os.environ["STORAGE_S3_ENDPOINT_URL"]} if in_s3
                                            else {"kind": "local", "root": str(source_media)})

        source, restored = table_contents(connection.settings_dict["NAME"]), table_contents(RESTORE_DB)
        assert set(source) == set(restored)
        for table in ("assessments_assessment", "assessments_snapshot", "assessments_transition"):
            assert len(source[table]) > 0, table
        audit_tables = [t for t in source if "audit" in t]
        for table in sorted(source):
            assert restored[table] == source[table], table  # identical content, row by row
        if in_s3:
            options = {**settings.STORAGES["default"]["OPTIONS"], "location": restored_prefix}
            restored_files = storage_digests(portal_storage.PrivateS3Storage(**options))
            assert not source_media.exists() or media_digests(source_media) == {}  # nothing on this machine's disk
        else:
            restored_files = media_digests(restored_media)
        assert restored_files == source_files  # the same files, byte for byte
        assert len(source_files) == manifest["media_files"] >= 6
        print(f"compared {len(source)} tables ({sum(len(v) for v in source.values())} rows; audit: {audit_tables})")

        # A restore never overwrites: the database exists now.
        again = run_script("scripts/restore", str(backup_dir), target_url, str(tmp_path / "other-media"))
        assert again.returncode == 1
        assert f"database '{RESTORE_DB}' already exists" in again.stderr
        # …nor into files that exist.
        drop_database(RESTORE_DB)
        full = run_script("scripts/restore", str(backup_dir), target_url, restored_target, env=env)
        assert full.returncode == 1
        assert f"{restored_target} is not empty" in full.stderr
        assert not database_exists(RESTORE_DB)

        # A damaged backup is refused before anything is created.
        damaged = tmp_path / "damaged"
        shutil.copytree(backup_dir, damaged)
        with (damaged / "media.tar.gz").open("r+b") as handle:
            handle.seek(100)
            handle.write(b"\0" * 16)
        drop_database(RESTORE_DB)
        bad = run_script("scripts/restore", str(damaged), target_url, str(tmp_path / "other-media"))
        assert bad.returncode == 1
        assert "sha256 does not match the manifest" in bad.stderr
        assert not database_exists(RESTORE_DB)
    finally:
        drop_database(RESTORE_DB)
