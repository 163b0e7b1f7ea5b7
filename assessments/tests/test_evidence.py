"""佐证材料 (issue 13): upload and removal by the officer, checks from the content, hostile files,
the submitted set frozen in the snapshot, reviewers beside each row, the evidence flags, and the
files served with safe headers by the portal."""

import io
import zipfile
import zlib

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from assessments import evidence, flags, workflow
from assessments.models import Assessment, AuditEvent, Evidence, FundingRow, Indicator, Snapshot
from portal import storage

from .helpers import body

pytestmark = pytest.mark.django_db


# --- Files ------------------------------------------------------------------------------------

def pdf(extra: bytes = b"", *, objstm: bytes | None = None) -> bytes:
    """A small well-formed PDF; `extra` goes into the catalog, `objstm` into a compressed object stream."""
    parts = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + extra + b">>\nendobj\n",
             b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
             b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n"]
    content = b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n" + bytes(range(256)) * 4  # binary: never scanned
    parts.append(b"4 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n")
    if objstm is not None:
        packed = zlib.compress(b"5 0 " + objstm)
        parts.append(b"6 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
                     + packed + b"\nendstream\nendobj\n")
    parts.append(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return b"".join(parts)


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 40


def office(kind: str, extra: dict | None = None) -> bytes:
    out = io.BytesIO()
    main = {"xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
            "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
            "xlsm": ("xl/workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml")}[kind]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", f'<?xml version="1.0"?><Types><Override PartName="/{main[0]}" ContentType="{main[1]}"/></Types>')
        z.writestr(main[0], "<x/>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def ofd() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0"/>')
        z.writestr("Doc_0/Document.xml", "<x/>")
    return out.getvalue()


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


# --- Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def rows(department):
    FundingRow.objects.filter(assessment=department, source="total").update(budget=100, actual=95)
    made = [
        Indicator.objects.create(assessment=department, position=1, level1="产出指标", level2="数量指标", name="培训次数",
                                 target="≥10次", actual="10次", weight=50),
        Indicator.objects.create(assessment=department, position=2, level1="效益指标", level2="社会效益指标", name="社会稳定",
                                 target="有所帮助", actual="有所帮助", weight=30),
        Indicator.objects.create(assessment=department, position=3, level1="满意度指标", level2="服务对象满意度指标",
                                 name="群众满意度", target="≥95%", actual="100%", weight=10),
    ]
    return made


def post_files(client, a, files, **fields):
    data = {"kind": "evidence", "title": "培训签到表", "note": "", "indicator": "", **fields, "files": files}
    return client.post(reverse("assessments:evidence", args=[a.pk]), data)


def errors(response) -> list[str]:
    return response.context["errors"] + [str(e) for e in response.context["form"].errors.get("title", [])]


# --- What is accepted -------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "content_type", "stored_as"), [
    ("签到表.pdf", pdf(), "application/pdf", "签到表.pdf"),
    ("现场照片.jpeg", JPEG, "image/jpeg", "现场照片.jpg"),
    ("截图.png", PNG, "image/png", "截图.png"),
    ("统计.xlsx", office("xlsx"), evidence.XLSX.content_type, "统计.xlsx"),
    ("纪要.docx", office("docx"), evidence.DOCX.content_type, "纪要.docx"),
    ("发票.ofd", ofd(), "application/ofd", "发票.ofd"),
    ("scan.dat", pdf(), "application/pdf", "scan.dat.pdf"),  # the content decides, not the name
])
def test_accepted_types_are_stored_and_served_back_byte_for_byte(alice_client, department, name, data, content_type, stored_as):
    response = post_files(alice_client, department, [upload(name, data)])
    assert response.status_code == 302, errors(response)
    item = Evidence.objects.get(assessment=department)
    assert (item.content_type, item.original_name, item.size) == (content_type, stored_as, len(data))
    assert item.file.name.startswith(f"evidence/{department.pk}/") and name not in item.file.name
    assert storage.read_bytes(item.file.name) == data
    served = alice_client.get(reverse("assessments:evidence_file", args=[department.pk, item.pk]))
    assert served.status_code == 200 and body(served) == data
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in served["Cache-Control"]
    disposition = served["Content-Disposition"]
    assert disposition.startswith("inline" if content_type in ("application/pdf", "image/jpeg", "image/png") else "attachment")


def test_limits_are_stated_on_the_page(alice_client, department, settings):
    page = alice_client.get(reverse("assessments:evidence", args=[department.pk])).content.decode()
    assert f"单个文件不超过 <strong>{settings.EVIDENCE_MAX_FILE_MB} MB</strong>" in page
    assert f"每份自评合计不超过 <strong>{settings.EVIDENCE_MAX_TOTAL_MB} MB</strong>" in page


def test_the_page_names_each_row_as_the_read_model_numbers_it_reading_only_the_indicator_rows(
        alice_client, department, rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments import readmodel

    rows[0].position = 9  # out of the order they were made in: the page follows the table's order
    rows[0].save()
    post_files(alice_client, department, [upload("签到表.pdf", pdf())], indicator=str(rows[1].key), title="会议纪要")
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get(reverse("assessments:evidence", args=[department.pk]))
    lines = readmodel.load(department.pk).indicators
    assert [(g.number, g.label, [e.title for e in g.items]) for g in page.context["groups"]] == [
        (None, "整体（不对应具体指标）", []), (1, "第1行 社会稳定", ["会议纪要"]), (2, "第2行 群众满意度", []),
        (3, "第3行 培训次数", [])]
    assert [(line.number, line.key) for line in lines] == [(1, str(rows[1].key)), (2, str(rows[2].key)), (3, str(rows[0].key))]
    assert list(page.context["form"].fields["indicator"].choices) == [("", "整体（不对应具体指标）")] + [
        (line.key, f"第{line.number}行 {line.name}") for line in lines]
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert "assessments_indicator" in read
    assert not any(table in read for table in ("assessments_fundingrow", "assessments_goal", "assessments_reportsection",
                                               "assessments_projectexpense", "assessments_structurerow"))


# --- Hostile files ----------------------------------------------------------------------------

POLYGLOT_ZIP = pdf() + office("docx")
HOSTILE = {
    "renamed executable": ("报告.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00", "Windows 可执行程序"),
    "ELF renamed": ("照片.jpg", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "可执行程序"),
    "PDF with JavaScript": ("通知.pdf", pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), "JavaScript"),
    "PDF with hex-escaped JavaScript": ("通知.pdf", pdf(b"/OpenAction << /S /J#61vaScript /JS (x) >> "), "JavaScript"),
    "PDF with JavaScript in an object stream": ("通知.pdf", pdf(objstm=b"<< /S /JavaScript /JS (app.alert(1)) >>"), "JavaScript"),
    "PDF with launch action": ("通知.pdf", pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >> "), "启动程序"),
    "PDF with embedded file": ("通知.pdf", pdf(b"/Names << /EmbeddedFiles 9 0 R >> "), "内嵌附件"),
    "encrypted PDF": ("通知.pdf", pdf().replace(b"<< /Root 1 0 R >>", b"<< /Root 1 0 R /Encrypt 8 0 R >>"), "加密"),
    "SVG": ("图.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    "bare SVG": ("图.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG"),
    "HTML": ("说明.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "网页"),
    "PDF + ZIP polyglot": ("合并.pdf", POLYGLOT_ZIP, "伪装文件"),
    "JPEG with a script": ("照片.jpg", JPEG[:-2] + b"<script>alert(1)</script>\xff\xd9", "网页或脚本"),
    "PDF header after junk": ("x.pdf", b"GIF89a" + b"\x00" * 20 + pdf(), "伪装文件"),
    "macro workbook": ("统计.xlsx", office("xlsm", {"xl/vbaProject.bin": b"\x00" * 10}), "宏"),
    "docx with an embedded executable": ("纪要.docx", office("docx", {"word/embeddings/oleObject1.bin": b"MZ"}), "可执行的对象"),
    "zip that is not Office": ("资料.docx", (lambda: (lambda b: (zipfile.ZipFile(b, "w").writestr("a.txt", "x"), b)[1].getvalue())(io.BytesIO()))(), "不是 Excel、Word 或 OFD"),
    "zip path traversal": ("纪要.docx", office("docx", {"../../evil.txt": "x"}), "异常的路径"),
    "old Word": ("纪要.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "旧版 Office"),
    "empty": ("空.pdf", b"", "空文件"),
    "unknown": ("未知.pdf", b"just some text, nothing known\n" * 5, "无法识别"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_refused_with_a_clear_message_and_nothing_stored(alice_client, department, case):
    name, data, words = HOSTILE[case]
    response = post_files(alice_client, department, [upload(name, data)], title="保留的标题", note="保留的说明")
    assert response.status_code == 400
    message = " ".join(errors(response))
    assert words in message, message
    assert not Evidence.objects.exists()
    assert not default_storage.exists(f"evidence/{department.pk}") or default_storage.listdir(f"evidence/{department.pk}")[1] == []
    page = response.content.decode()
    assert 'value="保留的标题"' in page and 'value="保留的说明"' in page  # the rest of the form is kept


def test_one_bad_file_among_good_ones_stores_none(alice_client, department):
    response = post_files(alice_client, department, [upload("a.pdf", pdf()), upload("b.pdf", b"MZ" + b"\x00" * 100)])
    assert response.status_code == 400
    assert "本次未上传任何文件" in " ".join(errors(response)) or "可执行" in " ".join(errors(response))
    assert not Evidence.objects.exists()


def test_names_with_traversal_and_control_characters_are_cleaned(alice_client, department):
    response = post_files(alice_client, department, [upload("../../etc/\x00pa\u202esswd\r\n.pdf", pdf())])
    assert response.status_code == 302, errors(response)
    item = Evidence.objects.get()
    assert item.original_name == "passwd.pdf"
    assert ".." not in item.file.name and "\x00" not in item.file.name
    assert evidence.clean_name("..\\..\\a/b/..\\c:d*e?.pdf") == "c_d_e_.pdf"
    assert evidence.clean_name("...") == "未命名"
    assert len(evidence.clean_name("很长" * 200 + ".pdf")) == 100


def test_an_oversized_file_is_stopped_while_streaming(alice_client, department, settings):
    settings.EVIDENCE_MAX_FILE_MB = 1
    big = pdf() + b"%" + b"x" * (1024 * 1024)
    response = post_files(alice_client, department, [upload("大文件.pdf", big)], title="大文件")
    assert response.status_code == 400
    assert "超过单个文件 1 MB 的上限" in " ".join(errors(response))
    assert 'value="大文件"' in response.content.decode()
    assert not Evidence.objects.exists()


def test_a_thousand_tiny_files_are_refused_in_one_upload_and_capped_per_assessment(alice_client, department, settings):
    tiny = [upload(f"{n}.png", PNG) for n in range(1000)]
    response = post_files(alice_client, department, tiny)
    assert response.status_code == 400
    assert "一次最多上传 10 个文件" in " ".join(errors(response))
    assert not Evidence.objects.exists()
    settings.EVIDENCE_MAX_FILES = 12
    for _ in range(2):
        assert post_files(alice_client, department, [upload(f"{n}.png", PNG) for n in range(6)]).status_code == 302
    response = post_files(alice_client, department, [upload("13.png", PNG)])
    assert response.status_code == 400 and "最多 12 个" in " ".join(errors(response))
    assert Evidence.objects.count() == 12


def test_the_total_per_assessment_is_capped(alice_client, department, settings):
    settings.EVIDENCE_MAX_TOTAL_MB = 1
    half = pdf() + b"%" + b"x" * (600 * 1024)
    assert post_files(alice_client, department, [upload("a.pdf", half)]).status_code == 302
    response = post_files(alice_client, department, [upload("b.pdf", half)])
    assert response.status_code == 400 and "合计不能超过 1 MB" in " ".join(errors(response))
    assert Evidence.objects.count() == 1


def test_uploads_are_streamed_to_a_temporary_file_not_memory(alice_client, department, monkeypatch):
    seen = []
    original = evidence.EvidenceUploadHandler.file_complete

    def spy(self, size):
        result = original(self, size)
        seen.append(type(result.file).__name__)
        return result

    monkeypatch.setattr(evidence.EvidenceUploadHandler, "file_complete", spy)
    assert post_files(alice_client, department, [upload("a.pdf", pdf())]).status_code == 302
    assert seen == ["_TemporaryFileWrapper"]


# --- Who may do what --------------------------------------------------------------------------

def test_other_units_and_reviewers_of_drafts_see_nothing(client, alice_client, bob, reviewer, department):
    post_files(alice_client, department, [upload("a.pdf", pdf())])
    item = Evidence.objects.get()
    client.force_login(bob)
    assert client.get(reverse("assessments:evidence", args=[department.pk])).status_code == 404
    assert client.get(reverse("assessments:evidence_file", args=[department.pk, item.pk])).status_code == 404
    client.force_login(reviewer)
    assert client.get(reverse("assessments:review_evidence_file", args=[department.pk, item.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("assessments:evidence_file", args=[department.pk, item.pk])).status_code == 302  # login


def test_no_upload_or_removal_once_submitted(alice_client, alice, department, rows):
    post_files(alice_client, department, [upload("a.pdf", pdf())])
    workflow.perform(alice, department, "submit")
    response = post_files(alice_client, department, [upload("b.pdf", pdf())])
    assert response.status_code == 403 and not Evidence.objects.filter(title="培训签到表", pk__gt=Evidence.objects.get().pk)
    item = Evidence.objects.get()
    alice_client.post(reverse("assessments:evidence_remove", args=[department.pk, item.pk]))
    assert Evidence.objects.get().removed_at is None


# --- Frozen with the submission; reviewers; flags --------------------------------------------

def test_submitted_set_is_frozen_and_a_later_removal_stays_reachable_for_reviewers(
        client, alice_client, alice, reviewer, department, rows, django_capture_on_commit_callbacks):
    satisfaction = rows[2]
    post_files(alice_client, department, [upload("调查.pdf", pdf())], kind="survey", title="满意度调查表",
               indicator=str(satisfaction.key))
    post_files(alice_client, department, [upload("签到.png", PNG)], title="签到表", indicator=str(rows[0].key))
    draft_only = post_files(alice_client, department, [upload("草稿.png", PNG)], title="未提交")
    assert draft_only.status_code == 302
    unsent = Evidence.objects.get(title="未提交")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("assessments:evidence_remove", args=[department.pk, unsent.pk]))
    assert not Evidence.objects.filter(pk=unsent.pk).exists()  # never submitted: gone for good
    assert not default_storage.exists(unsent.file.name)

    workflow.perform(alice, department, "submit")
    snap = Snapshot.objects.get(assessment=department)
    assert [(e["title"], e["kind"]) for e in snap.data["evidence"]] == [("满意度调查表", "survey"), ("签到表", "evidence")]
    department.refresh_from_db()
    assert "full_no_evidence" not in department.risk_flags and "satisfaction_no_survey" not in department.risk_flags

    workflow.perform(reviewer, department, "start_review")
    workflow.perform(reviewer, department, "return", "请补充材料")
    survey = Evidence.objects.get(title="满意度调查表")
    alice_client.post(reverse("assessments:evidence_remove", args=[department.pk, survey.pk]))
    survey.refresh_from_db()
    assert survey.removed_at is not None and default_storage.exists(survey.file.name)

    client.force_login(reviewer)
    page = client.get(reverse("assessments:review", args=[department.pk]))
    assert [e["title"] for e in page.context["evidence_entries"]] == ["满意度调查表", "签到表"]
    served = client.get(reverse("assessments:review_evidence_file", args=[department.pk, survey.pk]))
    assert served.status_code == 200 and served["Content-Disposition"].startswith("inline")
    assert AuditEvent.objects.filter(action="evidence.download", actor=reviewer).count() == 1
    assert AuditEvent.objects.filter(action="evidence.upload").count() == 3
    assert AuditEvent.objects.filter(action="evidence.remove").count() == 2

    # Resubmitted without the survey: the diff says so, and the flag fires.
    workflow.perform(alice, department, "submit")
    page = client.get(reverse("assessments:review", args=[department.pk]))
    assert [(c.kind, c.title) for c in page.context["evidence_changes"]] == [("removed", "满意度调查表")]
    assert "satisfaction_no_survey" in [f.code for f in page.context["flag_list"]]
    department.refresh_from_db()
    assert "satisfaction_no_survey" in department.risk_flags
    dashboard = client.get(reverse("assessments:dashboard"))
    row = next(a for a in dashboard.context["page"] if a.pk == department.pk)
    assert row.evidence_count == 1


def test_full_marks_on_a_quantity_row_without_evidence_is_flagged(alice, department, rows):
    workflow.perform(alice, department, "submit")
    department.refresh_from_db()
    codes = department.risk_flags.strip(",").split(",")
    assert "full_no_evidence" in codes and "satisfaction_no_survey" in codes
    assert flags.FLAGS["full_no_evidence"].label == "满分无佐证"


def test_reviewer_marks_a_file_public_and_the_published_page_lists_it_never_for_secret(
        client, alice_client, alice, reviewer, department, rows, django_capture_on_commit_callbacks):
    post_files(alice_client, department, [upload("调查.pdf", pdf())], kind="survey", title="满意度调查表")
    item = Evidence.objects.get()
    workflow.perform(alice, department, "submit")
    workflow.perform(reviewer, department, "start_review")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, department, "approve")
    department.refresh_from_db()
    assert department.state == Assessment.State.PUBLISHED
    url = reverse("disclosure:evidence", args=[department.pk, item.pk])
    assert client.get(url).status_code == 404  # not public until a reviewer says so
    client.force_login(reviewer)
    client.post(reverse("assessments:review_evidence_public", args=[department.pk, item.pk]), {"public": "1"})
    client.logout()
    page = client.get(reverse("disclosure:detail", args=[department.pk])).content.decode()
    assert url in page
    served = client.get(url)
    assert served.status_code == 200 and body(served) == pdf()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, department, "unpublish", "撤回")
    assert client.get(url).status_code == 410


def test_the_bulk_zip_for_reviewers_may_carry_the_submitted_evidence(
        client, alice_client, alice, reviewer, department, rows, round_2020, django_capture_on_commit_callbacks):
    post_files(alice_client, department, [upload("调查.pdf", pdf())], kind="survey", title="满意度调查表",
               indicator=str(rows[2].key))
    workflow.perform(alice, department, "submit")
    workflow.perform(reviewer, department, "start_review")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, department, "approve")
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("assessments:bulk"), {"round": round_2020.pk, "with_evidence": "on"})
    from assessments.models import BulkExport

    job = BulkExport.objects.get()
    assert job.with_evidence and job.status == BulkExport.Status.DONE, job.error
    archive = zipfile.ZipFile(io.BytesIO(body(client.get(reverse("assessments:bulk_download", args=[job.pk])))))
    item = Evidence.objects.get()
    names = archive.namelist()
    entry = next(n for n in names if n.endswith(f"{item.pk:06d}-满意度调查表.pdf"))
    assert entry.count("/") == 1 and ".." not in entry
    assert archive.read(entry) == pdf()


def test_files_on_disk_go_to_s3_from_their_path_not_read_into_memory(settings, tmp_path, monkeypatch):
    """boto3 reads each multipart part of an open file object into memory; from a path it reads
    the parts as it sends them (portal.storage.PrivateS3Storage._save)."""
    if not settings.STORAGE_S3_BUCKET:
        pytest.skip("needs S3 (STORAGE_S3_BUCKET; the PostgreSQL run of scripts/test.sh sets it)")
    from django.core.files import File
    from storages.backends.s3 import S3Storage

    data = pdf() * 2000  # ~2.6 MB
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    sent_as_object = []
    original = S3Storage._save
    monkeypatch.setattr(S3Storage, "_save", lambda self, name, content: sent_as_object.append(name) or original(
        self, name, content))
    with path.open("rb") as handle:
        storage.put("evidence/path-test.pdf", File(handle))
    storage.put("evidence/bytes-test.pdf", b"%PDF-1.4 small")
    assert sent_as_object == ["evidence/bytes-test.pdf"]  # only the bytes went through upload_fileobj
    assert storage.read_bytes("evidence/path-test.pdf") == data
    assert storage.read_bytes("evidence/bytes-test.pdf") == b"%PDF-1.4 small"


def test_the_excel_import_leaves_evidence_alone_and_says_what_becomes_of_each_rows_files(alice_client, department, rows,
                                                                                          settings):
    """佐证材料 are not in the workbook: an import that replaces the draft's tables keeps every file;
    files of rows the workbook has again (same 一级/二级/三级 names) follow them, the others are
    listed with the whole assessment; the preview says so with the numbers."""
    import openpyxl

    # The parsing child's clock (0.9 s) answers 服务器繁忙 on a machine shared by parallel runs:
    # what is tested here is the note, not the sandbox's budget (test_import covers that).
    settings.IMPORT_PARSE_WALL_SECONDS = 30

    from assessments import readmodel

    from .test_import import internal_export, to_bytes
    from .test_import import upload as upload_workbook

    post_files(alice_client, department, [upload("签到.png", PNG)], title="培训签到表", indicator=str(rows[0].key))
    post_files(alice_client, department, [upload("调查.pdf", pdf())], kind="survey", title="满意度调查表",
               indicator=str(rows[2].key))
    post_files(alice_client, department, [upload("纪要.pdf", pdf())], kind="minutes", title="会议纪要")
    replace = reverse("assessments:import_replace", kwargs={"pk": department.pk})

    same = alice_client.get(upload_workbook(alice_client, internal_export(department.pk), url=replace)["Location"])
    assert "佐证材料不随 Excel 导入：本草稿已上传的 3 个佐证材料保留不变，对应的指标行在文件中都有同名指标，导入后仍对应原指标。" in (
        same.context["notes"])

    workbook = openpyxl.load_workbook(io.BytesIO(internal_export(department.pk)))
    renamed = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value == "群众满意度"]
    assert len(renamed) == 1
    renamed[0].value = "群众满意度（问卷）"
    preview = alice_client.get(upload_workbook(alice_client, to_bytes(workbook), url=replace)["Location"])
    note = next(n for n in preview.context["notes"] if n.startswith("佐证材料不随 Excel 导入"))
    assert note == ("佐证材料不随 Excel 导入：本草稿已上传的 3 个佐证材料保留不变；其中 1 个所对应的指标在文件中没有同名指标"
                    "（一级、二级、三级指标名称均相同），导入后改列在“整体（不对应具体指标）”下，请到“佐证材料”页核对，"
                    "必要时移除后重新上传到对应指标。")
    confirm = alice_client.post(reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]}),
                                {"confirm_replace": "on"})
    assert confirm.status_code == 302
    assert Evidence.objects.filter(assessment=department, removed_at__isnull=True).count() == 3
    groups = evidence.grouped(readmodel.load(department.pk).indicators, evidence.current(department))
    assert [(g.label, [e.title for e in g.items]) for g in groups if g.items] == [
        ("整体（不对应具体指标）", ["满意度调查表", "会议纪要"]), ("第1行 培训次数", ["培训签到表"])]
