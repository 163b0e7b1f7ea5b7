"""盖章版 (issue 13, part 3): the unit uploads the sealed PDF after approval (the 佐证材料 checks,
PDF only), a reviewer confirms that it matches or says why not, and the confirmed copy is public
with the report as the bureau's rule and the unit's choice say; never for 涉密, 410 once withdrawn."""

import pytest
from django.test import Client
from django.urls import reverse

from assessments import sealed, workflow
from assessments.models import AuditEvent, SealedCopy
from portal import storage

from .test_access_matrix import body_of, drive, make_reviewer, valid_assessment
from .test_evidence import PNG, pdf, upload

pytestmark = pytest.mark.django_db

SEALED_PDF = pdf(b"/Lang (zh-CN) ")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def carol(unit_a):
    return make_reviewer("carol", unit_a)


def reach(state, unit_a, round_2020, alice, carol, *, name="综治经费"):
    return drive(valid_assessment(unit_a, round_2020, name, user=alice), state, officer=alice, reviewer=carol)


def post_sealed(client, a, files, **fields):
    return client.post(reverse("assessments:sealed", args=[a.pk]), {"action": "upload", **fields, "file": files})


def errors(response) -> list[str]:
    return response.context["errors"]


def test_only_after_approval(alice_client, alice, carol, unit_a, round_2020):
    a = reach("in_review", unit_a, round_2020, alice, carol)
    page = alice_client.get(reverse("assessments:sealed", args=[a.pk]))
    assert page.status_code == 200 and not page.context["may_upload"]
    assert "审核通过后才能上传盖章版" in page.content.decode()
    response = post_sealed(alice_client, a, [upload("盖章版.pdf", SEALED_PDF)])
    assert response.status_code == 403
    assert errors(response) == ["该自评当前状态为“审核中”：审核通过后才能上传盖章版。"]
    assert not SealedCopy.objects.exists()
    detail = alice_client.get(reverse("assessments:detail", args=[a.pk])).content.decode()
    assert 'id="sealed-link"' not in detail


def test_upload_is_checked_like_evidence_and_must_be_one_pdf(alice_client, alice, carol, unit_a, round_2020):
    a = reach("approved", unit_a, round_2020, alice, carol)
    assert 'id="sealed-link"' in alice_client.get(reverse("assessments:detail", args=[a.pk])).content.decode()
    cases = [
        ([upload("扫描.png", PNG)], "“扫描.png”是PNG 图片：盖章版须为盖章后扫描或导出的 PDF 文件。"),
        ([upload("带脚本.pdf", pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "))],
         "“带脚本.pdf”是含有JavaScript 脚本的 PDF，不予接收。请用“打印为 PDF”重新生成不含脚本和附件的 PDF 后上传。"),
        ([upload("a.pdf", SEALED_PDF), upload("b.pdf", SEALED_PDF)], sealed.ONE_FILE),
        ([], sealed.ONE_FILE),
    ]
    for files, message in cases:
        response = post_sealed(alice_client, a, files, public="1")
        assert response.status_code == 400
        assert errors(response) == [message]
        assert response.context["publish_requested"] is True  # the choice is kept on the page
    assert not SealedCopy.objects.exists()
    assert AuditEvent.objects.filter(action="sealed.upload").count() == 0


def test_an_oversized_copy_is_stopped_while_streaming(alice_client, alice, carol, unit_a, round_2020, settings):
    settings.EVIDENCE_MAX_FILE_MB = 1
    a = reach("approved", unit_a, round_2020, alice, carol)
    big = SEALED_PDF + b"%" + b"0" * (1024 * 1024)
    response = post_sealed(alice_client, a, [upload("大文件.pdf", big)])
    assert response.status_code == 400
    assert errors(response) == ["“大文件.pdf”超过单个文件 1 MB 的上限，未上传。请压缩或拆分后再上传。"]
    assert not SealedCopy.objects.exists()


def test_upload_confirm_and_replace_with_the_audit_trail(alice_client, alice, carol, unit_a, round_2020):
    a = reach("approved", unit_a, round_2020, alice, carol)
    response = post_sealed(alice_client, a, [upload("盖章版.pdf", SEALED_PDF)])
    assert response.status_code == 302
    first = SealedCopy.objects.get(assessment=a)
    assert (first.original_name, first.size, first.publish_requested) == ("盖章版.pdf", len(SEALED_PDF), False)
    assert first.file.name.startswith(f"sealed/{a.pk}/") and storage.read_bytes(first.file.name) == SEALED_PDF
    served = alice_client.get(reverse("assessments:sealed_file", args=[a.pk, first.pk]))
    assert served.status_code == 200 and body_of(served) == SEALED_PDF
    assert served["Content-Type"] == "application/pdf" and served["Content-Disposition"].startswith("inline")
    assert served["X-Content-Type-Options"] == "nosniff" and "no-store" in served["Cache-Control"]

    # The reviewer opens it (logged) and says it does not match: a reason is required.
    client = Client()
    client.force_login(carol)
    page = client.get(reverse("assessments:review", args=[a.pk]))
    assert page.context["sealed_copy"] == first and page.context["can_decide_sealed"]
    assert page.context["sealed_status"] == "待审核人确认"
    assert client.get(reverse("assessments:review_sealed_file", args=[a.pk, first.pk])).status_code == 200
    decide = reverse("assessments:review_sealed_decide", args=[a.pk, first.pk])
    client.post(decide, {"decision": "mismatch", "comment": ""})
    first.refresh_from_db()
    assert (first.confirmed_at, first.rejected_comment) == (None, "")
    client.post(decide, {"decision": "mismatch", "comment": "缺少第3页的公章"})
    first.refresh_from_db()
    assert (first.confirmed_at, first.rejected_comment) == (None, "缺少第3页的公章")
    unit_page = alice_client.get(reverse("assessments:sealed", args=[a.pk]))
    assert unit_page.context["status"] == "审核人认为不一致，请重新上传"
    assert "缺少第3页的公章" in unit_page.content.decode()

    # The unit uploads again: the new copy is current, the old one kept for the record.
    assert post_sealed(alice_client, a, [upload("盖章版（改）.pdf", SEALED_PDF + b"\n")]).status_code == 302
    first.refresh_from_db()
    second = sealed.current(a)
    assert first.replaced_at is not None and second.pk != first.pk and storage.read_bytes(first.file.name) == SEALED_PDF
    assert [c.pk for c in alice_client.get(reverse("assessments:sealed", args=[a.pk])).context["history"]] == [first.pk]
    # A decision on the replaced copy is refused; the current one is confirmed.
    client.post(decide, {"decision": "match"})
    first.refresh_from_db()
    assert first.confirmed_at is None
    client.post(reverse("assessments:review_sealed_decide", args=[a.pk, second.pk]), {"decision": "match"})
    second.refresh_from_db()
    assert second.confirmed_by == carol and second.confirmed_at is not None
    assert not client.get(reverse("assessments:review", args=[a.pk])).context["can_decide_sealed"]

    assert list(AuditEvent.objects.filter(action__startswith="sealed.").order_by("id").values_list("action", "actor__username")) == [
        ("sealed.upload", "alice"), ("sealed.download", "carol"), ("sealed.reject", "carol"),
        ("sealed.upload", "alice"), ("sealed.confirm", "carol")]
    assert AuditEvent.objects.filter(action="sealed.reject").get().details["comment"] == "缺少第3页的公章"


def test_other_units_and_other_reviewers_see_nothing(client, alice, bob, carol, unit_a, unit_b, round_2020):
    a = reach("approved", unit_a, round_2020, alice, carol)
    copy = sealed.store(assessment=a, user=alice, uploads=[_checked(SEALED_PDF)], publish_requested=False)
    client.force_login(bob)
    assert client.get(reverse("assessments:sealed", args=[a.pk])).status_code == 404
    assert client.get(reverse("assessments:sealed_file", args=[a.pk, copy.pk])).status_code == 404
    client.force_login(make_reviewer("dave", unit_b))
    assert client.get(reverse("assessments:review_sealed_file", args=[a.pk, copy.pk])).status_code == 404
    assert client.post(reverse("assessments:review_sealed_decide", args=[a.pk, copy.pk]),
                       {"decision": "match"}).status_code == 404
    copy.refresh_from_db()
    assert copy.confirmed_at is None


@pytest.mark.parametrize(("rule", "requested", "confidential", "public"), [
    ("unit", False, False, False),
    ("unit", True, False, True),
    ("always", False, False, True),
    ("never", True, False, False),
    ("always", True, True, False),  # 涉密: never
])
def test_publication_follows_the_rule_and_the_units_choice(client, alice, carol, unit_a, round_2020, settings,
                                                           rule, requested, confidential, public):
    settings.SEALED_COPY_PUBLICATION = rule
    a = reach("approved", unit_a, round_2020, alice, carol)
    copy = sealed.store(assessment=a, user=alice, uploads=[_checked(SEALED_PDF)], publish_requested=requested)
    url = reverse("disclosure:sealed", args=[a.pk])
    sealed.decide(copy, carol, matches=True)
    a = drive_publish(a)
    if confidential:
        type(a).objects.filter(pk=a.pk).update(confidential=True)
    response = client.get(url)
    assert response.status_code == (200 if public else 404)
    if public:
        assert body_of(response) == SEALED_PDF
    if not confidential:
        page = client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
        assert ('id="public-sealed"' in page) is public


def test_unconfirmed_copies_are_never_public_and_withdrawn_reports_answer_410(
        alice_client, alice, carol, unit_a, round_2020, settings):
    settings.SEALED_COPY_PUBLICATION = "unit"
    client = Client()  # anonymous
    a = drive_publish(reach("approved", unit_a, round_2020, alice, carol))
    url = reverse("disclosure:sealed", args=[a.pk])
    assert post_sealed(alice_client, a, [upload("盖章版.pdf", SEALED_PDF)], public="1").status_code == 302
    assert client.get(url).status_code == 404  # not confirmed yet
    copy = sealed.current(a)
    sealed.decide(copy, carol, matches=True)
    assert client.get(url).status_code == 200
    # The unit changes its mind, then back.
    alice_client.post(reverse("assessments:sealed", args=[a.pk]), {"action": "publish", "public": "0"})
    assert client.get(url).status_code == 404
    alice_client.post(reverse("assessments:sealed", args=[a.pk]), {"action": "publish", "public": "1"})
    assert client.get(url).status_code == 200
    assert list(AuditEvent.objects.filter(action="sealed.publish_choice").order_by("id").values_list("details__public", flat=True)) == [
        False, True]
    workflow.perform(carol, a, "unpublish", "数据有误")
    assert client.get(url).status_code == 410


def drive_publish(a):
    from assessments import tasks
    from assessments.models import ExportJob

    tasks.run_export(ExportJob.objects.get(assessment=a, status=ExportJob.Status.QUEUED).pk)
    a.refresh_from_db()
    assert a.state == "published"
    return a


def _checked(data: bytes):
    """An upload as the streamed handler hands it over."""
    import hashlib
    import tempfile

    from assessments.evidence import EvidenceFile

    handle = tempfile.NamedTemporaryFile()
    handle.write(data)
    handle.flush()
    handle.seek(0)
    return EvidenceFile(handle, "盖章版.pdf", len(data), hashlib.sha256(data).hexdigest(), data[:8192])
