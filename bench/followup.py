#!/usr/bin/env python
"""Benchmark of issue 15: the 抽查 draw over 10,000 submissions and the 自评汇总表 + 汇总分析报告
of a 3,000-unit round (time against a floor, and memory: bounded, not growing with the rows).

    cd /work/main && .venv/bin/python bench/followup.py [--tiny] [--db portal_followup_bench]

A separate run from bench/run.py, with its own PostgreSQL database (dropped and created, default
`portal_followup_bench`; never `portal`, `portal_bench` or a test database) and no Redis (Celery
eager, local-memory cache), so it can run beside other benchmarks. The population is lean: the
draw and the 汇总表 read units, assessments (state, totals, grades, risk flags), the funding 合计
row and 结果应用 — no indicator rows.

Targets (each median of REPS runs, interleaved with its floor; set by issue 15's engineer after
the first run, which missed the first guesses of 1.5× and 2.5× — see bench/results/followup.md):
- draw:  each method ≤ 3× its floor, the bare query of the population's (id, flags, 主管部门): the
  draw adds Python work per member (a tuple, a random number, for the weighted draw a logarithm),
  of the same order as reading the row;
- table: the whole job (xlsx + docx, rows streamed) ≤ 3× its floor, a plain openpyxl write-only
  script writing the same values from a list already in memory (the floor reads no database and
  formats no cell);
- memory: the job's Python peak (tracemalloc) for the full round ≤ 1.5× its peak for one tenth
  of the round (one 主管部门 of ten): memory does not grow with the rows.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG = "postgres://portal:portal@127.0.0.1:5432"
SEED = 2024
SUPERVISORS = tuple(f"第{n}主管部门" for n in range(1, 11))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--tiny", action="store_true", help="300 units, one repetition (proves it works)")
    p.add_argument("--db", default="portal_followup_bench")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    return p.parse_args(argv)


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def log(message: str) -> None:
    print(f"[followup {time.strftime('%H:%M:%S')}] {message}", flush=True)


def generate(units: int):
    """`units` units over ten 主管部门, each with a department assessment and 1–4 projects in the
    current round (5 % drafts), totals, grades, risk flags and a funding 合计 row."""
    from django.contrib.auth.models import Permission, User

    from assessments.models import Assessment, FundingRow, Region, Round, TemplateVersion, Unit

    rng = random.Random(SEED)
    region = Region.objects.create(name="湖南省", level=Region.Level.PROVINCE)
    rnd = Round.objects.create(year=2025, title="2025年度绩效自评")
    versions = {code: TemplateVersion.objects.filter(template__code=code).latest("number")
                for code in ("department", "project")}
    Unit.objects.bulk_create(
        Unit(name=f"测试预算单位{n:05d}", region=region, supervisor=SUPERVISORS[n % len(SUPERVISORS)]) for n in range(units)
    )
    reviewer = User.objects.create_user("followup_reviewer")
    reviewer.user_permissions.add(Permission.objects.get(codename="review_all"))
    batch = []

    def grade(total):
        return "优" if total >= 90 else "良" if total >= 80 else "中" if total >= 60 else "差"

    for unit in Unit.objects.order_by("pk"):
        for k in range(1 + rng.randint(1, 4)):
            self_total = Decimal(rng.randint(5500, 10000)) / 100
            reviewed = rng.random() < 0.6
            review_total = max(Decimal(0), self_total + Decimal(rng.randint(-1500, 500)) / 100) if reviewed else None
            batch.append(Assessment(
                unit=unit, round=rnd, kind="department" if k == 0 else "project",
                template_version=versions["department" if k == 0 else "project"],
                project_name="" if k == 0 else f"项目{k}", state="draft" if rng.random() < 0.05 else (
                    "approved" if reviewed else "submitted"),
                self_total=self_total, self_grade=grade(self_total), review_total=review_total,
                review_grade=grade(review_total) if reviewed else "", risk_flag_count=rng.choice((0, 0, 0, 1, 1, 2, 3)),
            ))
    Assessment.objects.bulk_create(batch, batch_size=2000)
    funding = []
    for pk in Assessment.objects.values_list("pk", flat=True):
        budget = Decimal(rng.randint(1000, 5000000)) / 100
        funding.append(FundingRow(assessment_id=pk, source="total", budget=budget,
                                  actual=(budget * Decimal(rng.randint(50, 110)) / 100).quantize(Decimal("0.0001"))))
    FundingRow.objects.bulk_create(funding, batch_size=2000)
    return rnd, reviewer


def interleave(cases, reps):
    samples = {name: [] for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: round(statistics.median(s) * 1000, 1) for name, s in samples.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.db in ("portal", "portal_bench") or args.db.startswith("test_"):
        sys.exit("--db must be a database of this benchmark's own")
    work = Path(tempfile.mkdtemp(prefix="followup-bench-"))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": f"{PG}/{args.db}",
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret", "DJANGO_MEDIA_ROOT": str(work / "media"),
        "DJANGO_LOG_LEVEL": "WARNING",
    })
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG"):
        os.environ.pop(name, None)
    psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    psql(f"CREATE DATABASE {args.db} ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from assessments import sampling, spotchecks, summary
        from assessments.models import Assessment, RoundReport

        call_command("migrate", verbosity=0)
        units = 300 if args.tiny else 3000
        reps = args.reps or (1 if args.tiny else 7)
        t0 = time.perf_counter()
        rnd, reviewer = generate(units)
        submissions = Assessment.objects.exclude(state="draft").count()
        log(f"generated {units} units, {submissions} submissions in {time.perf_counter() - t0:.1f} s")
        connection.cursor().execute("ANALYZE")

        criteria = spotchecks.Criteria()
        n = 100

        def floor():
            list(spotchecks.population_queryset(reviewer, rnd, criteria).order_by("pk")
                 .values_list("pk", "risk_flag_count", "unit__supervisor"))

        def draw(method):
            def run():
                members = spotchecks.population(reviewer, rnd, criteria)
                sampling.draw(members, n, method, SEED)
            return run

        log(f"draw of {n} from {submissions} submissions, {reps} reps …")
        draw_times = interleave({"floor": floor, **{m: draw(m) for m in sampling.METHODS}}, reps)

        def job(supervisor=""):
            report = summary.request(rnd, reviewer, supervisor)
            summary.build(report.pk)
            return report

        first = job()
        rows = [[i, r.unit, r.supervisor, r.kind, r.title, r.budget, r.actual, r.rate, r.self_total, r.review_total,
                 r.grade, r.result] for i, r in enumerate(summary.rows(summary.scope(first)), start=1)]

        def table_floor():
            from openpyxl import Workbook

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet("floor")
            for row in rows:
                sheet.append(row)
            workbook.save(work / "floor.xlsx")

        log(f"汇总表 + 汇总分析报告 of {len(rows)} rows, {reps} reps …")
        table_times = interleave({"floor": table_floor, "job": job}, reps)

        def peak(fn):
            tracemalloc.start()
            fn()
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return round(top / 2**20, 2)

        peak_full = peak(job)
        peak_tenth = peak(lambda: job(SUPERVISORS[0]))
        tenth_rows = RoundReport.objects.filter(supervisor=SUPERVISORS[0]).latest("id").total
        xlsx_bytes = (Path(os.environ["DJANGO_MEDIA_ROOT"]) / first.__class__.objects.get(pk=first.pk).xlsx.name).stat().st_size
        targets = []
        for method in sampling.METHODS:
            ratio = round(draw_times[method] / draw_times["floor"], 2)
            targets.append({"what": f"draw ({sampling.METHODS[method]}) of {n} from {submissions} submissions ≤ 3× "
                                    "the population query", "value": f"{draw_times[method]} ms = {ratio}×",
                            "met": ratio <= 3})
        ratio = round(table_times["job"] / table_times["floor"], 2)
        targets.append({"what": f"汇总表 + 汇总分析报告 of {len(rows)} rows ({units} units) ≤ 3× plain openpyxl "
                                "write-only from memory", "value": f"{table_times['job']} ms = {ratio}×", "met": ratio <= 3})
        growth = round(peak_full / peak_tenth, 2)
        targets.append({"what": f"memory of the job: peak for {len(rows)} rows ≤ 1.5× peak for {tenth_rows} rows",
                        "value": f"{peak_full} MiB vs {peak_tenth} MiB = {growth}×", "met": growth <= 1.5})
        result = {"mode": "tiny" if args.tiny else "full", "units": units, "submissions": submissions, "reps": reps,
                  "draw_ms": draw_times, "table_ms": table_times, "rows": len(rows), "xlsx_bytes": xlsx_bytes,
                  "peak_mib": {"full": peak_full, "tenth": peak_tenth, "tenth_rows": tenth_rows}, "targets": targets}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = "followup-tiny" if args.tiny else "followup"
        (out / f"{stem}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        lines = ["| target | value | met |", "|---|---|---|"]
        lines += [f"| {t['what']} | {t['value']} | {'yes' if t['met'] else 'NO'} |" for t in targets]
        (out / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return 0 if all(t["met"] for t in targets) else 1
    finally:
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
