"""The benchmark run: migrate, generate (or reuse) the population, measure, evaluate the targets,
write the results. Imported by bench/run.py after the environment is set and Django is set up."""

import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import redis
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from assessments import exporting, generations
from assessments.exports import public as public_export
from assessments.exports import xlsx
from assessments.models import (
    Assessment,
    DataGeneration,
    Indicator,
    Membership,
    Region,
    Round,
    Snapshot,
    Transition,
    Unit,
)

from . import config, exportfloor, population, printfloor, report, throughput, uploads
from . import evidence as evidence_bench
from .measure import (
    BenchError,
    Case,
    capture,
    count_queries,
    encode,
    form_data,
    freeze_gc,
    interleave,
    render_floor,
    request_case,
    summary,
)
from .pages import main_pages


def changed() -> None:
    """Something changed, as any write anywhere does: a logged-in page is rendered, not served whole
    (ADR 0025). Untimed, before each repetition of the cases that measure a rendering."""
    generations.renew(DataGeneration)


def cold() -> None:
    """A public page cold: the shared cache, the per-process copy and the process's idea of the
    public generation emptied. Untimed, before each repetition."""
    cache.clear()
    caches["public_local"].clear()
    exporting.forget_public_cache_generation()


def settle(*tables: str) -> None:
    """VACUUM ANALYZE after a rolled-back bulk update. Such an update leaves a dead version of every
    row it touched (10,000 submissions for `dashboard_10`); until autovacuum comes by, the visibility
    map is stale and the next counts read the table instead of an index only. A production database
    never rolls back such updates, so the next run, or the next group, is measured as it would be."""
    with connection.cursor() as cursor:
        for table in tables or ("",):
            cursor.execute(f"VACUUM ANALYZE {table}".strip())


GROUPS = ("dashboard", "supervisor", "entry", "public", "every", "export", "upload", "evidence", "throughput")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def floor_url(size: int) -> str:
    return reverse("bench_floor", args=[size])


class Run:
    def __init__(self, args, meta: dict):
        self.args = args
        self.tiny = args.tiny
        self.reps = args.reps or (1 if self.tiny else 20)
        self.heavy_reps = 1 if self.tiny else min(self.reps, 3)
        self.meta = meta
        self.probes = meta["probes"]
        self.pages: dict[str, dict] = {}
        self.cases: dict[str, Case] = {}
        self.extra: dict = {}
        User = get_user_model()
        self.reviewer = User.objects.get(username=population.REVIEWER)
        self.officer = User.objects.get(username=population.OFFICER)
        self.current = Round.objects.get(year=population.CURRENT_YEAR)

    # --- Helpers ---------------------------------------------------------------------------------

    def page(self, name: str, label: str, client, method: str, url: str, *, pre=None, body=None, expect=200,
             max_reps=None, render=True, django_floor=True, note: str = "") -> list[Case]:
        """Capture a path once (queries, size, template, context) and return its timed cases."""
        if pre:
            pre()
        first_body = body() if callable(body) else body
        cap = capture(client, method, url, first_body, expect=expect)
        record = {
            "label": label, "method": method.upper(), "url": url, "status": cap.status, "queries": cap.queries,
            "size_bytes": cap.size, "template": cap.template, "slowest_queries": cap.slowest, "note": note,
        }
        cases = [request_case(name, client, method, url, body=body, expect=expect, pre=pre, max_reps=max_reps)]
        if render and cap.template:
            floor = render_floor(cap)
            record["render_floor_queries"] = count_queries(floor)
            record["render_floor_size_bytes"] = floor()
            cases.append(Case(f"{name}#render", floor, max_reps=max_reps))
        if django_floor and cap.size:
            cases.append(request_case(f"{name}#django", client, "get", floor_url(cap.size), max_reps=max_reps))
        self.pages[name] = record
        record["_captured"] = cap
        for case in cases:
            self.cases[case.name] = case
        return cases

    def finish(self, names: list[str]) -> None:
        for name in names:
            record = self.pages[name]
            record.pop("_captured", None)
            page = self.cases[name]
            record["time"] = summary(page.samples)
            for suffix, key in (("#render", "render_floor"), ("#django", "django_floor")):
                case = self.cases.get(name + suffix)
                if case is not None and case.samples:
                    record[key] = summary(case.samples)
                    record[f"ratio_{key}"] = round(statistics.median(page.samples) / statistics.median(case.samples), 2)

    def measure(self, cases: list[Case], reps: int | None = None) -> None:
        interleave(cases, self.reps if reps is None else reps, log=log)

    # --- Reviewer dashboard --------------------------------------------------------------------------

    def dashboard(self) -> None:
        log("reviewer dashboard …")
        client = Client()
        client.force_login(self.reviewer)
        base = reverse("assessments:dashboard")
        filtered = f"{base}?{urlencode({'state': 'submitted', 'kind': 'project'})}"
        cache.clear()  # every page is captured with the round's charts computed (see note)
        cases = self.page("dashboard_first", "审核工作台 · 第1页（全部提交）", client, "get", base, pre=changed)
        pages = self.pages["dashboard_first"]["_captured"].context["page"].paginator.num_pages
        deep = f"{base}?page={max(1, round(pages * 0.75))}"
        cache.clear()
        cases += self.page("dashboard_deep", f"审核工作台 · 深页（第{max(1, round(pages * 0.75))}/{pages}页）", client, "get", deep,
                           pre=changed)
        cache.clear()
        cases += self.page("dashboard_filtered", "审核工作台 · 两个筛选（已提交 + 项目支出）第1页", client, "get", filtered,
                           pre=changed)
        fpages = self.pages["dashboard_filtered"]["_captured"].context["page"].paginator.num_pages
        fdeep = f"{filtered}&page={max(1, round(fpages * 0.75))}"
        cache.clear()
        cases += self.page("dashboard_filtered_deep", f"审核工作台 · 两个筛选 深页（第{max(1, round(fpages * 0.75))}/{fpages}页）",
                           client, "get", fdeep, pre=changed)
        self.extra["dashboard_submissions"] = self.pages["dashboard_first"]["_captured"].context["page"].paginator.count
        freeze_gc()
        self.measure(cases)
        self.finish(["dashboard_first", "dashboard_deep", "dashboard_filtered", "dashboard_filtered_deep"])
        # The first page opened again with nothing changed: served whole from the cache (ADR 0025).
        again = self.page("dashboard_again", "审核工作台 · 第1页，再次打开（整页取自缓存）", client, "get", base, render=False)
        self.measure(again)
        self.finish(["dashboard_again"])

        # The same page with 10 submissions: every other submission of the round turned back into a
        # draft inside a transaction that is rolled back.
        with transaction.atomic():
            visible = Assessment.objects.filter(round=self.current).exclude(state=Assessment.State.DRAFT)
            # One of every visible state first (a returned one costs the page one query for its
            # submitted version, as on the big page), then the lowest ids up to 10.
            keep = [pk for pk in (visible.filter(state=s).order_by("id").values_list("pk", flat=True).first()
                                  for s in Assessment.State if s != Assessment.State.DRAFT) if pk is not None]
            keep += list(visible.exclude(pk__in=keep).order_by("id").values_list("pk", flat=True)[: 10 - len(keep)])
            hidden = visible.exclude(pk__in=keep).update(state=Assessment.State.DRAFT)
            cache.clear()
            cases = self.page("dashboard_10", "审核工作台 · 第1页（仅10份提交，对照）", client, "get", base, pre=changed)
            self.measure(cases, reps=min(self.reps, 5))
            self.finish(["dashboard_10"])
            self.pages["dashboard_10"]["note"] = f"{hidden} submissions hidden inside a rolled-back transaction"
            transaction.set_rollback(True)
        settle("assessments_assessment")

    # --- 主管部门 roll-up (issue 14) ----------------------------------------------------------------

    def supervisor(self) -> None:
        """The roll-up of a 主管部门 that supervises every unit of the province (100 units a page),
        first and deep page; set up inside a transaction that is rolled back."""
        log("主管部门 roll-up …")
        User = get_user_model()
        with transaction.atomic():
            region = Unit.objects.order_by("id").first().region
            head = Unit.objects.create(name="（基准测试）主管部门", region=region)
            units = Unit.objects.exclude(pk=head.pk).update(supervisor_unit=head)
            user = User.objects.create_user("bench-supervisor")
            Membership.objects.create(user=user, unit=head, role=Membership.Role.SUPERVISOR)
            Round.objects.filter(pk=self.current.pk).update(supervisor_review=True)
            client = Client()
            client.force_login(user)
            base = reverse("assessments:supervise")
            cases = self.page("rollup_first", f"主管部门汇总 · 第1页（所属 {units} 个单位，每页100个）", client, "get", base,
                              pre=changed)
            pages = self.pages["rollup_first"]["_captured"].context["page"].paginator.num_pages
            deep = f"{base}?page={max(1, round(pages * 0.75))}"
            cases += self.page("rollup_deep", f"主管部门汇总 · 深页（第{max(1, round(pages * 0.75))}/{pages}页）", client, "get", deep,
                               pre=changed)
            self.extra["rollup_units"] = units
            freeze_gc()
            self.measure(cases)
            self.finish(["rollup_first", "rollup_deep"])
            transaction.set_rollback(True)
        settle("assessments_unit", "assessments_round")

    # --- Officer entry ----------------------------------------------------------------------------

    def entry(self) -> None:
        log("officer edit / save / submit …")
        client = Client()
        client.force_login(self.officer)
        edit_pk, save15_pk, submit_pk = (self.probes[k] for k in (population.PROBE_EDIT, population.PROBE_SAVE15,
                                                                   population.PROBE_SUBMIT))
        edit_url = reverse("assessments:edit", args=[edit_pk])
        # Measured in turn with the saves below, so every open follows a save: its tables are built and
        # rendered afresh (a new cache key, ADR 0024). `edit40_reopened` is the same page opened again.
        cases = self.page("edit40", "填报页（40行指标，保存后打开）", client, "get", edit_url)
        base40 = form_data(self.pages["edit40"]["_captured"].context["entry"])
        rows40 = int(base40["indicators-TOTAL_FORMS"])
        save15_url = reverse("assessments:edit", args=[save15_pk])
        cap15 = capture(client, "get", save15_url)
        base15 = form_data(cap15.context["entry"])
        rows15 = int(base15["indicators-TOTAL_FORMS"])
        counter = {"n": 0}

        def body(base: dict, pk: int, changed: int):
            def build() -> str:
                counter["n"] += 1
                data = dict(base)
                data["version"] = str(Assessment.objects.values_list("version", flat=True).get(pk=pk))
                current = dict(Indicator.objects.filter(assessment_id=pk).values_list("pk", "reason"))
                rows = int(data["indicators-INITIAL_FORMS"])
                for n in range(rows):  # every row as it is now, then `changed` of them changed
                    data[f"indicators-{n}-reason"] = current[int(data[f"indicators-{n}-id"])]
                for n in range(changed):
                    data[f"indicators-{n}-reason"] = f"基准测试第{counter['n']}次保存：偏差原因已核实。"
                return encode(data)

            return build

        cases += self.page("save40", f"保存（{rows40}行全部修改）", client, "post", edit_url, body=body(base40, edit_pk, rows40),
                           expect=302, render=False, django_floor=False)
        cases += self.page("save40_1row", f"保存（{rows40}行中修改1行）", client, "post", edit_url, body=body(base40, edit_pk, 1),
                           expect=302, render=False, django_floor=False)
        cases += self.page("save15", f"保存（{rows15}行全部修改）", client, "post", save15_url, body=body(base15, save15_pk, rows15),
                           expect=302, render=False, django_floor=False)

        submit_url = reverse("assessments:submit", args=[submit_pk])

        def reset_submit() -> None:
            Snapshot.objects.filter(assessment_id=submit_pk).delete()
            Transition.objects.filter(assessment_id=submit_pk).delete()
            Assessment.objects.filter(pk=submit_pk).update(state=Assessment.State.DRAFT, submitted_at=None)
            if hasattr(mail, "outbox"):
                mail.outbox.clear()

        cases += self.page("submit40", "提交（40行，完整校验 + 快照）", client, "post", submit_url, body="", pre=reset_submit,
                           expect=302, render=False, django_floor=False)
        state = Assessment.objects.values_list("state", flat=True).get(pk=submit_pk)
        if state != Assessment.State.SUBMITTED:
            raise BenchError(f"submit probe is {state} after submitting")
        self.extra["edit_rows"], self.extra["save15_rows"] = rows40, rows15
        freeze_gc()
        self.measure(cases)
        self.finish(["edit40", "save40", "save40_1row", "save15", "submit40"])
        # Opened again with nothing saved in between: the tables come from the cache (pagecache). Its
        # render floor is the page around them, so only its Django floor is a fair comparison.
        reopened = self.page("edit40_reopened", "填报页（40行指标，再次打开：表格取自缓存）", client, "get", edit_url,
                             render=False)
        self.measure(reopened)
        self.finish(["edit40_reopened"])
        # An officer's usual turn: change one row, save, the page opens again. Each open follows a
        # save of one row: that row is rendered afresh, the 39 others come from the cache.
        turn = self.page("edit40_after_1row", "填报页（40行指标，修改1行保存后打开）", client, "get", edit_url, render=False)
        turn += self.page("save40_1row_turn", f"保存（{rows40}行中修改1行，与上一行交替）", client, "post", edit_url,
                          body=body(base40, edit_pk, 1), expect=302, render=False, django_floor=False)
        self.measure(turn)
        self.finish(["edit40_after_1row", "save40_1row_turn"])
        reset_submit()

    # --- Public pages ------------------------------------------------------------------------------

    def public(self) -> None:
        log("public disclosure pages …")
        client = Client()
        list_url = reverse("disclosure:list")
        city = Region.objects.filter(level=Region.Level.CITY).order_by("id").first()
        filtered = f"{list_url}?{urlencode({'year': population.CURRENT_YEAR - 1, 'region': city.pk})}"
        search = f"{list_url}?{urlencode({'q': '平安建设'})}"
        # A unit's own name: matches only that unit's reports (the seed texts repeat in every report,
        # so any word of theirs matches thousands).
        unit_name = Assessment.objects.select_related("unit").get(pk=self.probes[population.PROBE_PUBLIC]).unit.name
        search_unit = f"{list_url}?{urlencode({'q': unit_name})}"
        detail = reverse("disclosure:detail", args=[self.probes[population.PROBE_PUBLIC]])
        json_url = reverse("disclosure:list_json")
        csv_url = reverse("disclosure:list_csv")
        csv_year = f"{csv_url}?{urlencode({'year': population.CURRENT_YEAR})}"
        cases = self.page("public_list", "公开列表 · 第1页（冷）", client, "get", list_url, pre=cold)
        cases += self.page("public_list_filtered", f"公开列表 · 年度+地区（{city.name}）筛选（冷）", client, "get", filtered, pre=cold)
        cases += self.page("public_search", "公开列表 · 全文检索“平安建设”（冷）", client, "get", search, pre=cold)
        cases += self.page("public_search_unit", "公开列表 · 检索单位名称（冷）", client, "get", search_unit, pre=cold)
        cases += self.page("public_detail_cold", "公开详情页（40行，冷）", client, "get", detail, pre=cold)
        client.get(detail)  # warm the cache
        cases += self.page("public_detail_cached", "公开详情页（缓存命中）", client, "get", detail, render=False,
                           pre=lambda: client.get(detail))  # make sure it is cached (untimed)
        def no_list_files():
            # A publish whose list rebuild has not run: the request writes both files (issue 12).
            cold()
            exporting.bump_public_cache()

        cases += self.page("public_json", "disclosure.json（全部公开，尚无文件：本请求写出两份清单）", client, "get", json_url,
                           pre=no_list_files, max_reps=self.heavy_reps, render=False)
        cases += self.page("public_csv", "disclosure.csv（全部公开，尚无文件：本请求写出两份清单）", client, "get", csv_url,
                           pre=no_list_files, max_reps=self.heavy_reps, render=False)
        cases += self.page("public_csv_year", f"disclosure.csv?year={population.CURRENT_YEAR}（冷，第1页：200份报告）", client,
                           "get", csv_year, pre=cold, render=False)

        # After a publish the worker writes the whole lists as files (exporting.write_lists); the
        # requests then serve the file. `stored` rewrites them (untimed) when a cold case above
        # started a new cache generation in between.
        def stored():
            if exporting.list_file("json") is None or exporting.list_file("csv") is None:
                t0 = time.perf_counter()
                exporting.write_lists()
                self.extra["write_lists_s"] = round(time.perf_counter() - t0, 2)

        cases += self.page("public_json_file", "disclosure.json（全部公开，发布后写好的文件）", client, "get", json_url,
                           pre=stored, max_reps=self.heavy_reps, render=False)
        cases += self.page("public_csv_file", "disclosure.csv（全部公开，发布后写好的文件）", client, "get", csv_url,
                           pre=stored, max_reps=self.heavy_reps, render=False)
        freeze_gc()
        self.measure(cases)
        self.finish(["public_list", "public_list_filtered", "public_search", "public_search_unit", "public_detail_cold", "public_detail_cached",
                     "public_json", "public_csv", "public_csv_year", "public_json_file", "public_csv_file"])

    # --- Every main page (issue 17, part 5) -------------------------------------------------------

    def every(self) -> None:
        """Every main HTML page (bench/pages.py), each after a change (a logged-in page rendered, a
        public one cold), interleaved with the Django floor of its bytes asked by the same client."""
        log("every main page, after a change …")
        officer, reviewer, anonymous = Client(), Client(), Client()
        officer.force_login(self.officer)
        reviewer.force_login(self.reviewer)
        pages = list(enumerate(main_pages(self.meta, officer, reviewer, anonymous), start=1))
        # The logged-in pages and the public ones apart: emptying the cache for a cold public page
        # would take with it what the logged-in pages keep across a change (ADR 0024).
        for public in (False, True):
            cases, names = [], []
            for n, page in pages:
                if page.public != public:
                    continue
                name = f"page{n:02d}"
                cases += self.page(name, f"{page.role} · {page.url}", page.client, "get", page.url,
                                   pre=cold if public else changed, render=False)
                names.append(name)
            freeze_gc()
            self.measure(cases)
            self.finish(names)
            self.extra.setdefault("every_page", []).extend(names)

    # --- Export -----------------------------------------------------------------------------------

    def export(self) -> None:
        log("one export vs plain openpyxl …")
        pk = self.probes[population.PROBE_PUBLIC]
        report_obj = public_export.load_public(pk)
        workbook = xlsx.to_bytes(report_obj)
        data = exportfloor.read(workbook)

        def xlsx_and_json():
            # The export of issue 6 (xlsx + JSON): its floor is openpyxl's; the PDF and Word copies
            # (issue 16) are measured below against their own libraries' floors.
            with override_settings(DISCLOSURE_PRINT_COPIES=False):
                exporting.write_files(pk)

        export = Case("export", xlsx_and_json)
        floor = Case("export#floor", lambda: exportfloor.named_styles(data))
        per_cell = Case("export#per_cell", lambda: exportfloor.per_cell_styles(data))
        parts = [
            Case("export:load_public", lambda: public_export.load_public(pk)),
            Case("export:json_document", lambda: exporting.json_document(report_obj)),
            Case("export:xlsx_to_bytes", lambda: xlsx.to_bytes(report_obj)),
        ]
        queries = count_queries(xlsx_and_json)
        freeze_gc()
        interleave([export, floor, per_cell, *parts], self.reps, log=log)
        record = {
            "label": "一份导出（xlsx + JSON，exporting.write_files）", "queries": queries, "cells": data.cell_count,
            "xlsx_bytes": len(workbook), "json_bytes": len(exporting.json_document(report_obj)),
            "time": summary(export.samples), "floor": summary(floor.samples), "per_cell_styles": summary(per_cell.samples),
            "parts": {c.name.split(":")[1]: summary(c.samples) for c in parts},
            "ratio_floor": round(statistics.median(export.samples) / statistics.median(floor.samples), 2),
            "ratio_per_cell_vs_named": round(statistics.median(per_cell.samples) / statistics.median(floor.samples), 2),
        }
        for c in (export, floor, per_cell, *parts):
            self.cases[c.name] = c
        self.extra["export"] = record
        self.print_copies(report_obj)

    def print_copies(self, report_obj) -> None:
        """The PDF and the Word copy of the probe report (issue 16), each against its library's floor."""
        from assessments.exports import docx as docx_export
        from assessments.exports import pdf as pdf_export

        log("PDF and Word copies vs WeasyPrint / python-docx floors …")
        report_html = pdf_export.html(report_obj)
        parts = printfloor.texts(report_html)
        floor_html = printfloor.pdf_floor_html(parts)
        pdf_bytes, floor_pdf = pdf_export.to_bytes(report_obj), printfloor.pdf_floor(floor_html)  # warm-up: fonts
        docx_bytes = docx_export.to_bytes(report_obj)
        pdf, pdf_floor = Case("print:pdf", lambda: pdf_export.to_bytes(report_obj)), Case("print#pdf_floor", lambda: printfloor.pdf_floor(floor_html))
        docx, docx_floor = Case("print:docx", lambda: docx_export.to_bytes(report_obj)), Case("print#docx_floor", lambda: printfloor.docx_floor(parts))
        freeze_gc()
        reps = max(1, min(self.reps, 5))  # a PDF takes seconds: five repetitions are plenty for a median
        interleave([pdf, pdf_floor, docx, docx_floor], reps, log=log)
        self.extra["print"] = {
            "rows": len(report_obj.view.indicators), "texts": len(parts), "characters": sum(len(t) for t in parts),
            "pdf_bytes": len(pdf_bytes), "floor_pdf_bytes": len(floor_pdf),
            "docx_bytes": len(docx_bytes),
            "pdf": summary(pdf.samples), "pdf_floor": summary(pdf_floor.samples),
            "docx": summary(docx.samples), "docx_floor": summary(docx_floor.samples),
            "ratio_pdf": round(statistics.median(pdf.samples) / statistics.median(pdf_floor.samples), 2),
            "ratio_docx": round(statistics.median(docx.samples) / statistics.median(docx_floor.samples), 2),
        }
        for c in (pdf, pdf_floor, docx, docx_floor):
            self.cases[c.name] = c

    # --- Uploads ----------------------------------------------------------------------------------

    def upload(self) -> None:
        """The worst uploads an officer can send: what each costs this process, the web worker."""
        log("hostile uploads (从Excel导入) …")
        client = Client()
        client.force_login(self.officer)
        self.extra["upload"] = uploads.run(client, self.current, 1 if self.tiny else min(self.reps, 5), log=log)

    def evidence(self) -> None:
        """佐证材料 (issue 13): a 10 MB PDF uploaded and served, local disk and S3; one export to S3 vs disk."""
        log("evidence: 10 MB upload and download, export to S3 vs local disk …")
        draft = Assessment.objects.get(pk=self.probes[population.PROBE_EDIT])
        self.extra["evidence"] = evidence_bench.run(self.officer, draft, self.probes[population.PROBE_PUBLIC],
                                                    1 if self.tiny else min(self.reps, 5), config.WORK_DIR, log=log)

    def connection_setup(self) -> None:
        """What a new PostgreSQL connection costs (the portal runs with CONN_MAX_AGE=0 by default)."""
        import psycopg

        samples = []
        for _ in range(3 if self.tiny else 10):
            t0 = time.perf_counter()
            with psycopg.connect(config.DATABASE_URL) as conn:
                conn.execute("SELECT 1").fetchone()
            samples.append(time.perf_counter() - t0)
        self.extra["db_connection_setup"] = summary(samples)

    def throughput(self) -> None:
        self.connection_setup()
        n = self.args.exports or (10 if self.tiny else 1000)
        log(f"{n} exports through Redis + celery worker --concurrency=2 …")
        self.extra["throughput"] = throughput.run(n, sample=3 if self.tiny else 20, log=log)

    # --- Profiles of missed targets ----------------------------------------------------------------

    def profile(self, targets: list[dict], out: Path) -> None:
        try:
            from pyinstrument import Profiler
        except ImportError:
            log("pyinstrument is not installed: no profiles (pip install pyinstrument into the venv)")
            return
        folder = out / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        done = set()
        for target in targets:
            name = target.get("case")
            if target["met"] or not name or name in done or name not in self.cases:
                continue
            done.add(name)
            case = self.cases[name]
            profiler = Profiler(interval=0.0005)
            runs = 3 if name.startswith("public_csv") or name == "public_json" else 10
            for _ in range(runs):
                if case.pre:
                    case.pre()
                profiler.start()
                case.run()
                profiler.stop()
            path = folder / f"{name}.txt"
            path.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
            target["profile"] = str(path.relative_to(config.ROOT)) if path.is_relative_to(config.ROOT) else str(path)
            log(f"  profile of {name} → {path}")


# --- Targets -------------------------------------------------------------------------------------


def evaluate(run: Run) -> list[dict]:
    pages, extra = run.pages, run.extra
    targets = []

    def ratio_target(tid, what, page, key, limit):
        record = pages.get(page)
        if not record or f"ratio_{key}" not in record:
            return
        value = record[f"ratio_{key}"]
        targets.append({"id": tid, "what": what, "limit": f"≤ {limit}×", "value": f"{value}×", "ratio": value,
                        "met": value <= limit, "case": page})

    for page, label in (("dashboard_first", "first page"), ("dashboard_deep", "deep page"),
                        ("dashboard_filtered", "two filters, first page"), ("dashboard_filtered_deep", "two filters, deep page")):
        ratio_target(f"dashboard:{page}", f"reviewer dashboard over {extra.get('dashboard_submissions', '?')} submissions, "
                     f"{label}: median ≤ 2.5× its render floor", page, "render_floor", 2.5)
    if "dashboard_first" in pages and "dashboard_10" in pages:
        big, small = pages["dashboard_first"]["queries"], pages["dashboard_10"]["queries"]
        others = {p: pages[p]["queries"] for p in ("dashboard_deep", "dashboard_filtered", "dashboard_filtered_deep") if p in pages}
        targets.append({"id": "dashboard:queries", "what": "reviewer dashboard: same query count with 10,000 as with 10 submissions",
                        "limit": f"= {small}",
                        "value": f"{big} (deep/filtered: {', '.join(str(v) for v in others.values())}; a page without a "
                                 "returned row skips the query for their submitted versions)",
                        "met": big == small and all(v <= small for v in others.values()), "case": None})
    for page, label in (("rollup_first", "first page"), ("rollup_deep", "deep page")):
        ratio_target(f"rollup:{page}", f"主管部门 roll-up over {extra.get('rollup_units', '?')} units, {label}: "
                     "median ≤ 2.5× its render floor", page, "render_floor", 2.5)
    if "rollup_first" in pages and "rollup_deep" in pages:
        first, deep = pages["rollup_first"]["queries"], pages["rollup_deep"]["queries"]
        targets.append({"id": "rollup:queries", "what": "主管部门 roll-up: the same query count on every page "
                        "(tests: the same with 1 and 30 units)", "limit": f"= {first}", "value": str(deep),
                        "met": first == deep, "case": None})
    ratio_target("dashboard:again", "reviewer dashboard, first page opened again: ≤ 40× the Django floor (issue 17)",
                 "dashboard_again", "django_floor", 40.0)
    ratio_target("dashboard:rendered", "reviewer dashboard, first page after a change: ≤ 40× the Django floor (issue 17)",
                 "dashboard_first", "django_floor", 40.0)
    ratio_target("edit:time", "officer edit page (40 rows): median ≤ 2.5× its render floor", "edit40", "render_floor", 2.5)
    ratio_target("edit:after_save", "officer edit page (40 rows) after a save: ≤ 40× the Django floor (issue 17)", "edit40",
                 "django_floor", 40.0)
    ratio_target("edit:reopened", "officer edit page (40 rows) reopened: ≤ 40× the Django floor (issue 17)", "edit40_reopened",
                 "django_floor", 40.0)
    if "edit40" in pages:
        q = pages["edit40"]["queries"]
        targets.append({"id": "edit:queries", "what": "officer edit page (40 rows): ≤ 12 queries", "limit": "≤ 12",
                        "value": str(q), "met": q <= 12, "case": "edit40"})
    if "save40" in pages and "save15" in pages:
        q40, q15, q1 = pages["save40"]["queries"], pages["save15"]["queries"], pages["save40_1row"]["queries"]
        targets.append({"id": "save:queries", "what": "save of 40 changed rows: query count does not grow with the rows",
                        "limit": f"= {q15} (15 rows changed)", "value": f"{q40} (40 changed; 1 of 40 changed: {q1})",
                        "met": q40 == q15 == q1, "case": "save40"})
        if "edit40" in pages:
            value = round(pages["save40"]["time"]["median_ms"] / pages["edit40"]["time"]["median_ms"], 2)
            targets.append({"id": "save:time", "what": "save of 40 changed rows: ≤ 4× the edit page's time",
                            "limit": "≤ 4×", "value": f"{value}×", "ratio": value, "met": value <= 4, "case": "save40"})
    for name in extra.get("every_page", ()):
        ratio_target(f"every:{name}", f"{pages[name]['label']}, after a change: ≤ 40× the Django floor (issue 17)", name,
                     "django_floor", 40.0)
    ratio_target("public:detail_cached", "public detail page, cached: ≤ 2× the Django floor", "public_detail_cached",
                 "django_floor", 2.0)
    ratio_target("public:detail_cold", "public detail page, cold: ≤ 2.5× its render floor", "public_detail_cold",
                 "render_floor", 2.5)
    ratio_target("public:list", "public list, first page (cold): ≤ 2.5× its render floor", "public_list", "render_floor", 2.5)
    ratio_target("public:list_filtered", "public list, filtered (cold): ≤ 2.5× its render floor", "public_list_filtered",
                 "render_floor", 2.5)
    ratio_target("public:search", "public search for a common phrase (cold): ≤ 2.5× its render floor", "public_search",
                 "render_floor", 2.5)
    ratio_target("public:search_unit", "public search for a unit's name (cold): ≤ 2.5× its render floor", "public_search_unit",
                 "render_floor", 2.5)
    if "export" in extra:
        value = extra["export"]["ratio_floor"]
        targets.append({"id": "export:one", "what": "one export (xlsx + JSON) ≤ 1.5× a plain openpyxl script (same cells, named styles)",
                        "limit": "≤ 1.5×", "value": f"{value}×", "ratio": value, "met": value <= 1.5, "case": "export"})
    if "print" in extra:
        p = extra["print"]
        targets.append({"id": "print:pdf", "what": "PDF of one report ≤ 4× WeasyPrint laying out the same text as plain paragraphs (no tables)",
                        "limit": "≤ 4×", "value": f"{p['ratio_pdf']}×", "ratio": p["ratio_pdf"], "met": p["ratio_pdf"] <= 4,
                        "case": "print:pdf"})
        targets.append({"id": "print:docx", "what": "Word copy of one report ≤ 3× python-docx writing the same texts as paragraphs",
                        "limit": "≤ 3×", "value": f"{p['ratio_docx']}×", "ratio": p["ratio_docx"], "met": p["ratio_docx"] <= 3,
                        "case": "print:docx"})
    if "upload" in extra:
        targets += uploads.targets(extra["upload"])
    if "evidence" in extra:
        targets += evidence_bench.targets(extra["evidence"])
    if "throughput" in extra:
        t = extra["throughput"]
        targets.append({"id": "export:throughput",
                        "what": f"{t['exports']} exports through Redis on a worker of 2 processes ≤ 1.2× ideal (N × single / 2)",
                        "limit": "≤ 1.2×", "value": f"{t['ratio']}× ({t['wall_s']} s vs {t['ideal_s']} s)",
                        "ratio": t["ratio"], "met": t["ratio"] is not None and t["ratio"] <= 1.2, "case": None})
    return targets


def machine_info() -> dict:
    import celery
    import django
    import openpyxl

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    try:
        redis_version = redis.Redis.from_url(config.REDIS_CACHE_URL).info("server")["redis_version"]
    except Exception:  # noqa: BLE001 - informational only
        redis_version = "?"
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem / 1024 / 1024, 1),
        "python": platform.python_version(), "django": django.get_version(), "postgresql": pg, "redis": redis_version,
        "openpyxl": openpyxl.__version__, "celery": celery.__version__, "platform": platform.platform(),
    }


def busy_snapshot() -> dict:
    """Load average and whether the test suite (pytest) runs beside the benchmark."""
    others = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "pytest" in cmd and "bench" not in cmd:
            others.append(int(entry.name))
    return {"loadavg": list(os.getloadavg()), "pytest_processes": len(others)}


def run(args, *, reuse: bool, started: float) -> int:
    out = Path(args.out)
    if not out.is_absolute():
        out = config.ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    for url in (config.REDIS_CACHE_URL, config.REDIS_BROKER_URL):
        redis.Redis.from_url(url).flushdb()
    results: dict = {
        "mode": "tiny" if args.tiny else "full",
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "busy_at_start": busy_snapshot(),
    }
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    results["migrate_s"] = round(time.perf_counter() - t0, 2)
    meta_path = config.WORK_DIR / "population.json"
    if reuse:
        log("reusing the population in portal_bench")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["reused"] = True
        settle()  # what earlier runs left (as a new population is: population.generate ends with it)
    else:
        scale = population.TINY if args.tiny else population.FULL
        if args.units and not args.tiny:
            import dataclasses

            scale = dataclasses.replace(scale, name=f"full-{args.units}", units=args.units,
                                        province_units=min(scale.province_units, args.units // 25),
                                        city_units=min(scale.city_units, args.units // 100))
        log(f"generating the {scale.name} population (seed {population.SEED}) …")
        meta = population.generate(scale, config.MEDIA_DIR, log=log)
        population.dump(meta, meta_path)
        log(f"generated in {meta['timings_s']['total']} s: {meta['counts']['Assessment']} assessments, "
            f"{meta['counts']['Indicator']} indicator rows, {meta['counts']['current_round_submissions']} submissions "
            f"in the current round")
    results["population"] = meta
    groups = [g for g in (args.only.split(",") if args.only else GROUPS) if g]
    if args.skip_throughput and "throughput" in groups:
        groups.remove("throughput")
    t1 = time.perf_counter()
    bench_run = Run(args, meta)
    with override_settings(ROOT_URLCONF="bench.urls"):
        busy = {}
        for group in groups:
            busy[group] = busy_snapshot()
            getattr(bench_run, group)()
        results["busy_by_group"] = busy
        results["measure_s"] = round(time.perf_counter() - t1, 1)
        results["reps"] = bench_run.reps
        results["pages"] = bench_run.pages
        results["export"] = bench_run.extra.get("export")
        results["print"] = bench_run.extra.get("print")
        results["throughput"] = bench_run.extra.get("throughput")
        results["upload"] = bench_run.extra.get("upload")
        results["evidence"] = bench_run.extra.get("evidence")
        results["extra"] = {k: v for k, v in bench_run.extra.items()
                            if k not in ("export", "print", "throughput", "upload", "evidence")}
        targets = evaluate(bench_run)
        if args.profile:
            log("profiling the missed targets …")
            bench_run.profile(targets, out)
    results["targets"] = targets
    results["busy_at_end"] = busy_snapshot()
    results["total_s"] = round(time.perf_counter() - started, 1)
    stem = "tiny" if args.tiny else "latest"
    (out / f"{stem}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    markdown = report.markdown(results)
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    if not args.tiny and out.resolve() == config.RESULTS_DIR.resolve():
        for readme in (config.BENCH_DIR / "README.md", config.ROOT / "README.md"):
            report.update_readme(readme, markdown)
    met = sum(t["met"] for t in targets)
    log(f"done in {results['total_s']} s: {met}/{len(targets)} targets met → {out / (stem + '.md')}")
    return 0
