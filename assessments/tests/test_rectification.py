"""整改 (issue 15 §2): items on indicator rows, answered by the unit, accepted or reopened by the
reviewer; an item open on 2024's "群众满意度" follows the lineage into 2025, blocks submit until
answered, and closes from there."""

from datetime import date

import pytest
from django.urls import reverse

from assessments import readmodel, rectification, workflow
from assessments.models import AuditEvent, FundingRow, Indicator, Rectification, RectificationEvent, Round
from assessments.services import create_assessment, refresh_scores

from .test_access_matrix import VALID_ROWS, drive, make_reviewer, valid_assessment

pytestmark = pytest.mark.django_db
DUE = date(2025, 6, 30)


@pytest.fixture
def carol(unit_a):
    return make_reviewer("carol", unit_a)


@pytest.fixture
def year_2024(unit_a, alice, carol):
    round_ = Round.objects.create(year=2024, title="2024年度绩效自评")
    a = valid_assessment(unit_a, round_, "综治、平安建设经费", user=alice)
    return drive(a, "approved", officer=alice, reviewer=carol)


def next_year(previous, alice):
    """2025's assessment carried over from 2024 (rows keep their lineage), filled in so it passes submit."""
    round_ = Round.objects.create(year=2025, title="2025年度绩效自评")
    a = create_assessment(unit=previous.unit, round=round_, kind="project", layout="project",
                          project_name=previous.project_name, user=alice, carry_from=previous)
    FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=100, budget=100, actual=95)
    actuals = {name: actual for _, _, name, _, actual, _ in VALID_ROWS}
    for row in Indicator.objects.filter(assessment=a):
        row.actual = actuals[row.name]
        row.save(update_fields=["actual"])
    refresh_scores(a)
    a.refresh_from_db()
    return a


def satisfaction_key(a):
    return Indicator.objects.get(assessment=a, name="群众满意度").key


def test_an_item_follows_the_lineage_blocks_submit_and_closes_from_next_year(client, year_2024, alice, carol,
                                                                            django_assert_num_queries):
    # The reviewer opens the item on 2024's 群众满意度 row, from the review's 整改 page.
    client.force_login(carol)
    url_2024 = reverse("assessments:review_rectifications", args=[year_2024.pk])
    response = client.post(url_2024, {"action": "open", "problem": "满意度调查样本不足",
                                      "indicators": [str(satisfaction_key(year_2024))], "due_date": "2025-06-30"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "整改要求：这个字段是必填项。" in page
    assert 'value="2025-06-30"' in page and "满意度调查样本不足" in page
    response = client.post(url_2024, {"action": "open", "problem": "满意度调查样本不足", "requirement": "扩大调查样本至300份以上",
                                      "indicators": [str(satisfaction_key(year_2024))], "due_date": "2025-06-30"})
    assert response.status_code == 302
    item = Rectification.objects.get()
    assert (item.problem, item.action, item.due_date, item.status) == ("满意度调查样本不足", "扩大调查样本至300份以上", DUE, "open")
    assert item.indicators == [{"lineage": str(Indicator.objects.get(assessment=year_2024, name="群众满意度").lineage),
                                "name": "群众满意度"}]

    a2025 = next_year(year_2024, alice)
    assert rectification.carried(a2025) == [item]
    # The same from the lineages of the read model of its stored rows, in one query (the detail page).
    lineages = [line.lineage for line in readmodel.load(a2025.pk).indicators]
    with django_assert_num_queries(1):
        assert rectification.carried(a2025, lineages=lineages) == [item]
    # The officer sees it on 2025's page…
    client.force_login(alice)
    page = client.get(reverse("assessments:detail", args=[a2025.pk])).content.decode()
    assert "上年整改事项（2024年度）：“群众满意度”满意度调查样本不足 状态：未完成" in page
    # …and cannot submit before answering.
    with pytest.raises(workflow.TransitionRefused) as refused:
        workflow.perform(alice, a2025, "submit")
    assert str(refused.value) == (
        "提交未成功：有 1 项上年整改事项尚未答复（2024年“群众满意度”：满意度调查样本不足），请先在“整改事项”中逐项答复。")
    response = client.post(reverse("assessments:submit", args=[a2025.pk]))
    a2025.refresh_from_db()
    assert a2025.state == "draft"

    # Answering needs text; the answer is kept with the assessment it came from.
    url = reverse("assessments:rectifications", args=[a2025.pk])
    response = client.post(url, {"item": item.pk, "text": "  "})
    assert response.status_code == 400
    assert "整改情况：请填写整改情况。" in response.content.decode()
    response = client.post(url, {"item": item.pk, "text": "已扩大样本至320份，满意度96%。"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "answered"
    workflow.perform(alice, a2025, "submit")
    a2025.refresh_from_db()
    assert a2025.state == "submitted"
    # The reviewer's dashboard lists the answered item (on 2024's assessment) for its round.
    client.force_login(carol)
    page = client.get(reverse("assessments:dashboard") + f"?round={year_2024.round_id}").content.decode()
    assert "整改事项：</span>未完成 0 项，单位已答复待审核 1 项。" in page
    assert f'{reverse("assessments:review_rectifications", args=[year_2024.pk])}' in page

    # The reviewer closes it from 2025's submission.
    client.force_login(carol)
    url_2025 = reverse("assessments:review_rectifications", args=[a2025.pk])
    page = client.get(url_2025).content.decode()
    assert "已扩大样本至320份，满意度96%。" in page and "在 2025 年度自评中答复" in page
    response = client.post(url_2025, {"action": "reopen", "item": item.pk, "comment": ""})
    assert response.status_code == 400 and "退回重新整改须填写意见。" in response.content.decode()
    response = client.post(url_2025, {"action": "accept", "item": item.pk, "comment": "整改到位"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "closed"
    assert rectification.carried(a2025) == []
    assert list(RectificationEvent.objects.filter(item=item).values_list("kind", "text", "on_assessment")) == [
        ("answer", "已扩大样本至320份，满意度96%。", a2025.pk), ("accept", "整改到位", None)]
    assert list(AuditEvent.objects.filter(action__startswith="rectification.").order_by("id").values_list("action", flat=True)) == [
        "rectification.open", "rectification.answer", "rectification.accept"]


def test_reopened_items_block_again_and_other_units_do_not_see_them(client, year_2024, alice, bob, carol, unit_b):
    item = rectification.open_item(carol, year_2024, problem="佐证不足", indicator_keys=[], action="补充佐证", due_date=DUE)
    a2025 = next_year(year_2024, alice)
    assert rectification.carried(a2025) == [item]  # on the whole: same kind and project name
    rectification.answer(alice, item, "已补充。", on_assessment=a2025)
    with pytest.raises(rectification.RectificationRefused, match="不能答复"):
        rectification.answer(alice, item, "再次答复", on_assessment=a2025)
    rectification.decide(carol, item, accept=False, comment="佐证仍不完整")
    assert [i.pk for i in rectification.blocking(a2025)] == [item.pk]
    # bob (unit B) and a reviewer of B only: neither sees nor touches it.
    with pytest.raises(rectification.RectificationRefused, match="您无权答复该整改事项。"):
        rectification.answer(bob, item, "x", on_assessment=a2025)
    dave = make_reviewer("dave", unit_b)
    with pytest.raises(rectification.RectificationRefused, match="您无权对该自评下达整改事项。"):
        rectification.open_item(dave, year_2024, problem="x", indicator_keys=[], action="y", due_date=DUE)
    client.force_login(bob)
    assert client.get(reverse("assessments:rectifications", args=[a2025.pk])).status_code == 404
    client.force_login(dave)
    assert client.get(reverse("assessments:review_rectifications", args=[year_2024.pk])).status_code == 404
    # Another unit's assessment of a later year with the same project name does not inherit it.
    other = create_assessment(unit=unit_b, round=a2025.round, kind="project", layout="project",
                              project_name=year_2024.project_name)
    assert rectification.carried(other) == []


def test_open_item_on_the_whole_and_refusals(client, year_2024, carol):
    client.force_login(carol)
    url = reverse("assessments:review_rectifications", args=[year_2024.pk])
    response = client.post(url, {"action": "open", "problem": "报告未说明偏差原因", "requirement": "补充说明",
                                 "due_date": "2025-06-30"})
    assert response.status_code == 302
    assert Rectification.objects.get().indicator_names == "（整体）"
    response = client.post(url, {"action": "open", "problem": "x", "requirement": "y", "due_date": "2025-06-30",
                                 "indicators": ["00000000-0000-0000-0000-000000000000"]})
    assert response.status_code == 400
    assert "涉及指标：选择一个有效的选项" in response.content.decode()
    response = client.post(url, {"action": "accept", "item": "987654"})
    assert response.status_code == 302 and Rectification.objects.count() == 1


def test_public_summary_counts_only(client, year_2024, carol, alice):
    first = rectification.open_item(carol, year_2024, problem="问题一", indicator_keys=[], action="要求一", due_date=DUE)
    rectification.open_item(carol, year_2024, problem="问题二（内部）", indicator_keys=[], action="要求二", due_date=DUE)
    rectification.answer(alice, first, "已整改", on_assessment=year_2024)
    rectification.decide(carol, first, accept=True)
    response = client.get(reverse("disclosure:rectifications"))
    assert response.status_code == 200
    page = response.content.decode()
    assert ('<tr><td>2024年度绩效自评</td><td class="text-end">2</td><td class="text-end">1</td>'
            '<td class="text-end">1</td></tr>') in page
    assert "问题二" not in page
    assert Rectification.objects.count() == 2


# --- answers with files (the 佐证材料 checks and storage, issue 13) ---------------------------------

PDF_BYTES = (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
             b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_an_answer_takes_checked_files_that_only_the_unit_and_its_reviewers_open(
        client, media, year_2024, alice, bob, carol, unit_b):
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from assessments.models import RectificationFile
    from portal import storage

    item = rectification.open_item(carol, year_2024, problem="佐证不足", indicator_keys=[], action="补充佐证", due_date=DUE)
    url = reverse("assessments:rectifications", args=[year_2024.pk])
    client.force_login(alice)

    # A renamed executable: refused by its content, with the reason; the text is kept, nothing stored.
    response = client.post(url, {"item": item.pk, "text": "已补充会议纪要。",
                                 "files": [SimpleUploadedFile("整改报告.pdf", EXE_BYTES)]})
    assert response.status_code == 400
    page = response.content.decode()
    assert ("证明材料：“整改报告.pdf”是Windows 可执行程序，不接受此类文件。"
            "只接受 PDF、JPEG、PNG 图片、Excel（.xlsx）、Word（.docx）和 OFD 文件。") in page
    assert ">已补充会议纪要。</textarea>" in page
    item.refresh_from_db()
    assert (item.status, RectificationEvent.objects.count(), RectificationFile.objects.count()) == ("open", 0, 0)
    assert not AuditEvent.objects.filter(action="rectification.answer").exists()

    # A PDF: stored through the evidence storage, all recorded.
    response = client.post(url, {"item": item.pk, "text": "已补充会议纪要。",
                                 "files": [SimpleUploadedFile("会议纪要.pdf", PDF_BYTES)]})
    assert response.status_code == 302
    item.refresh_from_db()
    f = RectificationFile.objects.get()
    assert item.status == "answered"
    assert (f.event.kind, f.event.text, f.original_name, f.content_type, f.size, f.sha256, f.uploaded_by) == (
        "answer", "已补充会议纪要。", "会议纪要.pdf", "application/pdf", len(PDF_BYTES),
        hashlib.sha256(PDF_BYTES).hexdigest(), alice)
    assert f.file.name.startswith(f"rectification/{item.pk}/") and f.file.name.endswith(".pdf")
    assert storage.read_bytes(f.file.name) == PDF_BYTES
    event = AuditEvent.objects.get(action="rectification.answer")
    assert event.details == {"item": item.pk, "on": year_2024.pk, "text": "已补充会议纪要。", "files": [
        {"file": f.pk, "filename": "会议纪要.pdf", "size": len(PDF_BYTES), "sha256": f.sha256}]}
    file_url = reverse("assessments:rectification_file", args=[year_2024.pk, f.pk])
    assert f'<a href="{file_url}" target="_blank" rel="noopener">会议纪要.pdf</a>' in client.get(url).content.decode()
    response = client.get(file_url)
    assert (response.status_code, response["Content-Type"], response["X-Content-Type-Options"]) == (
        200, "application/pdf", "nosniff")
    assert b"".join(response.streaming_content) == PDF_BYTES

    # The reviewer opens it from the review's 整改 page; each opening is logged.
    client.force_login(carol)
    review_url = reverse("assessments:review_rectification_file", args=[year_2024.pk, f.pk])
    assert f'href="{review_url}"' in client.get(
        reverse("assessments:review_rectifications", args=[year_2024.pk])).content.decode()
    response = client.get(review_url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF_BYTES
    opened = AuditEvent.objects.get(action="rectification.file_download")
    assert (opened.details, opened.unit_id) == (
        {"item": item.pk, "file": f.pk, "filename": "会议纪要.pdf"}, year_2024.unit_id)

    # Another unit's officer: 404, through A's assessment and through one of B's own.
    b_own = create_assessment(unit=unit_b, round=year_2024.round, kind="project", layout="project", project_name="乙项目")
    client.force_login(bob)
    assert client.get(file_url).status_code == 404
    assert client.get(reverse("assessments:rectification_file", args=[b_own.pk, f.pk])).status_code == 404
    # A reviewer of unit B only: 404 too; an officer on the reviewer's address: 403.
    dave = make_reviewer("dave", unit_b)
    client.force_login(dave)
    assert client.get(review_url).status_code == 404
    client.force_login(alice)
    assert client.get(review_url).status_code == 403
    assert AuditEvent.objects.filter(action="rectification.file_download").count() == 1


def test_a_refused_answer_through_the_service_stores_nothing(media, year_2024, alice, carol):
    """One refused file refuses the whole answer (the good PDF beside it is not kept either)."""
    from assessments import evidence
    from assessments.models import RectificationFile

    item = rectification.open_item(carol, year_2024, problem="佐证不足", indicator_keys=[], action="补充佐证", due_date=DUE)
    good = evidence.open_for_inspection(PDF_BYTES, "会议纪要.pdf")
    bad = evidence.open_for_inspection(b"<svg onload=alert(1)></svg>", "照片.png")
    with pytest.raises(rectification.RectificationRefused) as refused:
        rectification.answer(alice, item, "已整改。", on_assessment=year_2024, uploads=[good, bad])
    assert str(refused.value) == (
        "证明材料：“照片.png”是 SVG 图像：SVG 可以包含脚本，不予接收。请另存为 PNG 或 JPEG 后上传。")
    assert RectificationFile.objects.count() == 0
    item.refresh_from_db()
    assert item.status == "open"
    assert not any(p.is_file() for p in media.rglob("*"))


def test_the_upload_handler_stops_a_file_over_the_cap_and_keeps_the_text(client, media, settings, year_2024, alice, carol):
    """The 佐证材料 upload handler streams the answer's files and stops at the per-file cap."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assessments.models import RectificationFile

    settings.EVIDENCE_MAX_FILE_MB = 1
    item = rectification.open_item(carol, year_2024, problem="佐证不足", indicator_keys=[], action="补充佐证", due_date=DUE)
    client.force_login(alice)
    big = PDF_BYTES + b"0" * (1024 * 1024)
    response = client.post(reverse("assessments:rectifications", args=[year_2024.pk]),
                           {"item": item.pk, "text": "见附件。", "files": [SimpleUploadedFile("扫描件.pdf", big)]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "证明材料：“扫描件.pdf”超过单个文件 1 MB 的上限，未上传。请压缩或拆分后再上传。" in page
    assert ">见附件。</textarea>" in page
    item.refresh_from_db()
    assert (item.status, RectificationFile.objects.count()) == ("open", 0)
