"""N exports through Redis with a real `celery -A portal worker --concurrency=2` (prefork).

The worker is a subprocess in its own session, pointed at portal_bench, broker Redis db 14;
it is stopped by its PID (SIGTERM to its process group, SIGKILL after a grace period) in a
finally block. The exports are of published assessments (re-exporting a published report
rewrites its files and leaves its state alone), so the run changes nothing the page
measurements read. Wall time runs from the first dispatch to the last job's finished_at.
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from django.db.models import Max

from assessments import exporting, tasks
from assessments.models import Assessment, ExportJob

from . import config


def pick(n: int) -> list[int]:
    """n published, non-confidential assessments spread over the rounds (deterministic)."""
    ids = list(
        Assessment.objects.filter(state=Assessment.State.PUBLISHED, confidential=False).order_by("id").values_list("pk", flat=True)
    )
    if len(ids) < n:
        ids = (ids * (n // max(1, len(ids)) + 1))[:n] if ids else []
        return sorted(set(ids))
    step = len(ids) / n
    return [ids[int(i * step)] for i in range(n)]


def single_export_times(ids: list[int], sample: int) -> list[float]:
    """In-process `exporting.write_files` of a sample of the same assessments (the ideal's unit)."""
    chosen = ids[:: max(1, len(ids) // sample)][:sample]
    exporting.write_files(chosen[-1])  # warm-up, untimed: imports, openpyxl's first workbook, caches
    times = []
    for pk in chosen:
        t0 = time.perf_counter()
        exporting.write_files(pk)
        times.append(time.perf_counter() - t0)
    return times


def start_worker(log_path, concurrency: int = 2) -> subprocess.Popen:
    env = dict(os.environ, **config.environment())
    env.pop("DJANGO_DEBUG", None)
    env["DATABASE_CONN_MAX_AGE"] = "600"  # as in docker-compose.yml: one connection per worker process
    log = open(log_path, "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--concurrency={concurrency}", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel=INFO", "-n", f"bench{concurrency}@%h"],
        cwd=config.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_ready(proc: subprocess.Popen, log_path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}: see {log_path}")
        if b" ready." in log_path.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after {timeout:.0f} s: see {log_path}")


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the worker's own session: its main process and its 2 children
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def cpu_seconds(name: str | None = None, pids: list[int] | None = None) -> float:
    """User + system CPU of the processes called `name` (or of `pids`), including their waited-for
    children (a PostgreSQL backend that exits is counted in the postmaster's cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in (pids if pids is not None else os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode()
        except (OSError, ValueError):
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if name is not None and comm != name:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def worker_children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def _jobs(ids: list[int]) -> list[int]:
    ExportJob.objects.filter(assessment_id__in=ids, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]).update(
        status=ExportJob.Status.FAILED, error="superseded by the benchmark")
    return [j.pk for j in ExportJob.objects.bulk_create([ExportJob(assessment_id=pk) for pk in ids], batch_size=1000)]


def _through_worker(job_ids: list[int], concurrency: int, budget: float, log=print) -> dict:
    """Dispatch the jobs to a fresh worker of `concurrency` processes; wall time to the last finished_at."""
    n = len(job_ids)
    log_path = config.WORK_DIR / f"celery-worker-c{concurrency}.log"
    proc = start_worker(log_path, concurrency)
    out: dict = {"exports": n, "concurrency": concurrency, "worker_pid": proc.pid}
    try:
        wait_ready(proc, log_path)
        out["worker_children"] = worker_children(proc.pid)
        log(f"  worker {proc.pid} ready (children {out['worker_children']}); dispatching {n} exports …")
        pg_cpu0, worker_cpu0 = cpu_seconds("postgres"), cpu_seconds(pids=[proc.pid, *out["worker_children"]])
        redis_cpu0 = cpu_seconds("redis-server")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        for job_id in job_ids:
            if not tasks.dispatch(job_id):
                raise RuntimeError("broker unavailable")
        out["dispatch_s"] = round(time.perf_counter() - t0, 3)
        deadline = time.monotonic() + budget
        done = 0
        while time.monotonic() < deadline:
            done = ExportJob.objects.filter(pk__in=job_ids, status__in=[ExportJob.Status.DONE, ExportJob.Status.FAILED]).count()
            if done == n:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}: see {log_path}")
            time.sleep(0.25)
        out["wall_polled_s"] = round(time.perf_counter() - t0, 3)
        # Where the two cores went: the worker's processes, PostgreSQL and Redis (same machine).
        out["cpu_s"] = {
            "worker": round(cpu_seconds(pids=[proc.pid, *out["worker_children"]]) - worker_cpu0, 2),
            "postgres": round(cpu_seconds("postgres") - pg_cpu0, 2),
            "redis": round(cpu_seconds("redis-server") - redis_cpu0, 2),
        }
        if done < n:
            raise RuntimeError(f"only {done}/{n} exports finished within {budget:.0f} s")
        out["failed"] = ExportJob.objects.filter(pk__in=job_ids, status=ExportJob.Status.FAILED).count()
        last = ExportJob.objects.filter(pk__in=job_ids).aggregate(m=Max("finished_at"))["m"]
        out["wall_s"] = round((last - started).total_seconds(), 3)
        task_times = [
            (j.finished_at - j.started_at).total_seconds()
            for j in ExportJob.objects.filter(pk__in=job_ids).only("started_at", "finished_at")
            if j.started_at and j.finished_at
        ]
        out["task_mean_ms"] = round(statistics.fmean(task_times) * 1000, 2) if task_times else None
        out["task_median_ms"] = round(statistics.median(task_times) * 1000, 2) if task_times else None
        celery_times = [float(m) for m in re.findall(rb"succeeded in ([0-9.]+)s", log_path.read_bytes())]
        out["celery_task_mean_ms"] = round(statistics.fmean(celery_times) * 1000, 2) if celery_times else None
    finally:
        stop_worker(proc)
    return out


def single_job_times(ids: list[int], sample: int) -> list[float]:
    """In-process `tasks.run_export` of fresh jobs: the export plus the job's own bookkeeping
    (status updates, audit row), as the worker runs it but without Celery."""
    chosen = ids[:: max(1, len(ids) // sample)][:sample]
    times = []
    for job_id in _jobs(chosen):
        t0 = time.perf_counter()
        tasks.run_export(job_id)
        times.append(time.perf_counter() - t0)
    return times


def run(n: int, sample: int, log=print) -> dict:
    ids = pick(n)
    n = len(ids)
    log(f"  single-export baseline on {sample} of the {n} assessments …")
    singles = single_export_times(ids, sample)
    single_mean = statistics.fmean(singles)
    jobs = single_job_times(ids, sample)
    budget = max(120.0, n * single_mean * 4)
    # One process first, on a tenth of them: the per-task cost in a worker without CPU contention.
    serial_ids = ids[: max(5, n // 10)]
    serial = _through_worker(_jobs(serial_ids), 1, budget, log)
    result = _through_worker(_jobs(ids), 2, budget, log)
    ideal = n * single_mean / 2
    result.update({
        "single_export_sample": len(singles),
        "single_export_mean_ms": round(single_mean * 1000, 2),
        "single_export_median_ms": round(statistics.median(singles) * 1000, 2),
        "ideal_s": round(ideal, 3),
        "ratio": round(result["wall_s"] / ideal, 3) if ideal else None,
        "single_job_mean_ms": round(statistics.fmean(jobs) * 1000, 2),
        "ratio_to_job_ideal": round(result["wall_s"] / (n * statistics.fmean(jobs) / 2), 3),
        # If the CPU time spent were perfectly shared by the two cores: the floor this machine allows.
        "cpu_bound_s": round(sum(result["cpu_s"].values()) / 2, 3),
        "exports_per_s": round(n / result["wall_s"], 2) if result["wall_s"] else None,
        "one_process": {
            "exports": serial["exports"], "wall_s": serial["wall_s"],
            "per_export_ms": round(serial["wall_s"] / serial["exports"] * 1000, 2),
            "task_mean_ms": serial["task_mean_ms"], "celery_task_mean_ms": serial["celery_task_mean_ms"],
        },
    })
    return result
