"""Concurrent writers on a file-based SQLite database, for test_resilience.py.

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python -m assessments.tests.sqlite_writers THREADS SAVES

Migrates the (fresh) database, creates one assessment, then runs THREADS threads that each do
SAVES transactions: read the assessment's version and compare-and-set it to version + 1 (the
portal's optimistic-concurrency save), and append a Goal row of their own. Prints one JSON line:
errors, CAS conflicts, final version, goal counts per thread, journal mode.
"""

import json
import os
import sys
import threading
import time
import traceback


def main(threads: int, saves: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from assessments.models import Assessment, Goal, Region, Round, Unit
    from assessments.services import create_assessment

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    region = Region.objects.create(name="测试省", level=Region.Level.PROVINCE)
    unit = Unit.objects.create(name="并发测试单位", region=region)
    rnd = Round.objects.create(year=2024, title="2024年度绩效自评")
    a = create_assessment(unit=unit, round=rnd, kind="department", layout="department")
    start_version = Assessment.objects.get(pk=a.pk).version
    connection.close()

    errors: list[str] = []
    conflicts = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(saves):
                try:
                    with transaction.atomic():
                        version = Assessment.objects.filter(pk=a.pk).values_list("version", flat=True).get()
                        updated = Assessment.objects.filter(pk=a.pk, version=version).update(version=version + 1)
                        if updated != 1:
                            with lock:
                                conflicts[0] += 1
                        Goal.objects.create(assessment_id=a.pk, position=1000 + i, target=f"writer-{n}", achieved=str(i))
                except Exception as exc:  # "database is locked" would land here
                    with lock:
                        errors.append(f"writer {n} save {i}: {type(exc).__name__}: {exc}")
        except Exception:
            with lock:
                errors.append(traceback.format_exc())
        finally:
            connection.close()

    t0 = time.monotonic()
    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - t0

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
    per_writer = {
        f"writer-{n}": Goal.objects.filter(assessment_id=a.pk, target=f"writer-{n}").count() for n in range(threads)
    }
    print(json.dumps({
        "errors": errors[:20],
        "error_count": len(errors),
        "conflicts": conflicts[0],
        "version_increase": Assessment.objects.get(pk=a.pk).version - start_version,
        "goals_per_writer": per_writer,
        "goals_total": sum(per_writer.values()),
        "journal_mode": journal_mode,
        "seconds": round(elapsed, 2),
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
