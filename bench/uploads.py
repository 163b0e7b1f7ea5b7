"""The worst uploads an officer can send, and what each costs a web worker (issue 12, finding 1).

Each case posts a prepared multipart body to 从Excel导入 (`assessments:import`) as the probe officer,
through the whole middleware stack, and measures in this process — which plays the web worker:

- `time`: the request, from the first byte handed to Django to the response (median, min);
- `worker_cpu`: CPU time of this process during the request;
- `child_cpu`: CPU time of the child processes that ended during it (the parsing sandbox);
- `rss_growth`: resident memory this process kept after the request.

The hostile workbooks are written by `assessments/tests/hostile.py`. Two cases stand for what the
declared-size checks cannot foresee: the parser is replaced for the request by one that spins,
and by one that allocates without end; the child's CPU and memory limits must stop them.
"""

import html
import io
import os
import re
import resource
import statistics
import time

from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.test.utils import setup_test_environment, teardown_test_environment
from django.urls import reverse

from assessments.importing import parser, safety, sandbox
from assessments.tests import hostile

BOUNDARY = "BoUnDaRyStRiNg"  # django.test.client's own, so MULTIPART_CONTENT matches
LIMIT_S = 1.0
_FILE_ERROR = re.compile(r'<div class="invalid-feedback d-block field-error" data-field="file">(.*?)</div>', re.S)


def _spin(data):
    while True:
        pass


def _eat_memory(data):
    blocks = []
    while True:
        blocks.append(bytearray(32 * 1024 * 1024))


def cases() -> list[dict]:
    """name, label, the workbook's bytes; `parser`: a replacement for the request; `hostile`: False for the control."""
    from assessments.tests.test_import import seed_004_workbook, to_bytes

    return [
        {"name": "merged_bomb", "label": "合并单元格 A1:Z100000（几 KB 的文件）", "data": hostile.merged_bomb()},
        {"name": "merged_whole_sheet", "label": "合并单元格 A1:XFD1048576", "data": hostile.merged_bomb("A1:XFD1048576")},
        {"name": "hyperlink_whole_sheet", "label": "超链接覆盖 A1:XFD1048576", "data": hostile.hyperlink_bomb()},
        {"name": "shared_strings_47mb", "label": "共享字符串表解压后 47 MB", "data": hostile.shared_strings_bomb(47)},
        {"name": "dtd", "label": "XML 实体膨胀（billion laughs）", "data": hostile.dtd_bomb()},
        {"name": "worst_accepted", "label": "各项声明上限之内最重的工作簿", "data": hostile.worst_accepted(safety)},
        {"name": "unforeseen_cpu", "label": "检查未能预见的耗时解析（模拟：解析器空转）",
         "data": to_bytes(seed_004_workbook()), "parser": _spin},
        {"name": "unforeseen_memory", "label": "检查未能预见的内存膨胀（模拟：解析器不断申请内存）",
         "data": to_bytes(seed_004_workbook()), "parser": _eat_memory},
        {"name": "legit", "label": "正常的自评表（种子 004）", "data": to_bytes(seed_004_workbook()), "hostile": False},
    ]


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(client, round_, reps: int, log=print) -> dict:
    """Measure every case `reps` times (after one captured, untimed pass). Returns the results."""
    url = reverse("assessments:import")
    results = {}
    for case in cases():
        name = case["name"]
        upload = io.BytesIO(case["data"])
        upload.name = f"{name}.xlsx"
        body = encode_multipart(BOUNDARY, {"file": upload, "round": str(round_.pk)})
        replaced = case.get("parser")
        original = parser.parse_workbook
        if replaced:
            parser.parse_workbook = replaced  # the forked child inherits it
        try:
            setup_test_environment()
            try:
                first = client.generic("POST", url, body, content_type=MULTIPART_CONTENT)
            finally:
                teardown_test_environment()
            errors = first.context["form"].errors.get("file", []) if first.context and "form" in first.context else []
            samples, worker_cpu, child_cpu, growth = [], [], [], []
            for _ in range(reps):
                rss0, cpu0, child0 = _rss(), time.process_time(), _children_cpu()
                t0 = time.perf_counter()
                response = client.generic("POST", url, body, content_type=MULTIPART_CONTENT)
                samples.append(time.perf_counter() - t0)
                worker_cpu.append(time.process_time() - cpu0)
                child_cpu.append(_children_cpu() - child0)
                growth.append(max(0, _rss() - rss0))
                if response.status_code != first.status_code:
                    raise RuntimeError(f"upload case {name}: {response.status_code} after {first.status_code}")
        finally:
            parser.parse_workbook = original
        message = html.unescape(m.group(1)) if (m := _FILE_ERROR.search(first.content.decode())) else ""
        results[name] = {
            "label": case["label"],
            "hostile": case.get("hostile", True),
            "upload_bytes": len(case["data"]),
            "status": first.status_code,
            "message": (errors[0] if errors else message),
            "time_ms": {"median": round(statistics.median(samples) * 1000, 1), "min": round(min(samples) * 1000, 1),
                        "max": round(max(samples) * 1000, 1), "n": len(samples)},
            "worker_cpu_ms": round(statistics.median(worker_cpu) * 1000, 1),
            "child_cpu_ms": round(statistics.median(child_cpu) * 1000, 1),
            "rss_growth_mib": round(max(growth) / 1024 / 1024, 1),
        }
        log(f"  upload {name}: {results[name]['status']} in {results[name]['time_ms']['median']} ms "
            f"(worker CPU {results[name]['worker_cpu_ms']} ms, child CPU {results[name]['child_cpu_ms']} ms)")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cases": results,
        "limits": {
            "cpu_s": sandbox.cpu_seconds(), "wall_s": sandbox.wall_seconds(), "memory_mb": sandbox.memory_megabytes(),
            "cells": safety.MAX_CELLS, "merged_cells": safety.MAX_MERGED_CELLS, "shared_strings": safety.MAX_SHARED_STRINGS,
            "shared_strings_bytes": safety.MAX_SHARED_STRINGS_BYTES,
        },
        "child_peak_rss_mib": round(children.ru_maxrss / 1024, 1),
        "worst_hostile_ms": max(r["time_ms"]["median"] for r in results.values() if r["hostile"]),
    }


def targets(result: dict) -> list[dict]:
    worst = max((r for r in result["cases"].values() if r["hostile"]), key=lambda r: r["time_ms"]["median"])
    value = worst["time_ms"]["median"] / 1000
    return [{
        "id": "upload:worst",
        "what": "the worst upload an officer can send costs ≤ 1 s of a web worker (request time, median)",
        "limit": f"≤ {LIMIT_S:g} s",
        "value": f"{value:.2f} s ({worst['label']})",
        "ratio": round(value / LIMIT_S, 2),
        "met": value <= LIMIT_S,
        "case": None,
    }]
