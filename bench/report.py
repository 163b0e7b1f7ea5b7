"""The Markdown table of a run, and the copy of the latest full run in bench/README.md."""

from pathlib import Path

START, END = "<!-- latest-results:start -->", "<!-- latest-results:end -->"


def _ms(stats: dict | None) -> str:
    if not stats or not stats.get("n"):
        return "—"
    return f"{stats['median_ms']:.1f} ({stats['min_ms']:.1f})"


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def markdown(results: dict) -> str:
    m = results["machine"]
    pop = results["population"]
    counts = pop.get("counts", {})
    lines = [
        f"### Benchmark results ({results['mode']} mode, {results['started_at']})",
        "",
        f"Machine: {m['nproc']} × {m['cpu']}, {m['memory_gib']} GiB; Python {m['python']}, Django {m['django']}, "
        f"PostgreSQL {m['postgresql']}, Redis {m['redis']}, openpyxl {m['openpyxl']}, Celery {m['celery']}. "
        f"Load average at start {', '.join(f'{x:.2f}' for x in results['busy_at_start']['loadavg'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in results['busy_at_end']['loadavg'])}; pytest processes running beside "
        f"the benchmark: {results['busy_at_start']['pytest_processes']} at start, "
        + "".join(f"{n} before {g}, " for g, n in ((g, b['pytest_processes']) for g, b in results.get('busy_by_group', {}).items()))
        + f"{results['busy_at_end']['pytest_processes']} at end.",
        "",
        f"Population: {counts.get('Unit', '?')} units, {counts.get('Assessment', '?')} assessments "
        f"({counts.get('current_round_submissions', '?')} submissions in the current round), "
        f"{counts.get('Indicator', '?')} indicator rows, {counts.get('ReportSection', '?')} report sections, "
        f"{pop.get('published', '?')} published (JSON files for all, xlsx for {pop.get('xlsx_files', '?')}); "
        f"database {_size(counts.get('database_bytes'))}. "
        + (f"Generated in {pop['timings_s']['total']} s." if not pop.get("reused") else "Population reused from an earlier run.")
        + f" Measuring took {results.get('measure_s', '?')} s ({results.get('reps', '?')} repetitions per path).",
        "",
        "Times are median (min) in ms. *Render floor*: the page's template rendered alone from its captured, "
        "materialised context. *Django floor*: a no-query, no-template view of the same stack returning as many bytes. "
        "Dashboard query counts are taken with the round's charts computed (their one-minute cache empty); "
        "within the minute a dashboard request makes 3 queries fewer.",
        "",
        "| path | queries | size | time | render floor | Django floor | × render floor | × Django floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in results.get("pages", {}).items():
        lines.append(
            f"| `{name}` {p['label']} | {p['queries']} | {_size(p['size_bytes'])} | {_ms(p.get('time'))} | "
            f"{_ms(p.get('render_floor'))} | {_ms(p.get('django_floor'))} | {p.get('ratio_render_floor', '—')} | "
            f"{p.get('ratio_django_floor', '—')} |"
        )
    e = results.get("export")
    if e:
        lines += [
            "",
            f"Export of one report ({e['cells']} cells, xlsx {_size(e['xlsx_bytes'])}, JSON {_size(e['json_bytes'])}, "
            f"{e['queries']} queries): {_ms(e['time'])} ms; plain openpyxl with named styles {_ms(e['floor'])} ms "
            f"(ratio {e['ratio_floor']}×); the same with per-cell style objects {_ms(e['per_cell_styles'])} ms "
            f"({e['ratio_per_cell_vs_named']}× the named-style script). Parts: "
            + ", ".join(f"{k} {_ms(v)}" for k, v in e["parts"].items()) + ".",
        ]
    pr = results.get("print")
    if pr:
        lines += [
            "",
            f"PDF and Word copies of the same report ({pr['rows']} indicator rows, {pr['characters']} characters of text; "
            f"PDF {_size(pr['pdf_bytes'])}, Word {_size(pr['docx_bytes'])}): PDF {_ms(pr['pdf'])} ms against WeasyPrint "
            f"laying out the same text as plain paragraphs {_ms(pr['pdf_floor'])} ms ({pr['ratio_pdf']}×); Word "
            f"{_ms(pr['docx'])} ms against python-docx writing the same texts {_ms(pr['docx_floor'])} ms ({pr['ratio_docx']}×).",
        ]
    t = results.get("throughput")
    if t:
        lines += [
            "",
            f"Throughput: {t['exports']} exports dispatched to Redis and run by `celery worker --concurrency=2` in "
            f"{t['wall_s']} s ({t['exports_per_s']}/s); ideal {t['ideal_s']} s = {t['exports']} × "
            f"{t['single_export_mean_ms']} ms (mean in-process `write_files` of {t['single_export_sample']} of them) / 2; "
            f"ratio {t['ratio']}×. Per task, in the worker: {t['celery_task_mean_ms']} ms as Celery counts it, "
            f"{t['task_mean_ms']} ms from started_at to finished_at; {t['failed']} failed. "
            + (f"The same worker with one process ({t['one_process']['exports']} exports, no CPU contention): "
               f"{t['one_process']['per_export_ms']} ms per export wall, {t['one_process']['celery_task_mean_ms']} ms "
               f"per task as Celery counts it." if t.get("one_process") else "")
            + (f" A new PostgreSQL connection costs {results['extra']['db_connection_setup']['median_ms']} ms "
               f"(the worker keeps its connection: DATABASE_CONN_MAX_AGE=600)." if results.get("extra", {}).get("db_connection_setup") else ""),
        ]
        if t.get("cpu_s"):
            cpu = t["cpu_s"]
            lines += [
                "",
                f"Where the two cores went during the 2-process run: worker {cpu['worker']} s, PostgreSQL "
                f"{cpu['postgres']} s, Redis {cpu['redis']} s of CPU; shared perfectly by 2 cores that is "
                f"{t['cpu_bound_s']} s, the floor this machine allows ({round(t['cpu_bound_s'] / t['ideal_s'], 2)}× the ideal). "
                f"One whole job in-process (`tasks.run_export`: export + status updates + audit row, no Celery): "
                f"{t['single_job_mean_ms']} ms; against {t['exports']} × that / 2 the run is {t['ratio_to_job_ideal']}×.",
            ]
    u = results.get("upload")
    if u:
        lim = u["limits"]
        lines += [
            "",
            f"Uploads to 从Excel导入 (issue 12): the request as the web worker serves it; the workbook is parsed in a "
            f"child process limited to {lim['cpu_s']} s of CPU, {lim['wall_s']:g} s on the clock and {lim['memory_mb']} MB "
            f"more memory, after the declared-size checks (≤ {lim['cells']:,} cells, ≤ {lim['merged_cells']:,} merged "
            f"cells, ≤ {lim['shared_strings']:,} shared strings in ≤ {_size(lim['shared_strings_bytes'])}). "
            f"Peak resident memory of a parsing child (with the pages it shares with the worker): "
            f"{u['child_peak_rss_mib']} MiB. Before issue 12 the 5 KB merged-range "
            "bomb cost a web worker 51.7 s and 886 MB, the 47 MB shared strings 16 s.",
            "",
            "| upload | size | status | time | worker CPU | child CPU | worker RSS kept | message |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, c in u["cases"].items():
            lines.append(
                f"| `{name}` {c['label']} | {_size(c['upload_bytes'])} | {c['status']} | {c['time_ms']['median']:.1f} "
                f"({c['time_ms']['min']:.1f}) ms | {c['worker_cpu_ms']:.1f} ms | {c['child_cpu_ms']:.1f} ms | "
                f"{c['rss_growth_mib']} MiB | {c['message'][:60]}{'…' if len(c['message']) > 60 else ''} |"
            )
    e = results.get("evidence")
    if e:
        lines += [
            "",
            f"佐证材料 (issue 13): a {e['file_mib']} MB PDF posted to the evidence page through Django's WSGI handler "
            "(the body read from a file, as gunicorn passes it), then served to the officer chunk by chunk. *Peak*: "
            "the web worker's resident-memory high-water mark during the request above its memory before. "
            "*Floor*: reading the stored file in the same 64 KiB chunks without Django.",
            "",
            "| storage | upload | upload peak | serve | serve peak | serve floor | × floor | MiB/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, r in e["storages"].items():
            up, sv = r["upload"], r["serve"]
            lines.append(
                f"| {label} | {_ms(up['time'])} | +{up['peak_mib']} MiB ({up['peak_share']:.1%}) | {_ms(sv['time'])} | "
                f"+{sv['peak_mib']} MiB | {_ms(sv['floor'])} | {sv['ratio_floor']} | {sv['mib_per_s']} |")
        if e.get("export"):
            x = e["export"]
            lines += ["", f"One export (`exporting.write_files`, xlsx + JSON) to the S3 bucket: {_ms(x['s3'])} ms; to the "
                          f"local disk: {_ms(x['local'])} ms; ratio {x['ratio']}×."]
        elif not e.get("s3"):
            lines += ["", "S3 (SeaweedFS on 127.0.0.1:8333) did not answer: the S3 rows were not measured."]
    lines += ["", "| target | limit | measured | |", "|---|---|---|---|"]
    for target in results.get("targets", []):
        status = "met" if target["met"] else "**missed**"
        lines.append(f"| {target['what']} | {target['limit']} | {target['value']} | {status} |")
    return "\n".join(lines) + "\n"


def update_readme(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START not in text or END not in text:
        return
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{table}{END}{tail}", encoding="utf-8")
