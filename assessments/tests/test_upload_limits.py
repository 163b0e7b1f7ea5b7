"""Issue 12, finding 1: no upload can make the web worker spend more than a second.

A 5 KB sheet with ``<mergeCell ref="A1:Z100000"/>`` passed every upload check and then cost 51.7 s
and 886 MB (``A1:XFD1048576`` would have exhausted memory); an 8.5 MB file with a 47 MB shared
strings part cost 16 s. Now the workbook is refused by what it *declares* (importing.safety,
streaming, before openpyxl builds any cell), and whatever is parsed is parsed in a child process
with a CPU-time, memory and wall-clock limit (importing.sandbox).

Every hostile workbook here is written by hand (zip + XML, assessments/tests/hostile.py).
"""

import io
import json
import logging
import os
import time
from pathlib import Path

import openpyxl
import pytest
from django.db import connection

from assessments.importing import parser, safety, sandbox
from assessments.models import Assessment
from assessments.views import imports

from . import hostile
from .test_import import national_workbook, seed_001_workbook, seed_004_workbook, to_bytes, upload


@pytest.fixture
def officer(client, alice, department):
    client.force_login(alice)
    return client


@pytest.fixture
def no_openpyxl(monkeypatch):
    """openpyxl must not even be asked: the parsing child inherits this patch and fails loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl.load_workbook called for a workbook that declares too much")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    monkeypatch.setattr(parser.openpyxl, "load_workbook", refuse)


def children() -> list[int]:
    """Live (not zombie) child processes of this process."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                found.append((int(entry.name), fields[0]))
    return found


def refused(response) -> str:
    assert response.status_code == 400
    [message] = response.context["form"].errors["file"]
    assert message in response.content.decode()
    return message


_SST47 = {}


def sst47() -> bytes:
    if "data" not in _SST47:
        _SST47["data"] = hostile.shared_strings_bomb(47)
    return _SST47["data"]


SHEET = "工作表“自评表”"
DECLARED = [
    ("merged-bomb", hostile.merged_bomb,
     f"{SHEET}中的合并单元格过大：到 A1:Z100000 为止合并区域累计 2,600,000 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"),
    ("merged-whole-sheet", lambda: hostile.merged_bomb("A1:XFD1048576"),
     f"{SHEET}中的合并单元格过大：到 A1:XFD1048576 为止合并区域累计 17,179,869,184 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"),
    ("merged-many-small", lambda: hostile.many_merged_ranges(301),
     f"{SHEET}中的合并单元格过大：到 A301:J301 为止合并区域累计 3,010 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"),
    ("merged-bomb-sheet-under-media", lambda: hostile.merged_bomb(sheet_part="xl/media/image1.xml"),
     f"{SHEET}中的合并单元格过大：到 A1:Z100000 为止合并区域累计 2,600,000 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"),
    ("hyperlink-whole-sheet", hostile.hyperlink_bomb,
     f"{SHEET}中的超链接范围过大：到 A1:XFD1048576 为止累计 17,179,869,184 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。"),
    ("dimension", hostile.dimension_bomb,
     f"{SHEET}声明的数据范围 A1:XFD1048576 共 17,179,869,184 个单元格，超过 1,000,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请在 Excel 或 WPS 中删除多余的行和列后重新保存再上传。"),
    ("cells", lambda: hostile.cells_bomb(4001),
     f"{SHEET}中的单元格过多：整个工作簿超过 4,000 个单元格，不像是一份自评表，已拒绝导入。"
     "请删除无关的工作表后重新保存再上传。"),
    ("rows", lambda: hostile.rows_bomb(4001),
     f"{SHEET}中的行过多：整个工作簿超过 4,000 行，不像是一份自评表，已拒绝导入。请删除无关的工作表后重新保存再上传。"),
    ("merged-bomb-zero-padded", lambda: hostile.merged_bomb("A0000000001:Z0000100000"),
     f"{SHEET}中的合并单元格过大：到 A0000000001:Z0000100000 为止合并区域累计 2,600,000 个单元格，超过 3,000 个的上限，"
     "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"),
    ("comment-on-a-range", lambda: hostile.workbook(extra={"xl/comments1.xml": (
        f'<comments xmlns="{hostile.MAIN}"><authors><author>x</author></authors><commentList>'
        '<comment ref="A1:XFD1048576" authorId="0"><text><t>x</t></text></comment></commentList></comments>').encode()}),
     "文件内部的“xl/comments1.xml”中的单元格过多：整个工作簿超过 4,000 个单元格，不像是一份自评表，已拒绝导入。"
     "请删除无关的工作表后重新保存再上传。"),
    ("dtd", hostile.dtd_bomb,
     "文件内部的“xl/worksheets/sheet1.xml”含有文档类型声明（DTD），Excel 工作簿不会包含这种内容，疑似异常文件，已拒绝导入。"),
    ("shared-strings-47mb", sst47,
     "工作簿的共享字符串表（xl/sharedStrings.xml）解压后为 47.0 MB，超过 1 MB 的上限，不像是一份自评表，已拒绝导入。"
     "请删除无关的工作表后重新保存再上传。"),
    ("shared-strings-renamed", hostile.renamed_shared_strings,
     "工作簿的共享字符串表（xl/strings.xml）解压后为 3.0 MB，超过 1 MB 的上限，不像是一份自评表，已拒绝导入。"
     "请删除无关的工作表后重新保存再上传。"),
    ("shared-strings-count", lambda: hostile.workbook("<sheetData/>", strings="<si><t>x</t></si>" * 8001),
     "工作簿的共享字符串表（xl/sharedStrings.xml）中的字符串超过 8,000 条，不像是一份自评表，已拒绝导入。"
     "请删除无关的工作表后重新保存再上传。"),
    ("xml-part-elsewhere", lambda: hostile.workbook(extra={"xl/custom.xml": b"<a>" + os.urandom(3 * 1024 * 1024).hex().encode() + b"</a>"}),
     "文件内部的“xl/custom.xml”解压后为 6.0 MB，超过 5 MB 的上限，疑似异常文件，已拒绝导入。"),
    ("xml-elements", lambda: hostile.workbook(extra={"xl/custom.xml": b"<a>" + b"<b/>" * 200_001 + b"</a>"}),
     "文件内部结构过于复杂（“xl/custom.xml”处累计超过 200,000 个 XML 元素），疑似异常文件，已拒绝导入。"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("name,make,message", DECLARED, ids=[d[0] for d in DECLARED])
def test_workbook_is_refused_by_what_it_declares(officer, no_openpyxl, name, make, message, settings):
    # The refusal must come from what the file declares, not from the CPU budget: on a busy machine
    # (both CI suites side by side) counting 200,001 elements once took more than its 0.8 s. The
    # budget has its own test (test_a_parse_that_burns_cpu_is_stopped_by_its_cpu_budget).
    settings.IMPORT_PARSE_CPU_SECONDS = 5
    before = Assessment.objects.count()
    response = upload(officer, make(), name=f"{name}.xlsx")
    assert refused(response) == message
    assert Assessment.objects.count() == before
    assert officer.session.get(imports.SESSION_KEY, {}) == {}
    assert children() == []


def utf16_merged_bomb() -> bytes:
    """The merged-range bomb with its sheet in UTF-16 (ElementTree, and so openpyxl, reads it)."""
    sheet = (f'<?xml version="1.0" encoding="UTF-16"?>\n<worksheet xmlns="{hostile.MAIN}"><sheetData/>'
             '<mergeCells count="1"><mergeCell ref="A1:Z100000"/></mergeCells></worksheet>')
    return hostile.workbook(extra={"xl/worksheets/sheet1.xml": sheet.encode("utf-16")})


def test_a_sheet_in_utf16_is_read_too(no_openpyxl):
    with pytest.raises(safety.UploadRefused, match="A1:Z100000"):
        safety.check_declared(utf16_merged_bomb())


def test_binary_parts_are_left_alone():
    safety.check_declared(hostile.workbook(extra={"xl/printerSettings/printerSettings1.bin": os.urandom(6 * 1024 * 1024)}))


def test_merged_bomb_is_refused_before_any_cell_is_built(no_openpyxl):
    data = hostile.merged_bomb()
    assert len(data) < 5 * 1024
    safety.check_upload(data)  # what was checked before: it passes
    with pytest.raises(safety.UploadRefused, match="A1:Z100000"):
        safety.check_declared(data)


def test_big_shared_strings_are_refused_from_the_zip_directory_alone(monkeypatch):
    data = sst47()
    assert 8 * 1024 * 1024 < len(data) < safety.MAX_UPLOAD_BYTES
    # Nothing is inflated: the size declared in the zip's central directory decides.
    monkeypatch.setattr("zipfile.ZipFile.read", lambda *a, **k: pytest.fail("inflated an entry"))
    monkeypatch.setattr("zipfile.ZipFile.open", lambda *a, **k: pytest.fail("inflated an entry"))
    with pytest.raises(safety.UploadRefused, match="47.0 MB"):
        safety.check_upload(data)


@pytest.mark.parametrize("make,limit", [
    (lambda n: hostile.cells_bomb(n), safety.MAX_CELLS),
    (lambda n: hostile.rows_bomb(n), safety.MAX_ROWS),
    (lambda n: hostile.many_merged_ranges(n // 10), safety.MAX_MERGED_CELLS),
    (lambda n: hostile.workbook("<sheetData/>", strings="<si><t>x</t></si>" * n), safety.MAX_SHARED_STRINGS),
], ids=["cells", "rows", "merged", "strings"])
def test_limits_are_exact(make, limit):
    safety.check_declared(make(limit))
    with pytest.raises(safety.UploadRefused):
        safety.check_declared(make(limit + 10))


@pytest.mark.parametrize("ref,cells", [
    ("A1", 1), ("A1:Z100000", 2_600_000), ("$A$1:$B$2", 4), ("A1:B2 C3:D4", 8), ("Z9:A1", 234),
    ("A:A", 1_048_576), ("1:2", 32_768), ("A1:XFD1048576", 17_179_869_184), ("", 0), ("junk!", 0), ("A1:B2:C3", 0),
    ("A0000000001:Z0000100000", 2_600_000), ("a1:b2", 4), ("B", 1_048_576), ("A1:A" + "9" * 5000, 0),
])
def test_area_of_a_reference(ref, cells):
    assert safety.area(ref) == cells


@pytest.mark.parametrize("make", [seed_001_workbook, seed_004_workbook, national_workbook], ids=["001", "004", "national"])
def test_real_workbooks_pass_and_parse_the_same_in_the_child(make):
    data = to_bytes(make())
    safety.check_upload(data)
    safety.check_declared(data)
    assert sandbox.parse_workbook(data).to_dict() == parser.parse_workbook(data).to_dict()
    assert children() == []


def test_the_worst_workbook_the_limits_let_through_is_read():
    data = hostile.worst_accepted(safety)
    safety.check_upload(data)
    safety.check_declared(data)  # just under every limit at once
    with pytest.raises(parser.NoTableFound):
        parser.parse_workbook(data)


# --- the child process and its limits ---------------------------------------------------------------


def spin(data, *_templates):
    while True:
        pass


def sleep(data, *_templates):
    time.sleep(60)


def eat_memory(data, *_templates):
    blocks = []
    while True:
        blocks.append(bytearray(32 * 1024 * 1024))


def crash(data, *_templates):
    raise RuntimeError("a bug in the parser (test)")


def vanish(data, *_templates):
    os._exit(3)


@pytest.mark.django_db
def test_a_parse_that_burns_cpu_is_stopped_by_its_cpu_budget(officer, monkeypatch, settings):
    settings.IMPORT_PARSE_WALL_SECONDS = 5  # far away: the CPU timer (0.8 s) must stop it, however busy the machine
    monkeypatch.setattr(parser, "parse_workbook", spin)
    started = time.monotonic()
    message = refused(upload(officer, to_bytes(seed_001_workbook())))
    assert message == ("读取该文件超过了 5 秒的处理时间上限：文件过于复杂，不像是一份自评表，已拒绝导入。"
                       "请删除无关的工作表后重新保存再上传。")
    assert time.monotonic() - started < 4.5
    assert children() == []


@pytest.mark.django_db
def test_a_child_stopped_by_the_clock_having_used_no_cpu_means_the_server_is_busy(officer, monkeypatch, settings):
    settings.IMPORT_PARSE_WALL_SECONDS = 0.5
    monkeypatch.setattr(parser, "parse_workbook", sleep)
    started = time.monotonic()
    assert refused(upload(officer, to_bytes(seed_001_workbook()))) == "服务器繁忙，暂时无法读取该文件，请稍后再试。"
    assert time.monotonic() - started < 3
    assert children() == []


@pytest.mark.django_db
def test_a_child_stopped_by_the_clock_while_working_is_too_slow(officer, monkeypatch, settings):
    settings.IMPORT_PARSE_WALL_SECONDS = 0.3
    monkeypatch.setattr(parser, "parse_workbook", sleep)
    monkeypatch.setattr(sandbox, "_cpu_used", lambda pid: 0.7)  # as if it had been computing all along
    assert refused(upload(officer, to_bytes(seed_001_workbook()))) == (
        "读取该文件超过了 1 秒的处理时间上限：文件过于复杂，不像是一份自评表，已拒绝导入。"
        "请删除无关的工作表后重新保存再上传。")
    assert children() == []


@pytest.mark.django_db
def test_a_parse_that_eats_memory_is_stopped_at_the_limit(officer, monkeypatch):
    monkeypatch.setattr(parser, "parse_workbook", eat_memory)
    rss_before = _rss()
    message = refused(upload(officer, to_bytes(seed_001_workbook())))
    assert message == ("读取该文件所需的内存超过了 256 MB 的上限：文件过于复杂，不像是一份自评表，已拒绝导入。"
                       "请删除无关的工作表后重新保存再上传。")
    assert _rss() - rss_before < 64 * 1024 * 1024  # the child's memory was its own
    assert children() == []


@pytest.mark.django_db
def test_a_crash_in_the_child_is_logged_and_shown_as_a_damaged_file(officer, monkeypatch, caplog):
    monkeypatch.setattr(parser, "parse_workbook", crash)
    with caplog.at_level(logging.WARNING, logger="assessments.views.imports"):
        assert refused(upload(officer, to_bytes(seed_001_workbook()))) == safety.CORRUPT
    [record] = [r for r in caplog.records if r.name == "assessments.views.imports"]
    assert "RuntimeError: a bug in the parser (test)" in str(record.exc_info[1])


@pytest.mark.django_db
def test_a_child_that_dies_without_an_answer_is_a_damaged_file(officer, monkeypatch):
    monkeypatch.setattr(parser, "parse_workbook", vanish)
    assert refused(upload(officer, to_bytes(seed_001_workbook()))) == safety.CORRUPT
    assert children() == []


@pytest.mark.django_db(transaction=True)
def test_the_web_workers_database_connection_survives_the_child(alice, department, client):
    """The child inherits the worker's connection (a socket on PostgreSQL) and must never touch it."""
    client.force_login(alice)
    for _ in range(3):
        assert upload(client, to_bytes(seed_004_workbook())).status_code == 302
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    assert Assessment.objects.filter(pk=department.pk).exists()


def test_the_result_is_the_parsed_workbook_as_json():
    data = to_bytes(seed_004_workbook())
    parsed = sandbox.parse_workbook(data)
    assert isinstance(parsed, parser.ParsedWorkbook)
    assert json.loads(json.dumps(parsed.to_dict(), ensure_ascii=False)) == parser.parse_workbook(data).to_dict()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _post_unread(path: str, size: int) -> tuple[list, io.BytesIO]:
    """A POST of `size` bytes straight through Django's WSGI handler, as gunicorn hands it over."""
    from django.core.handlers.wsgi import WSGIHandler

    stream = io.BytesIO(b"x" * size)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http",
        "wsgi.input": stream, "CONTENT_LENGTH": str(size), "CONTENT_TYPE": "multipart/form-data; boundary=x",
    }
    statuses = []
    WSGIHandler()(environ, lambda status, headers, exc_info=None: statuses.append(status))
    return statuses, stream


@pytest.mark.django_db
def test_a_refused_upload_is_read_to_the_end_before_the_answer(settings):
    """An expired session's upload is redirected to the login page only once its body is read:
    gunicorn closing a socket with unread data makes nginx answer 502 (test_compose)."""
    size = 3 * 1024 * 1024
    statuses, stream = _post_unread("/assessments/1/sealed/", size)
    assert statuses == ["302 Found"]
    assert stream.tell() == size
    statuses, stream = _post_unread("/assessments/1/evidence/", size)
    assert statuses == ["302 Found"] and stream.tell() == size
    settings.PORTAL_DRAIN_BODY_MAX = size - 1  # above what nginx lets through: left alone
    statuses, stream = _post_unread("/assessments/1/sealed/", size)
    assert statuses == ["302 Found"] and stream.tell() == 0
