"""Finance-bureau review through the Django test client: dashboard, 复核, return, approve, e-mail."""

import re
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import diff, flags, roles, workflow
from assessments.models import (
    Assessment,
    FundingRow,
    Indicator,
    IndicatorReview,
    Membership,
    ReportSection,
    Review,
    ReviewerAssignment,
    Round,
    Snapshot,
    Transition,
)
from assessments.services import create_assessment, refresh_scores

from .conftest import PASSWORD
from .helpers import SEED_004_INDICATORS, detail_url, edit_url, fill_seed_004, form_data

pytestmark = pytest.mark.django_db

D = Decimal
DASHBOARD = "/assessments/review/"
TITLE = "2020年度部门整体支出绩效自评"
UNIT_A = "中共长沙市岳麓区委员会政法委员会"
BASE_URL = "https://jxzp.example.gov.cn"


# --- helpers ----------------------------------------------------------------------------------


def review_url(assessment) -> str:
    return reverse("assessments:review", args=[assessment.pk])


def review_data(response, action="save", comment="") -> dict:
    """The review form as the browser would post it."""
    formset = response.context["formset"]
    data = {"action": action, "comment": comment}
    for name in formset.management_form.fields:
        value = formset.management_form[name].value()
        data[f"{formset.prefix}-{name}"] = "" if value is None else str(value)
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else str(value)
    return data


def field_value(html: str, name: str) -> str:
    """The value shown in an input, textarea or select called `name`."""
    match = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>\n?(.*?)</textarea>', html, re.S)
    if match:
        return match.group(1)
    match = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    if match:
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', match.group(1))
        return selected.group(1) if selected else ""
    tag = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert tag, f"no field {name}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def element(html: str, element_id: str) -> str:
    """The inner HTML of the element with the given id (nested elements of the same tag allowed)."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", html[start:]).group(1)
    depth = 0
    for m in re.finditer(rf"<(/?){tag}[\s>]", html[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return html[start : start + m.start()]
    raise AssertionError(f"unclosed <{tag}> #{element_id}")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def history(assessment) -> list[tuple]:
    return list(
        Transition.objects.filter(assessment=assessment)
        .order_by("at", "id")
        .values_list("action", "from_state", "to_state", "actor__username", "comment")
    )


@pytest.fixture
def mail_users(alice, bob, reviewer):
    for user, email in ((alice, "alice@yuelu.example.cn"), (bob, "bob@example.cn"), (reviewer, "shenhe@czj.example.cn")):
        user.email = email
        user.save()
    return alice, bob, reviewer


@pytest.fixture
def officer(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bureau(reviewer):
    c = Client()
    c.force_login(reviewer)
    return c


@pytest.fixture(autouse=True)
def base_url(settings, tmp_path):
    settings.PORTAL_BASE_URL = BASE_URL
    settings.MEDIA_ROOT = tmp_path / "media"  # an approval exports files (issue 4): keep them out of the repo


def submit_seed_004(officer, department):
    """Officer types seed 004 and submits it through the pages."""
    assert officer.post(edit_url(department), fill_seed_004(form_data(officer.get(edit_url(department))))).status_code == 302
    assert officer.post(reverse("assessments:submit", args=[department.pk])).status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    return department


def in_review(officer, bureau, department):
    submit_seed_004(officer, department)
    assert bureau.post(review_url(department), {"action": "start_review"}).status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW
    return department


# --- 1. the full loop -------------------------------------------------------------------------


@pytest.mark.usefixtures("rendered_pages")
def test_full_review_loop(officer, bureau, mail_users, department, mailoutbox, django_capture_on_commit_callbacks):
    alice, bob, reviewer = mail_users
    names = [row[2] for row in SEED_004_INDICATORS]

    # The officer submits seed 004: 99.67 (优); the reviewer gets an e-mail.
    officer.post(edit_url(department), fill_seed_004(form_data(officer.get(edit_url(department)))))
    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(reverse("assessments:submit", args=[department.pk]))
    assert response.status_code == 302
    department.refresh_from_db()
    assert (department.state, department.self_total, department.self_grade) == ("submitted", D("99.67"), "优")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["shenhe@czj.example.cn"]
    assert mail.subject == f"【绩效自评】{UNIT_A}提交了“{TITLE}”，请审核"
    assert f"{UNIT_A}已于 " in mail.body
    assert f"提交“{TITLE}”，自评总分 99.67（优）。" in mail.body
    assert f"{BASE_URL}/assessments/review/{department.pk}/" in mail.body

    # The reviewer starts the review: in review, and the officer can no longer withdraw.
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(department), {"action": "start_review"})
    assert response.status_code == 302 and response["Location"] == review_url(department)
    assert messages_of(bureau.get(review_url(department))) == ["已开始审核，填报单位在审核期间不能撤回。"]
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW
    first = Review.objects.get(assessment=department)
    assert (first.number, first.decision, first.reviewer, first.snapshot.number) == (1, "pending", reviewer, 1)
    assert len(mailoutbox) == 1  # no e-mail on start_review

    refused = officer.post(reverse("assessments:withdraw", args=[department.pk]), follow=True)
    assert "财政局已开始审核，不能再撤回。如需修改，请联系审核人退回修改。" in messages_of(refused)
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW

    # A draft review: rows 10 and 11 lowered by 2.00 each, with notes.
    page = bureau.get(review_url(department))
    assert page.status_code == 200
    assert page.context["editable"] is True
    data = review_data(page, "save")
    assert data["review-TOTAL_FORMS"] == "13"
    data.update({
        "review-9-score": "8.00", "review-9-note": "调解成功11件，成功率不足80%。",
        "review-10-score": "8.00", "review-10-note": "重点人员稳控台账不完整。",
    })
    response = bureau.post(review_url(department), data)
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.decision, first.review_total, first.review_grade) == ("pending", D("95.67"), "优")
    rows = {r.indicator_key: r for r in IndicatorReview.objects.filter(review=first)}
    keys = list(department.indicators.order_by("position").values_list("key", flat=True))
    assert (rows[keys[9]].score, rows[keys[9]].note) == (D("8.00"), "调解成功11件，成功率不足80%。")
    assert (rows[keys[10]].score, rows[keys[10]].note) == (D("8.00"), "重点人员稳控台账不完整。")

    # Coming back: review 95.67 beside 99.67, gap -4.00, the typed values still there.
    page = bureau.get(review_url(department))
    assert messages_of(page) == ["复核已保存（草稿），可稍后继续。"]
    totals = page.context["review_view"].totals
    assert (totals.total, totals.grade, totals.gap) == (D("95.67"), "优", D("-4.00"))
    html = page.content.decode()
    assert '<div class="fs-5" id="self-total">99.67（优）</div>' in html
    assert '<div class="fs-5" id="review-total">95.67（优）</div>' in html
    assert '<div class="fs-5" id="total-gap">-4.00</div>' in html
    assert field_value(html, "review-9-score") == "8.00"
    assert field_value(html, "review-10-note") == "重点人员稳控台账不完整。"
    assert "复核人填写，复核得分 8.00（较自评 -2.00）" in element(html, "review-row-10")

    # Return with an overall comment and one more per-row note.
    data = review_data(page, "return", "请补充第10、11项指标的佐证材料，并核实第3项的统计口径。")
    data["review-2-note"] = "请核实破获案件数量的统计口径。"
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(department), data)
    assert response.status_code == 302
    assert messages_of(bureau.get(review_url(department))) == ["已退回修改，填报单位将收到审核意见。"]
    department.refresh_from_db()
    assert department.state == Assessment.State.RETURNED
    comment = "请补充第10、11项指标的佐证材料，并核实第3项的统计口径。"
    assert history(department) == [
        ("submit", "draft", "submitted", "alice", ""),
        ("start_review", "submitted", "in_review", "reviewer", ""),
        ("return", "in_review", "returned", "reviewer", comment),
    ]
    first.refresh_from_db()
    assert (first.number, first.decision, first.comment, first.reviewer) == (1, "returned", comment, reviewer)
    assert first.decided_at is not None
    assert (first.review_total, first.review_grade) == (D("95.67"), "优")
    assert len(mailoutbox) == 2
    mail = mailoutbox[1]
    assert mail.to == ["alice@yuelu.example.cn"]
    assert mail.subject == f"【绩效自评】“{TITLE}”被退回修改"
    assert f"审核意见：\n{comment}\n" in mail.body
    assert f"{BASE_URL}/assessments/{department.pk}/" in mail.body

    # The officer sees the comment at the top and each row note beside its row.
    for url in (detail_url(department), edit_url(department)):
        html = officer.get(url).content.decode()
        top = element(html, "review-comment")
        assert f"审核意见：{comment}" in top
        assert "另有 3 项指标附有复核意见，见各行。" in top
        assert '<div class="review-note">复核意见：请核实破获案件数量的统计口径。</div>' in element(html, "indicator-3")
        assert '<div class="review-note">复核意见：调解成功11件，成功率不足80%。（复核得分 8.00）</div>' in element(html, "indicator-10")
        assert '<div class="review-note">复核意见：重点人员稳控台账不完整。（复核得分 8.00）</div>' in element(html, "indicator-11")
        assert "review-note" not in element(html, "indicator-1")

    # The officer changes one actual and resubmits.
    data = form_data(officer.get(edit_url(department)))
    assert data["indicators-2-actual"] == "公安机关共破获电信网络诈骗案件270起"
    data["indicators-2-actual"] = "公安机关共破获电信网络诈骗案件280起（含跨区协查10起）"
    data["action"] = "submit"
    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(edit_url(department), data)
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    assert Snapshot.objects.filter(assessment=department).count() == 2
    assert len(mailoutbox) == 3 and mailoutbox[2].to == ["shenhe@czj.example.cn"]

    # The review page shows what changed, field by field.
    page = bureau.get(review_url(department))
    assert page.context["changes"] == [
        diff.Change("绩效指标", names[2], "实际完成值", "公安机关共破获电信网络诈骗案件270起",
                    "公安机关共破获电信网络诈骗案件280起（含跨区协查10起）", str(keys[2])),
    ]
    changes = element(page.content.decode(), "changes")
    assert "与上次提交相比的变化（1 处）" in changes
    assert "第 2 次提交，提交于" in page.content.decode() and page.context["submission_count"] == 2
    assert "<del>公安机关共破获电信网络诈骗案件270起</del>" in changes
    assert "公安机关共破获电信网络诈骗案件280起（含跨区协查10起）" in changes
    assert page.context["starting"] is True and page.context["editable"] is True

    # Second round: a new Review; round 1 stays readable.
    assert bureau.post(review_url(department), {"action": "start_review"}).status_code == 302
    second = Review.objects.get(assessment=department, number=2)
    assert (second.decision, second.snapshot.number, second.reviewer) == ("pending", 2, reviewer)
    page = bureau.get(review_url(department))
    html = page.content.decode()
    assert [p["review"].number for p in page.context["past_reviews"]] == [1]
    assert '第 1 轮：退回修改 · <span class="person">reviewer</span>' in html
    assert f"审核意见：{comment}" in html
    past_rows = {r["name"]: (r["self"], r["row"].score, r["row"].note) for r in page.context["past_reviews"][0]["rows"]}
    assert past_rows == {
        names[2]: ("5.00", None, "请核实破获案件数量的统计口径。"),
        names[9]: ("10.00", D("8.00"), "调解成功11件，成功率不足80%。"),
        names[10]: ("10.00", D("8.00"), "重点人员稳控台账不完整。"),
    }
    assert page.context["changes"] is not None and len(page.context["changes"]) == 1

    # Approve with one row still lowered.
    data = review_data(page, "approve", "同意。请在公开前再核对第10项。")
    data.update({"review-9-score": "8", "review-9-note": "调解成功率不足80%。"})
    with django_capture_on_commit_callbacks() as after_commit:
        response = bureau.post(review_url(department), data)
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.APPROVED
    assert messages_of(bureau.get(review_url(department))) == ["已审核通过。"]
    assert (department.review_total, department.review_grade) == (D("97.67"), "优")
    second.refresh_from_db()
    assert (second.decision, second.review_total, second.review_grade) == ("approved", D("97.67"), "优")
    assert second.comment == "同意。请在公开前再核对第10项。"
    first.refresh_from_db()
    assert first.decision == "returned"  # earlier rounds are left as decided
    assert history(department) == [
        ("submit", "draft", "submitted", "alice", ""),
        ("start_review", "submitted", "in_review", "reviewer", ""),
        ("return", "in_review", "returned", "reviewer", comment),
        ("submit", "returned", "submitted", "alice", ""),
        ("start_review", "submitted", "in_review", "reviewer", ""),
        ("approve", "in_review", "approved", "reviewer", "同意。请在公开前再核对第10项。"),
    ]
    # After commit: the e-mail, and (issue 4) the export job, which publishes the approved report.
    for callback in after_commit:
        callback()
    department.refresh_from_db()
    assert department.state == Assessment.State.PUBLISHED
    assert history(department)[6:] == [("publish", "approved", "published", None, "")]
    assert len(mailoutbox) == 4
    mail = mailoutbox[3]
    assert mail.to == ["alice@yuelu.example.cn"]
    assert mail.subject == f"【绩效自评】“{TITLE}”已审核通过"
    assert "自评总分 99.67，复核总分 97.67（优）。" in mail.body
    assert "审核意见：\n同意。请在公开前再核对第10项。\n" in mail.body
    assert f"{BASE_URL}/assessments/{department.pk}/" in mail.body

    # Afterwards the page is read-only and the history is complete on it.
    page = bureau.get(review_url(department))
    assert page.context["editable"] is False and page.context["starting"] is False
    assert [t.action for t in page.context["transitions"]] == [
        "submit", "start_review", "return", "submit", "start_review", "approve", "publish",
    ]
    assert element(page.content.decode(), "state").endswith(">已公开")


def test_reordered_rows_are_not_a_change(officer, bureau, reviewer, department):
    in_review(officer, bureau, department)
    workflow.perform(reviewer, department, "return", "请调整")
    data = form_data(officer.get(edit_url(department)))
    # Swap rows 1 and 2 (same 二级), nothing else.
    data["indicators-0-ORDER"], data["indicators-1-ORDER"] = "2", "1"
    data["action"] = "submit"
    assert officer.post(edit_url(department), data).status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    snaps = list(Snapshot.objects.filter(assessment=department).order_by("number"))
    assert [i["key"] for i in snaps[1].data["indicators"]][:2] == [i["key"] for i in snaps[0].data["indicators"]][1::-1]

    page = bureau.get(review_url(department))

    assert page.context["changes"] == []
    assert "两次提交内容相同。" in page.content.decode()


def test_reordered_and_changed_rows_match_by_key(officer, bureau, reviewer, department):
    in_review(officer, bureau, department)
    workflow.perform(reviewer, department, "return", "请调整")
    data = form_data(officer.get(edit_url(department)))
    data["indicators-0-ORDER"], data["indicators-1-ORDER"] = "2", "1"
    data["indicators-1-actual"] = "派出40名政法单位班子成员下沉到社区协助疫情防控"
    data["action"] = "submit"
    assert officer.post(edit_url(department), data).status_code == 302

    changes = bureau.get(review_url(department)).context["changes"]

    key = str(department.indicators.get(name=SEED_004_INDICATORS[1][2]).key)
    assert [(c.section, c.row, c.field, c.before, c.after, c.row_key) for c in changes] == [
        ("绩效指标", SEED_004_INDICATORS[1][2], "实际完成值", "派出37名政法单位班子成员下沉到社区协助疫情防控",
         "派出40名政法单位班子成员下沉到社区协助疫情防控", key),
    ]


def test_email_body_keeps_the_comment_verbatim(officer, bureau, mail_users, department, mailoutbox,
                                               django_capture_on_commit_callbacks):
    """E-mails are plain text: the reviewer's comment must not arrive HTML-escaped."""
    in_review(officer, bureau, department)
    comment = "第3项\"破获案件数\"与公安口径不符 & 请附<统计表>，谢谢'"
    data = review_data(bureau.get(review_url(department)), "return", comment)
    with django_capture_on_commit_callbacks(execute=True):
        assert bureau.post(review_url(department), data).status_code == 302
    mail = mailoutbox[-1]
    assert mail.subject == f"【绩效自评】“{TITLE}”被退回修改"
    assert f"审核意见：\n{comment}\n" in mail.body


def test_email_subject_keeps_project_name_verbatim(alice, mail_users, unit_a, round_2020, mailoutbox,
                                                  django_capture_on_commit_callbacks):
    a = make_submission(unit_a, round_2020, name="\"雪亮工程\" & 平安<社区>", state="draft")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(alice, a, "submit")
    assert mailoutbox[-1].subject == f"【绩效自评】{UNIT_A}提交了“2020年度\"雪亮工程\" & 平安<社区>绩效自评”，请审核"


def test_submit_mail_goes_to_reviewers_of_the_unit_only(alice, mail_users, unit_a, unit_b, round_2020, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    assigned = User.objects.create_user("carol", email="carol@czj.example.cn", password=PASSWORD)
    ReviewerAssignment.objects.create(reviewer=assigned, unit=unit_a)
    other = User.objects.create_user("dave", email="dave@czj.example.cn", password=PASSWORD)
    ReviewerAssignment.objects.create(reviewer=other, unit=unit_b)
    inactive = User.objects.create_user("erin", email="erin@czj.example.cn", password=PASSWORD, is_active=False)
    ReviewerAssignment.objects.create(reviewer=inactive, unit=unit_a)
    a = make_submission(unit_a, round_2020, name="综治经费", state="draft")

    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(alice, a, "submit")

    assert [m.to for m in mailoutbox] == [["carol@czj.example.cn", "shenhe@czj.example.cn"]]


def test_submit_mail_skips_a_reviewer_who_is_an_officer_of_the_unit(alice, mail_users, unit_a, round_2020, mailoutbox,
                                                                   django_capture_on_commit_callbacks):
    # frank reviews all units but also fills in for unit A: he may not review A, so no "请审核" mail.
    frank = User.objects.create_user("frank", email="frank@czj.example.cn", password=PASSWORD)
    frank.user_permissions.add(Permission.objects.get(codename="review_all"))
    Membership.objects.create(user=frank, unit=unit_a, role=Membership.Role.OFFICER)
    a = make_submission(unit_a, round_2020, name="综治经费", state="draft")

    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(alice, a, "submit")

    assert [m.to for m in mailoutbox] == [["shenhe@czj.example.cn"]]


# --- 2. 复核 validation -------------------------------------------------------------------------


@pytest.fixture
def reviewing_004(officer, bureau, department):
    return in_review(officer, bureau, department)


def post_invalid(bureau, department, changes, action="save", comment=""):
    data = review_data(bureau.get(review_url(department)), action, comment)
    data["review-0-note"] = "第一行的说明，保留在页面上"
    data.update(changes)
    response = bureau.post(review_url(department), data)
    assert response.status_code == 400
    html = response.content.decode()
    # Nothing saved, nothing decided, and everything typed is still on the page.
    assert IndicatorReview.objects.filter(review__assessment=department).count() == 0
    review = Review.objects.get(assessment=department)
    assert (review.decision, review.review_total) == ("pending", None)
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW
    assert field_value(html, "review-0-note") == "第一行的说明，保留在页面上"
    for name, value in changes.items():
        assert field_value(html, name) == value
    assert "未保存，请修改以下" in html
    return response


def test_review_score_above_weight_is_refused(bureau, reviewing_004):
    response = post_invalid(bureau, reviewing_004, {"review-9-score": "12", "review-9-note": "加分"})
    assert response.context["errors"] == ["第10行「指标1：维护好企业的合法权益」：复核得分 12.00 应在 0.00–10.00 之间"]
    assert "第10行「指标1：维护好企业的合法权益」：复核得分 12.00 应在 0.00–10.00 之间" in response.content.decode()


def test_review_score_outside_reviewer_band_is_refused(bureau, reviewing_004):
    response = post_invalid(
        bureau, reviewing_004, {"review-10-outcome": "partial", "review-10-score": "8.5", "review-10-note": "部分人员未稳控"}
    )
    assert response.context["errors"] == [
        "第11行「指标1：维护社会治安持续稳定的社会局面」：复核部分达成年度指标并具有一定效果，得分应在 6.00–7.99 之间（当前 8.50）"
    ]
    assert 'value="partial" selected' in element(response.content.decode(), "review-row-11")


def test_review_score_outside_self_band_is_refused(bureau, reviewing_004):
    response = post_invalid(bureau, reviewing_004, {"review-6-score": "7", "review-6-note": "部分工作延期"})
    assert response.context["errors"] == [
        "第7行「指标1：区政法各项工作任务年度完成情况」：复核达成年度指标，得分应在 8.00–10.00 之间（当前 7.00）"
    ]


def test_lower_review_score_without_note_is_refused(bureau, reviewing_004):
    response = post_invalid(bureau, reviewing_004, {"review-9-score": "8"})
    assert response.context["errors"] == [
        "第10行「指标1：维护好企业的合法权益」：复核得分 8.00 低于自评得分 10.00，请填写复核说明"
    ]


def test_return_without_comment_is_refused(bureau, reviewing_004):
    response = post_invalid(bureau, reviewing_004, {"review-9-score": "8", "review-9-note": "依据不足"}, action="return",
                            comment="   ")
    assert response.context["errors"] == ["审核意见：退回修改须填写审核意见。"]
    assert "退回修改须填写审核意见。" in element(response.content.decode(), "decision")
    assert history(reviewing_004)[-1][0] == "start_review"


def test_every_problem_is_listed_at_once(bureau, reviewing_004):
    response = post_invalid(
        bureau, reviewing_004, {"review-0-score": "6", "review-9-score": "8", "review-12-score": "abc"}, action="return"
    )
    assert response.context["errors"] == [
        "第1行「指标1：坚持源头治理，防范风险，组织实施风险评估项目数量」：复核得分 6.00 应在 0.00–5.00 之间",
        "第10行「指标1：维护好企业的合法权益」：复核得分 8.00 低于自评得分 10.00，请填写复核说明",
        "第13行「复核得分」：请输入数字，例如 5 或 4.84。",
        "审核意见：退回修改须填写审核意见。",
    ]


def test_quantitative_review_actual_computes_the_review_score(bureau, reviewing_004):
    department = reviewing_004
    data = review_data(bureau.get(review_url(department)))
    data["review-8-actual"] = "90%"  # 指标2：专项资金 target 100%, w 5

    refused = bureau.post(review_url(department), data)
    assert refused.status_code == 400
    assert refused.context["errors"] == [
        "第9行「指标2：有效合理使用各类专项资金，无超出规定用途的支出」：复核得分 4.50 低于自评得分 5.00，请填写复核说明"
    ]

    data["review-8-note"] = "抽查发现10%的资金用途不符。"
    assert bureau.post(review_url(department), data).status_code == 302
    page = bureau.get(review_url(department))
    line = page.context["review_view"].lines[8]
    assert line.result.score == D("4.50")  # 5 × 90 ÷ 100, as for the officer's actual
    assert line.result.explanation == "按复核完成值 90% 计算，复核得分 4.50（较自评 -0.50）"
    assert (line.row.actual, line.row.score) == ("90%", None)
    assert page.context["review_view"].totals.total == D("99.17")
    assert Review.objects.get(assessment=department).review_total == D("99.17")


def test_the_first_save_starts_the_review_and_a_get_never_does(officer, bureau, reviewer, department):
    """Issue 17: no separate 开始审核 click; opening the page changes nothing."""
    submit_seed_004(officer, department)
    page = bureau.get(review_url(department))
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED and not Review.objects.filter(assessment=department).exists()
    html = page.content.decode()
    assert 'value="start_review"' not in html and ">开始审核<" not in html
    assert "填写复核后点击“保存复核”即开始审核（无需另行点击“开始审核”）；审核开始后，填报单位不能再撤回。" in html
    data = review_data(page, "save")
    data["review-9-score"], data["review-9-note"] = "8.00", "调解成功11件，成功率不足80%。"
    response = bureau.post(review_url(department), data, follow=True)
    assert messages_of(response) == ["复核已保存（草稿），审核已开始：填报单位不能再撤回。"]
    department.refresh_from_db()
    assert department.state == Assessment.State.IN_REVIEW
    review = Review.objects.get(assessment=department)
    assert (review.number, review.decision, review.reviewer, review.review_total) == (1, "pending", reviewer, D("97.67"))
    assert list(department.transitions.values_list("action", "actor__username")) == [
        ("submit", "alice"), ("start_review", "reviewer")
    ]
    # The officer is told, and cannot withdraw.
    detail = officer.get(reverse("assessments:detail", args=[department.pk])).content.decode()
    started = department.transitions.get(action="start_review").at
    assert (f'财政局已于 {timezone.localtime(started):%Y-%m-%d %H:%M} 开始审核，不能再撤回。如需修改，请联系审核人退回修改。'
            in detail)
    assert f'action="/assessments/{department.pk}/withdraw/"' not in detail


def test_a_bad_first_save_starts_nothing(officer, bureau, department):
    submit_seed_004(officer, department)
    data = review_data(bureau.get(review_url(department)), "save")
    data["review-0-score"] = "abc"
    response = bureau.post(review_url(department), data)
    assert response.status_code == 400
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED and not Review.objects.filter(assessment=department).exists()


def test_approve_is_refused_after_return(officer, bureau, reviewer, reviewing_004):
    page = bureau.get(review_url(reviewing_004))
    workflow.perform(reviewer, reviewing_004, "return", "请补充")
    response = bureau.post(review_url(reviewing_004), review_data(page, "approve"), follow=True)
    assert messages_of(response) == ["该自评当前状态为“退回修改”，不能保存复核。"]
    reviewing_004.refresh_from_db()
    assert reviewing_004.state == Assessment.State.RETURNED


def test_posting_fewer_rows_than_the_form_is_refused_not_a_server_error(bureau, reviewing_004):
    """A stale or tampered post whose rows do not match the submission saves nothing."""
    page = bureau.get(review_url(reviewing_004))
    data = review_data(page)
    for k in [k for k in data if k.startswith("review-") and k.split("-")[1].isdigit() and int(k.split("-")[1]) > 0]:
        del data[k]
    data["review-TOTAL_FORMS"] = "1"
    data["review-0-score"] = "4"

    response = bureau.post(review_url(reviewing_004), data, follow=True)

    assert response.status_code == 200
    assert messages_of(response) == ["页面内容已过期（指标行与当前提交不一致），未保存。请在刷新后的页面重新填写。"]
    assert not IndicatorReview.objects.filter(review__assessment=reviewing_004).exists()


# --- 4. access ---------------------------------------------------------------------------------


def make_submission(unit, round_, *, name=None, kind="project", state="submitted", funding=("100", "95", ""),
                    rows=None, sections=None, submitted_at=None):
    """An assessment with content, cached scores and flags, put straight into `state`."""
    a = create_assessment(
        unit=unit, round=round_, kind=kind, layout=kind, project_name=name if kind == "project" else ""
    )
    budget, actual, reason = funding
    FundingRow.objects.filter(assessment=a, source="total").update(budget=D(budget), actual=D(actual), reason=reason)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=nm, target=t, actual=ac,
                  weight=None if w is None else D(w), reason=rs)
        for n, (l1, l2, nm, t, ac, w, rs) in enumerate(rows if rows is not None else clean_rows(), start=1)
    )
    for key, body in (sections or {}).items():
        ReportSection.objects.filter(assessment=a, key=key).update(body=body)
    refresh_scores(a)
    if state != "draft":
        Assessment.objects.filter(pk=a.pk).update(state=state, submitted_at=submitted_at or timezone.now())
    a.refresh_from_db()
    return a


def clean_rows(**replace):
    """Three rows adding up to 90 (with 预算执行率 10: 100); not all full; no flag at all."""
    rows = {
        "output": ("产出指标", "数量指标", "培训次数", "≥10次", "12次", "50", ""),
        "benefit": ("效益指标", "社会效益指标", "受益人数", "≥100人", "90人", "30", "部分对象未参加"),
        "satisfaction": ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", "10", ""),
    }
    for key, changes in replace.items():
        row = list(rows[key])
        for index, value in changes.items():
            row[index] = value
        rows[key] = tuple(row)
    return list(rows.values())


ACTUAL, WEIGHT, REASON = 4, 5, 6


@pytest.fixture
def carol(unit_a):
    """A reviewer assigned to unit A only."""
    user = User.objects.create_user("carol", password=PASSWORD)
    ReviewerAssignment.objects.create(reviewer=user, unit=unit_a)
    return user


@pytest.fixture
def two_units(unit_a, unit_b, round_2020):
    a = make_submission(unit_a, round_2020, name="甲单位项目")
    b = make_submission(unit_b, round_2020, name="乙单位项目")
    return a, b


def listed(client, **params) -> list[str]:
    response = client.get(DASHBOARD, params)
    assert response.status_code == 200
    return [a.project_name or a.title for a in response.context["page"]]


class TestAccess:
    def test_assigned_reviewer_sees_only_assigned_units(self, client, carol, two_units):
        a, b = two_units
        client.force_login(carol)
        assert client.get(review_url(a)).status_code == 200
        assert client.get(review_url(b)).status_code == 404
        assert client.post(review_url(b), {"action": "start_review"}).status_code == 404
        assert client.post(review_url(b), {"action": "approve"}).status_code == 404
        assert listed(client) == ["甲单位项目"]
        assert listed(client, unit=b.unit_id) == []
        assert listed(client, q="乙单位") == []
        b.refresh_from_db()
        assert b.state == Assessment.State.SUBMITTED
        with pytest.raises(workflow.TransitionRefused, match="您无权对该自评执行“开始审核”。"):
            workflow.perform(carol, b, "start_review")

    def test_bureau_wide_reviewer_sees_all_units(self, bureau, two_units):
        a, b = two_units
        assert bureau.get(review_url(a)).status_code == 200
        assert bureau.get(review_url(b)).status_code == 200
        assert sorted(listed(bureau)) == ["乙单位项目", "甲单位项目"]

    def test_officers_get_403_or_404(self, client, alice, bob, two_units):
        a, b = two_units
        for user in (alice, bob):
            client.force_login(user)
            assert client.get(DASHBOARD).status_code == 403
            for target in (a, b):
                url = review_url(target)
                assert client.get(url).status_code in (403, 404)
                assert client.post(url, {"action": "start_review"}).status_code in (403, 404)
                assert client.post(url, {"action": "approve"}).status_code in (403, 404)
        a.refresh_from_db(), b.refresh_from_db()
        assert (a.state, b.state) == ("submitted", "submitted")
        assert not Transition.objects.exists()

    def test_anonymous_is_sent_to_login(self, client, two_units):
        a, _ = two_units
        for url in (DASHBOARD, review_url(a)):
            response = client.get(url)
            assert response.status_code == 302
            assert response["Location"] == f"/login/?next={url}"
        response = client.post(review_url(a), {"action": "start_review"})
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        a.refresh_from_db()
        assert a.state == Assessment.State.SUBMITTED

    def test_drafts_are_never_visible_to_reviewers(self, bureau, client, carol, unit_a, round_2020):
        draft = make_submission(unit_a, round_2020, name="草稿项目", state="draft")
        make_submission(unit_a, round_2020, name="已提交项目")
        client.force_login(carol)
        for c in (bureau, client):
            assert c.get(review_url(draft)).status_code == 404
            assert c.post(review_url(draft), {"action": "start_review"}).status_code == 404
            assert listed(c) == ["已提交项目"]
            assert listed(c, state="draft") == []
            assert listed(c, q="草稿") == []

    def test_reviewer_who_is_officer_of_the_unit_cannot_review_it(self, client, reviewer, unit_a, unit_b, round_2020,
                                                                  two_units):
        a, b = two_units
        Membership.objects.create(user=reviewer, unit=unit_a, role=Membership.Role.OFFICER)
        client.force_login(reviewer)
        assert client.get(review_url(a)).status_code == 404
        assert client.post(review_url(a), {"action": "start_review"}).status_code == 404
        assert client.get(review_url(b)).status_code == 200
        assert listed(client) == ["乙单位项目"]
        with pytest.raises(workflow.TransitionRefused, match="您无权对该自评执行“开始审核”。"):
            workflow.perform(reviewer, a, "start_review")

    def test_assigned_reviewer_of_own_unit_cannot_review_it(self, client, alice, two_units):
        a, _ = two_units
        ReviewerAssignment.objects.create(reviewer=alice, unit=a.unit)
        client.force_login(alice)
        assert client.get(review_url(a)).status_code == 404
        assert listed(client) == []


# --- 5. races ----------------------------------------------------------------------------------


@pytest.fixture
def second_reviewer(db):
    user = User.objects.create_user("reviewer2", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="review_all"))
    return user


def started(alice, reviewer, unit_a, round_2020):
    a = make_submission(unit_a, round_2020, name="竞态项目", state="draft")
    workflow.perform(alice, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    return a


@pytest.mark.parametrize("first", ["approve", "return"])
def test_approve_and_return_race_one_wins(alice, reviewer, second_reviewer, unit_a, round_2020, first):
    a = started(alice, reviewer, unit_a, round_2020)
    one, two = Assessment.objects.get(pk=a.pk), Assessment.objects.get(pk=a.pk)  # both pages loaded in review
    second = "return" if first == "approve" else "approve"
    before = Transition.objects.filter(assessment=a).count()

    workflow.perform(reviewer, one, first, "请补充材料" if first == "return" else "")
    decided_at = Review.objects.get(assessment=a).decided_at
    with pytest.raises(workflow.TransitionRefused) as refused:
        workflow.perform(second_reviewer, two, second, "请补充材料" if second == "return" else "")

    # Exactly one transition added; the review decided once, by the winner.
    assert Transition.objects.filter(assessment=a).count() == before + 1
    assert Transition.objects.filter(assessment=a).latest("id").action == first
    review = Review.objects.get(assessment=a)
    assert review.decision == ("approved" if first == "approve" else "returned")
    assert (review.reviewer, review.decided_at) == (reviewer, decided_at)
    a.refresh_from_db()
    assert a.state == ("approved" if first == "approve" else "returned")
    # The loser is told that someone else changed the state, not asked to "start the review first".
    target = "审核通过" if first == "approve" else "退回修改"
    assert str(refused.value) == f"该自评的状态刚刚已被更改（现为“{target}”），请刷新页面后再操作。"


@pytest.mark.parametrize("first", ["start_review", "withdraw"])
def test_start_review_and_withdraw_race_one_wins(alice, reviewer, unit_a, round_2020, first):
    a = make_submission(unit_a, round_2020, name="竞态项目", state="draft")
    workflow.perform(alice, a, "submit")
    reviewer_copy, officer_copy = Assessment.objects.get(pk=a.pk), Assessment.objects.get(pk=a.pk)

    if first == "start_review":
        workflow.perform(reviewer, reviewer_copy, "start_review")
        with pytest.raises(workflow.TransitionRefused, match="状态刚刚已被更改") as refused:
            workflow.perform(alice, officer_copy, "withdraw")
        assert "现为“审核中”" in str(refused.value)
    else:
        workflow.perform(alice, officer_copy, "withdraw")
        with pytest.raises(workflow.TransitionRefused, match="状态刚刚已被更改") as refused:
            workflow.perform(reviewer, reviewer_copy, "start_review")
        assert "现为“草稿”" in str(refused.value)

    assert [t.action for t in Transition.objects.filter(assessment=a).order_by("id")] == ["submit", first]
    assert Review.objects.filter(assessment=a).count() == (1 if first == "start_review" else 0)
    a.refresh_from_db()
    assert a.state == ("in_review" if first == "start_review" else "draft")


def test_race_through_the_pages(client, alice, reviewer, second_reviewer, unit_a, round_2020):
    """Two reviewers have the page open; the second click gets a clear message."""
    a = started(alice, reviewer, unit_a, round_2020)
    c1, c2 = Client(), Client()
    c1.force_login(reviewer)
    c2.force_login(second_reviewer)
    page1, page2 = c1.get(review_url(a)), c2.get(review_url(a))

    assert c1.post(review_url(a), review_data(page1, "approve")).status_code == 302
    response = c2.post(review_url(a), review_data(page2, "return", "不同意"), follow=True)

    assert response.status_code == 200
    assert messages_of(response) == ["该自评当前状态为“审核通过”，不能保存复核。"]
    assert [t.action for t in Transition.objects.filter(assessment=a).order_by("id")] == ["submit", "start_review", "approve"]
    assert Review.objects.get(assessment=a).decision == "approved"


@pytest.mark.django_db(transaction=True)
def test_real_concurrent_approve_and_return(alice, reviewer, second_reviewer, unit_a, round_2020):
    """Both requests have loaded the assessment in review and act at once (PostgreSQL: the row
    lock that approve and return take before reading the review decides; issue 12 finding 6)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises write transactions (BEGIN IMMEDIATE); no interleaving to test")
    a = started(alice, reviewer, unit_a, round_2020)
    barrier = threading.Barrier(2, timeout=10)
    outcomes = {}

    def act(user, action, comment):
        try:
            loaded = Assessment.objects.get(pk=a.pk)
            barrier.wait()  # both pages loaded in review
            workflow.perform(user, loaded, action, comment)
            outcomes[action] = "ok"
        except workflow.TransitionRefused as exc:
            outcomes[action] = str(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(reviewer, "approve", "")),
        threading.Thread(target=act, args=(second_reviewer, "return", "请补充")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert sorted(outcomes.values(), key=lambda v: v != "ok")[0] == "ok"
    assert len([v for v in outcomes.values() if v == "ok"]) == 1
    loser = next(v for v in outcomes.values() if v != "ok")
    assert "状态刚刚已被更改" in loser
    # One transition from the race (a winning approve is followed by the export's "publish").
    assert Transition.objects.filter(assessment=a).exclude(action="publish").count() == 3
    review = Review.objects.get(assessment=a)
    winner = next(k for k, v in outcomes.items() if v == "ok")
    assert review.decision == ("approved" if winner == "approve" else "returned")


# --- 6. dashboard ------------------------------------------------------------------------------


def test_state_counts_for_the_round(bureau, unit_a, unit_b, round_2020):
    other_round = Round.objects.create(year=2019, title="2019年度绩效自评")
    for n, state in enumerate(["draft", "draft", "submitted", "submitted", "submitted", "in_review", "returned",
                               "approved", "published"]):
        make_submission(unit_a if n % 2 else unit_b, round_2020, name=f"项目{n}", state=state)
    make_submission(unit_a, other_round, name="去年项目", state="submitted")

    response = bureau.get(DASHBOARD, {"round": round_2020.pk})

    counts = [(s.value, n) for s, n, _listed in response.context["counts"]]
    assert counts == [("draft", 2), ("submitted", 3), ("forwarded", 0), ("in_review", 1), ("returned", 1), ("approved", 1),
                      ("published", 1)]
    assert response.context["total_count"] == 9
    html = response.content.decode()
    assert '<div class="fs-4" data-state="submitted">3</div>' in html
    assert '<div class="fs-4" data-state="draft">2</div>' in html
    assert response.context["page"].paginator.count == 7  # drafts are counted, never listed
    # Without ?round= the latest round with submissions is shown.
    assert bureau.get(DASHBOARD).context["round"] == round_2020


@pytest.fixture
def mixed(unit_a, unit_b, round_2020):
    made = {
        "a_project": make_submission(unit_a, round_2020, name="综治、平安建设经费"),
        "a_dept": make_submission(unit_a, round_2020, kind="department", state="in_review",
                                  sections={"basic_info": "x", "department_performance": "x", "problems": "x",
                                            "improvements": "x"}),
        "b_project": make_submission(unit_b, round_2020, name="雪亮工程", state="approved"),
        "b_dept": make_submission(unit_b, round_2020, kind="department", state="returned",
                                  rows=clean_rows(satisfaction={ACTUAL: "100%"}),
                                  sections={"basic_info": "x", "department_performance": "x", "problems": "x",
                                            "improvements": "x"}),
    }
    return made


def titles(client, **params):
    return sorted(a.title if a.kind == "department" else a.project_name for a in client.get(DASHBOARD, params).context["page"])


@pytest.mark.usefixtures("rendered_pages")
def test_filters(bureau, mixed, unit_a, unit_b):
    assert titles(bureau, state="submitted") == ["综治、平安建设经费"]
    assert titles(bureau, state="approved") == ["雪亮工程"]
    assert titles(bureau, unit=unit_b.pk) == sorted([TITLE, "雪亮工程"])
    assert titles(bureau, kind="department") == [TITLE, TITLE]
    assert titles(bureau, kind="project", unit=unit_a.pk) == ["综治、平安建设经费"]
    assert titles(bureau, flag="satisfaction_100") == [TITLE]
    assert [a.unit_id for a in bureau.get(DASHBOARD, {"flag": "satisfaction_100"}).context["page"]] == [unit_b.pk]
    assert titles(bureau, q="岳麓区委员会政法") == sorted([TITLE, "综治、平安建设经费"])  # unit name
    assert titles(bureau, q="测试单位") == sorted([TITLE, "雪亮工程"])  # short name
    assert titles(bureau, q="雪亮") == ["雪亮工程"]  # project name
    assert titles(bureau, q="不存在的项目") == []
    # Unknown filter values are ignored rather than failing.
    assert len(titles(bureau, state="bogus", kind="x", unit="abc", flag="nope")) == 4
    html = bureau.get(DASHBOARD, {"q": "雪亮"}).content.decode()
    assert 'value="雪亮"' in html


@pytest.mark.usefixtures("rendered_pages")
def test_sort_by_self_total_both_ways(bureau, unit_a, round_2020):
    low = make_submission(unit_a, round_2020, name="低分", rows=clean_rows(output={ACTUAL: "6次", REASON: "疫情影响"}))
    mid = make_submission(unit_a, round_2020, name="中分")
    high = make_submission(unit_a, round_2020, name="高分", rows=clean_rows(benefit={ACTUAL: "100人"}))
    none = make_submission(unit_a, round_2020, name="不计分", rows=clean_rows(
        output={WEIGHT: None}, benefit={WEIGHT: None}, satisfaction={WEIGHT: None}))
    assert (low.self_total, mid.self_total, high.self_total, none.self_total) == (D("76.50"), D("96.50"), D("99.50"), None)

    assert listed(bureau, sort="self") == ["低分", "中分", "高分", "不计分"]
    assert listed(bureau, sort="-self") == ["高分", "中分", "低分", "不计分"]
    html = bureau.get(DASHBOARD, {"sort": "self"}).content.decode()
    assert "自评总分 ▲" in html
    assert "自评总分 ▼" in bureau.get(DASHBOARD, {"sort": "-self"}).content.decode()
    # Each column can be sorted without error.
    for key in ("unit", "kind", "title", "state", "submitted", "self", "review", "gap", "flags"):
        assert len(listed(bureau, sort=key)) == 4
        assert len(listed(bureau, sort=f"-{key}")) == 4


def test_pagination_50_a_page(bureau, unit_a, round_2020):
    for n in range(51):
        make_submission(unit_a, round_2020, name=f"项目{n:02d}", rows=[])
    first = bureau.get(DASHBOARD, {"sort": "title"})
    assert [a.project_name for a in first.context["page"]] == [f"项目{n:02d}" for n in range(50)]
    assert "第 1 / 2 页，共 51 条" in first.content.decode()
    second = bureau.get(DASHBOARD, {"sort": "title", "page": "2"})
    assert [a.project_name for a in second.context["page"]] == ["项目50"]
    assert "第 2 / 2 页，共 51 条" in second.content.decode()
    # The page links keep the sort and filters.
    assert "page=2" in first.content.decode() and "sort=title" in first.content.decode()
    # Page numbers, not only previous/next (issue 17).
    nav = first.content.decode()
    assert ('<li class="page-item active" aria-current="page"><span class="page-link">1</span></li>'
            f'<li class="page-item"><a class="page-link" href="?round={round_2020.pk}&amp;sort=title&amp;page=2" '
            'aria-label="第 2 页">2</a></li>') in nav


def test_page_numbers_are_elided_on_long_lists(bureau, unit_a, round_2020, monkeypatch):
    from assessments.views import review

    monkeypatch.setattr(review, "PAGE_SIZE", 1)
    for n in range(12):
        make_submission(unit_a, round_2020, name=f"项目{n:02d}", rows=[])
    response = bureau.get(DASHBOARD, {"sort": "title", "page": "6"})
    assert response.context["page_range"] == [1, "…", 4, 5, 6, 7, 8, "…", 12]
    assert '<li class="page-item disabled"><span class="page-link">…</span></li>' in response.content.decode()


def test_state_cards_lead_only_to_lists_the_reviewer_sees(bureau, unit_a, unit_b, round_2020):
    make_submission(unit_a, round_2020, name="草稿项目", state="draft")
    make_submission(unit_b, round_2020, name="已提交项目", state="submitted")
    html = bureau.get(DASHBOARD, {"round": round_2020.pk}).content.decode()
    cards = element(html, "state-counts")
    assert "state=draft" not in cards
    assert '<div class="small text-body-secondary">草稿（未提交，不可查看）</div><div class="fs-4" data-state="draft">1</div>' in cards
    assert f'href="?round={round_2020.pk}&amp;state=submitted"' in cards
    for state in ("submitted", "in_review", "returned", "approved", "published"):
        assert f"state={state}" in cards


def test_dashboard_list_exports_to_xlsx(bureau, unit_a, unit_b, round_2020):
    from io import BytesIO

    from openpyxl import load_workbook

    make_submission(unit_a, round_2020, name="=HYPERLINK(\"http://x\")", state="submitted")
    make_submission(unit_b, round_2020, name="雪亮工程", state="approved")
    make_submission(unit_b, round_2020, name="草稿项目", state="draft")
    response = bureau.get(reverse("assessments:dashboard_xlsx"), {"round": round_2020.pk, "sort": "title"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(BytesIO(response.content)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == ["单位", "类型", "名称", "状态", "提交时间", "自评总分", "复核总分", "差值", "风险提示"]
    assert [r[2] for r in rows[1:]] == ['2020年度=HYPERLINK("http://x")绩效自评', "2020年度雪亮工程绩效自评"]
    assert ws["C2"].data_type == "s"  # text, never a formula
    assert [r[3] for r in rows[1:]] == ["已提交", "审核通过"]
    filtered = bureau.get(reverse("assessments:dashboard_xlsx"), {"round": round_2020.pk, "state": "approved"})
    assert [[c.value for c in row][2] for row in load_workbook(BytesIO(filtered.content)).active.iter_rows()][1:] == [
        "2020年度雪亮工程绩效自评"
    ]


FLAG_CASES = {
    "all_full": dict(rows=clean_rows(benefit={ACTUAL: "100人", REASON: ""})),
    "rate_out": dict(funding=("100", "85", "部分项目延期")),
    "weights_not_100": dict(rows=clean_rows(satisfaction={WEIGHT: "5"})),
    "actual_is_target": dict(rows=clean_rows(output={ACTUAL: "≥10次"})),
    "over_no_reason": dict(rows=clean_rows(output={ACTUAL: "13次"})),
    "satisfaction_100": dict(rows=clean_rows(satisfaction={ACTUAL: "100%"})),
}


def test_clean_submission_has_no_flag(unit_a, round_2020):
    a = make_submission(unit_a, round_2020, name="无风险")
    assert (a.risk_flags, a.risk_flag_count, a.self_total) == ("", 0, D("96.50"))


@pytest.mark.parametrize("code", [*FLAG_CASES, "report_empty"])
def test_each_risk_flag_is_computed_and_filterable(bureau, unit_a, unit_b, round_2020, code):
    make_submission(unit_a, round_2020, name="无风险")
    if code == "report_empty":
        make_submission(unit_a, round_2020, kind="department", sections={
            "basic_info": "基本情况", "department_performance": "绩效情况", "problems": "存在问题", "improvements": "改进措施"})
        flagged = make_submission(unit_b, round_2020, kind="department", sections={
            "basic_info": "基本情况", "department_performance": "绩效情况", "problems": "存在问题"})
    else:
        flagged = make_submission(unit_b, round_2020, name="有风险", **FLAG_CASES[code])

    assert (flagged.risk_flags, flagged.risk_flag_count) == (f",{code},", 1)
    response = bureau.get(DASHBOARD, {"flag": code})
    assert [a.pk for a in response.context["page"]] == [flagged.pk]
    flag = flags.FLAGS[code]
    assert f'<span class="badge text-bg-warning flag" title="{flag.tooltip}">{flag.label}</span>' in response.content.decode()
    assert f'<option value="{code}" selected>{flag.label}</option>' in response.content.decode()


def test_sort_by_flag_count(bureau, unit_a, round_2020):
    make_submission(unit_a, round_2020, name="无风险")
    make_submission(unit_a, round_2020, name="两项", funding=("100", "85", "延期"), rows=clean_rows(satisfaction={ACTUAL: "100%"}))
    make_submission(unit_a, round_2020, name="一项", funding=("100", "85", "延期"))
    assert listed(bureau, sort="-flags") == ["两项", "一项", "无风险"]


def test_late_units_after_the_deadline(bureau, unit_a, unit_b, region):
    from assessments.models import Unit

    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="区司法局", region=region)
    late_round = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=date.today() - timedelta(days=1))
    make_submission(unit_a, late_round, kind="department")  # submitted: not late
    make_submission(unit_b, late_round, kind="department", state="draft")  # still a draft: late
    make_submission(unit_c, late_round, name="只交了项目")  # no department assessment: late

    response = bureau.get(DASHBOARD, {"round": late_round.pk})

    assert [u.name for u in response.context["late"]] == ["中共长沙市岳麓区财政局测试单位", "长沙市岳麓区司法局"]
    assert "已过截止日期仍未提交部门整体支出自评的单位（2 个）：" in response.content.decode()
    assert "测试单位、区司法局" in response.content.decode()


def test_returned_department_counts_as_late(bureau, unit_a, region):
    late_round = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=date.today() - timedelta(days=3))
    make_submission(unit_a, late_round, kind="department", state="returned")
    assert [u.pk for u in bureau.get(DASHBOARD, {"round": late_round.pk}).context["late"]] == [unit_a.pk]


def test_no_late_units_before_the_deadline(bureau, unit_a, unit_b):
    open_round = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=date.today())
    make_submission(unit_a, open_round, kind="department")
    response = bureau.get(DASHBOARD, {"round": open_round.pk})
    assert response.context["late"] == []
    assert "late-units" not in response.content.decode()


def test_late_units_only_among_the_reviewers_units(client, carol, unit_a, unit_b):
    late_round = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=date.today() - timedelta(days=1))
    make_submission(unit_a, late_round, name="甲项目")
    client.force_login(carol)
    assert [u.pk for u in client.get(DASHBOARD, {"round": late_round.pk}).context["late"]] == [unit_a.pk]


def test_late_units_leave_out_the_reviewers_own_unit(client, unit_a, unit_b, region):
    """A bureau-wide reviewer who is also an officer of unit_b: unit_b is never theirs to chase
    (the statement for "all but their own units", compiled once, read by two reviewers)."""
    from assessments.models import Membership, Unit

    from .test_access_matrix import make_reviewer

    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="区司法局", region=region)
    late_round = Round.objects.create(year=2021, title="2021年度绩效自评", deadline=date.today() - timedelta(days=1))
    make_submission(unit_c, late_round, kind="department", state="in_review")  # handed in: not late
    own = make_reviewer("benwei", bureau_wide=True)
    Membership.objects.create(user=own, unit=unit_b, role=Membership.Role.OFFICER)
    other = make_reviewer("quanbu", bureau_wide=True)
    for user, expected in ((own, [unit_a.pk]), (other, [unit_a.pk, unit_b.pk]), (own, [unit_a.pk])):
        client.force_login(user)
        assert [u.pk for u in client.get(DASHBOARD, {"round": late_round.pk}).context["late"]] == expected


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
        assert response.status_code == 200
    return len(ctx), response


@pytest.mark.usefixtures("rendered_pages")
def test_the_round_charts_are_drawn_once_while_they_are_the_same(bureau, unit_a, round_2020, renders):
    from assessments.views import review as review_views

    make_submission(unit_a, round_2020, name="项目0", rows=clean_rows(satisfaction={ACTUAL: "100%"}))
    rendered = renders(review_views)

    def drawn():  # the charts drawn (the rows are rendered on every request)
        return [name for name in rendered if name.startswith("includes/chart")]

    cache.clear()
    first = bureau.get(DASHBOARD).content.decode()
    assert drawn() == ["includes/chart_bars.html"] * len(first.split('<figure class="chart')[1:])
    assert len(drawn()) >= 2
    again = bureau.get(DASHBOARD).content.decode()
    assert len(drawn()) == len(first.split('<figure class="chart')[1:])  # within the minute: not drawn again
    assert again.split('<details class="card mb-3" id="round-charts"')[1].split("</details>")[0] == \
        first.split('<details class="card mb-3" id="round-charts"')[1].split("</details>")[0]


@pytest.mark.usefixtures("rendered_pages")
def test_dashboard_queries_do_not_grow_with_rows(bureau, unit_a, unit_b, round_2020, django_assert_num_queries):
    make_submission(unit_a, round_2020, name="项目0", rows=clean_rows(satisfaction={ACTUAL: "100%"}))
    one, response = count_queries(bureau, DASHBOARD)
    assert len(response.context["page"]) == 1
    for n in range(1, 50):
        make_submission(unit_a if n % 2 else unit_b, round_2020, name=f"项目{n}",
                        rows=clean_rows(satisfaction={ACTUAL: "100%"}))

    cache.clear()  # the round's charts are cached for a minute: compute them again, as the first time
    from assessments.views import review as review_views

    review_views._CHARTS_HERE.clear()  # in a process that has not read them, nor the account's roles
    roles._HERE.clear()
    with django_assert_num_queries(one):
        response = bureau.get(DASHBOARD)
    assert len(response.context["page"]) == 50
    # Within the minute the charts come from the cache: their three aggregate queries are saved,
    # and the account's roles, read by the request before, come from the cache too (ADR 0024).
    with django_assert_num_queries(one - 4):
        again = bureau.get(DASHBOARD)
    assert [c.title for c in again.context["charts"]] == [c.title for c in response.context["charts"]]


@pytest.mark.usefixtures("rendered_pages")
def test_review_page_queries_do_not_grow_with_rows(bureau, alice, reviewer, unit_a, round_2020, django_assert_num_queries):
    small = make_submission(unit_a, round_2020, name="小", state="draft")
    big = make_submission(unit_a, round_2020, name="大", state="draft",
                          rows=clean_rows() + [("产出指标", "数量指标", f"指标{n}", "≥1次", "1次", "0", "") for n in range(30)])
    for a in (small, big):
        workflow.perform(alice, a, "submit")
        workflow.perform(reviewer, a, "start_review")
    one, _ = count_queries(bureau, review_url(small))
    with django_assert_num_queries(one):
        bureau.get(review_url(big))


def test_review_preview_scores_what_is_typed_without_saving(officer, bureau, department):
    """Issue 17: the live 复核 column uses the checks and scoring of a save, and saves nothing."""
    submit_seed_004(officer, department)
    data = review_data(bureau.get(review_url(department)), "save")
    data["review-9-score"] = "8"
    data["review-0-score"] = "abc"
    data["review-1-score"] = "12"
    response = bureau.post(reverse("assessments:review_preview", args=[department.pk]), data)
    assert response.status_code == 200
    body = response.json()
    rows = body["rows"]
    assert len(rows) == 13
    assert rows[0]["errors"] == {"score": ["请输入数字，例如 5 或 4.84。"]}
    assert rows[1]["errors"]["score"][0].startswith("第2行")
    assert rows[9]["score"] == "8.00"
    assert rows[9]["errors"] == {"note": ["第10行「指标1：维护好企业的合法权益」：复核得分 8.00 低于自评得分 10.00，请填写复核说明"]}
    assert (body["total"], body["grade"], body["gap"], body["problem_count"]) == ("", "", "", 2)
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED and not Review.objects.filter(assessment=department).exists()

    data["review-0-score"], data["review-1-score"], data["review-9-note"] = "", "", "调解成功11件。"
    body = bureau.post(reverse("assessments:review_preview", args=[department.pk]), data).json()
    assert (body["total"], body["grade"], body["gap"], body["problem_count"]) == ("97.67", "优", "-2.00", 0)
    assert all(r["errors"] == {} for r in body["rows"])


def test_a_dashboard_row_shows_each_cell_as_the_reviewer_reads_it(bureau, unit_a, round_2020):
    """The rows (a Jinja2 template) read as the Django template wrote them: names escaped, the
    time in 北京时间, a blank score as —, the export's state in words."""
    from datetime import UTC, datetime

    from assessments.models import ExportJob, Unit

    assert bureau.get(DASHBOARD).content.decode().count("没有符合条件的提交。") == 1
    Unit.objects.filter(pk=unit_a.pk).update(short_name="<综治>&办")
    a = make_submission(unit_a, round_2020, name="项目<甲>", submitted_at=datetime(2021, 3, 1, 17, 30, tzinfo=UTC))
    ExportJob.objects.create(assessment=a, status=ExportJob.Status.DONE)
    html = bureau.get(DASHBOARD).content.decode()
    row = html.split('<table class="table table-hover table-sm bg-white align-middle" id="submissions">')[1]
    row = re.sub(r"\s*\n\s*", "", row.split("<tbody>")[1].split("</tbody>")[0])
    assert row == (
        "<tr><td>&lt;综治&gt;&amp;办</td><td>项目支出</td>"
        f'<td><a href="/assessments/review/{a.pk}/">2020年度项目&lt;甲&gt;绩效自评</a>'
        '<div class="small text-body-secondary evidence-count">佐证材料 0 个</div></td>'
        '<td>已提交<div class="small text-body-secondary export-done">导出：已完成</div></td>'
        '<td class="small">2021-03-02 01:30</td><td class="text-end">96.50</td><td class="text-end">—</td>'
        '<td class="text-end">—</td><td class="text-end"><span class="text-body-secondary">—</span></td></tr>'
    )


@pytest.mark.usefixtures("rendered_pages")
def test_the_review_rows_as_opened_are_the_rows_their_forms_render(bureau, reviewing_004):
    """The 复核 page as opened writes its rows through one form's fields (`rowforms` light rows):
    byte for byte the rows each row's own form renders, saved values and hostile text included."""
    from django.template.loader import render_to_string

    from assessments.rowforms import LightRow

    hostile = "<b>\"引号\" & 'apos' {0}%s</b>"
    data = review_data(bureau.get(review_url(reviewing_004)))
    data.update({"review-0-note": hostile, "review-1-actual": hostile, "review-2-note": "第三行说明"})
    assert bureau.post(review_url(reviewing_004), data).status_code == 302
    response = bureau.get(review_url(reviewing_004))
    context = response.context
    rows, formset = context["rows"], context["formset"]
    assert all(isinstance(form, LightRow) for _, form in rows) and len(rows) == len(formset.forms) > 3

    def rendered(pairs):
        return render_to_string("assessments/review/review_rows.html", {
            "rows": pairs, "a": context["view"].assessment, "pre_review": context["pre_review"],
            "pre_rows": {}, "adjustments": {}}, using="jinja2")

    real = [(line, formset.forms[i]) for i, (line, _) in enumerate(rows)]
    assert [form.initial["key"] for _, form in real] == [line.key for line, _ in rows]
    light_html = rendered(rows)
    assert light_html == rendered(real)
    assert "&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27; {0}%s&lt;/b&gt;</textarea>" in light_html
    # Each row's key, and a 定量 row's 完成情况 hidden (`as_hidden`).
    quantitative = [line for line, _ in rows if line.line.result.kind != "qualitative"]
    assert quantitative and light_html.count('type="hidden"') == len(rows) + len(quantitative)


@pytest.mark.usefixtures("rendered_pages")
def test_the_review_rows_are_rendered_again_only_when_what_they_show_changed(bureau, reviewing_004, renders):
    """The 复核 table's rows are kept under what they show (issue 17): a write elsewhere makes the page
    again, not its rows; a 复核 saved shows at once."""
    import django.template.loader as loader

    from assessments import generations
    from assessments.models import DataGeneration

    rendered = renders(loader)

    def rows_rendered():
        return len([name for name in rendered if name == "assessments/review/review_rows.html"])

    cache.clear()
    first = bureau.get(review_url(reviewing_004))
    assert rows_rendered() == 1
    generations.renew(DataGeneration)
    again = bureau.get(review_url(reviewing_004))
    assert rows_rendered() == 1
    assert again.content.decode().split('<tbody>')[1].split("</tbody>")[0] == \
        first.content.decode().split('<tbody>')[1].split("</tbody>")[0]
    data = review_data(again)
    data["review-1-note"] = "复核说明：已核对原始凭证。"
    assert bureau.post(review_url(reviewing_004), data).status_code == 302
    saved = bureau.get(review_url(reviewing_004)).content.decode()
    assert rows_rendered() == 2 and "复核说明：已核对原始凭证。</textarea>" in saved


@pytest.mark.usefixtures("rendered_pages")
def test_within_the_minute_the_round_charts_come_from_this_process(bureau, unit_a, round_2020, monkeypatch):
    """The charts and their drawings kept for the minute are copied in the process, as objects: the
    next dashboard does not ask the cache for them, nor unpickles them (issue 17)."""
    make_submission(unit_a, round_2020, name="项目0", rows=clean_rows(satisfaction={ACTUAL: "100%"}))
    first = bureau.get(DASHBOARD).content.decode()
    asked = []
    real = cache.get

    def get(key, *args, **kwargs):
        asked.append(key)
        return real(key, *args, **kwargs)

    monkeypatch.setattr(cache, "get", get)
    again = bureau.get(DASHBOARD).content.decode()
    assert not [key for key in asked if str(key).startswith("dashboard-charts:")]
    charts = '<details class="card mb-3" id="round-charts"'
    assert again.split(charts)[1].split("</details>")[0] == first.split(charts)[1].split("</details>")[0]
