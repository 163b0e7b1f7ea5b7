"""The reviewer's journey in a real Chromium: filter, lower a score (live totals), return; officer resubmits; approve."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from assessments import workflow
from assessments.models import Assessment, FundingRow, Indicator, ReportSection, Review, Transition
from assessments.services import create_assessment, refresh_scores

from .helpers import SEED_004_INDICATORS
from .helpers import browser_login as login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the approval's export (issue 4) writes files




def seed_004_submitted(alice, department):
    FundingRow.objects.filter(assessment=department, source__in=["total", "fiscal"]).update(
        budget=Decimal("10949.23"), actual=Decimal("10584.29")
    )
    Indicator.objects.bulk_create(
        Indicator(assessment=department, position=n, level1=l1, level2=l2, name=name, target=target, actual=actual,
                  weight=Decimal(w), outcome="achieved" if n not in (9,) else "")
        for n, (l1, l2, name, target, actual, w) in enumerate(SEED_004_INDICATORS, start=1)
    )
    ReportSection.objects.filter(assessment=department, key="basic_info").update(body="维护全区社会稳定。")
    refresh_scores(department)
    workflow.perform(alice, department, "submit")
    return department


def test_reviewer_returns_officer_resubmits_reviewer_approves(
    live_server, page, chromium, artifacts_dir, alice, bob, reviewer, department, unit_b, round_2020
):
    seed_004_submitted(alice, department)
    assert department.self_total == Decimal("99.67")
    other = create_assessment(unit=unit_b, round=round_2020, kind="project", layout="project", project_name="雪亮工程")
    Assessment.objects.filter(pk=other.pk).update(state=Assessment.State.IN_REVIEW)

    # The reviewer lands on the dashboard and filters it to 已提交.
    login(page, live_server, "reviewer", "/assessments/review/")
    assert page.locator("#submissions tbody tr").count() == 2
    page.select_option("#f-state", "submitted")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**state=submitted**")
    rows = page.locator("#submissions tbody tr")
    assert rows.count() == 1
    assert "雪亮工程" not in rows.first.text_content()
    assert "99.67" in rows.first.text_content()

    # Open it (nothing to click to start: the first save starts the review, issue 17), lower one
    # score: the 复核计分 and the total follow while typing, a bad score is explained at once.
    page.click("text=2020年度部门整体支出绩效自评")
    # Its scripts attach the live 复核计分 on load: typing before that would go unseen (a CI run
    # under load once typed first and waited for a total that never came).
    page.wait_for_url(re.compile(r"/assessments/review/\d+/$"), wait_until="load")
    assert page.locator("#state").text_content() == "已提交"
    assert page.locator("button[value=start_review]").count() == 0
    assert page.locator("#review-total").text_content() == "99.67（优）"
    page.fill('[name="review-10-score"]', "8")
    expect(page.locator("#review-total")).to_have_text("97.67（优）")
    expect(page.locator("#total-gap")).to_have_text("-2.00")
    expect(page.locator("#review-row-11 .live-review-score")).to_have_text("8.00")
    assert page.locator('[name="review-10-score"]').bounding_box()["width"] >= 90  # wide enough for "10.00"
    page.fill('[name="review-0-score"]', "abc")
    expect(page.locator("#review-row-1 .live-review-problems")).to_have_text("请输入数字，例如 5 或 4.84。")
    assert page.locator('[name="review-0-score"]').get_attribute("aria-invalid") == "true"
    page.fill('[name="review-0-score"]', "")
    expect(page.locator("#review-row-1 .live-review-problems")).to_have_text("")
    expect(page.locator("#review-row-11 .live-review-problems")).to_contain_text("复核得分 8.00 低于自评得分 10.00，请填写复核说明")
    page.fill('[name="review-10-note"]', "重点人员稳控台账不完整。")
    expect(page.locator("#review-row-11 .live-review-problems")).to_have_text("")
    assert Assessment.objects.get(pk=department.pk).state == Assessment.State.SUBMITTED  # typing saves nothing
    page.fill('[name="comment"]', "请补充第11项指标的稳控台账。")
    page.click("button[name=action][value=return]")
    page.wait_for_selector("text=已退回修改，填报单位将收到审核意见。")
    assert page.locator("#state").text_content() == "退回修改"
    assert page.locator("#review-total").text_content() == "97.67（优）"

    # The officer, in a browser of their own, sees the comment and the row note.
    officer_context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1400, "height": 1000})
    try:
        officer = officer_context.new_page()
        login(officer, live_server, "alice", "/assessments/")
        officer.goto(f"{live_server.url}/assessments/{department.pk}/")
        assert "审核意见：请补充第11项指标的稳控台账。" in officer.locator("#review-comment").text_content()
        assert officer.locator("#indicator-11 .review-note").text_content() == "复核意见：重点人员稳控台账不完整。（复核得分 8.00）"

        # ...fixes the row and resubmits.
        officer.click("text=填写 / 修改")
        officer.fill('[name="indicators-10-actual"]', "稳控重点人员426人，台账已补充完整")
        # The submission's answer, however long a loaded machine takes (a CI run once waited 30 s
        # for the message); if it is not the detail page, the page it is says why.
        with officer.expect_navigation(timeout=90_000):
            officer.click("button[name=action][value=submit] >> nth=0")
        shown = officer.locator("body").inner_text()
        assert "已提交，等待财政局审核。审核开始前可撤回。" in shown, (officer.url, shown[:3000])
        assert officer.locator("#state").text_content() == "已提交"
    finally:
        officer_context.close()

    # The reviewer sees the change, starts the second round and approves.
    page.reload()
    assert page.locator("#state").text_content() == "已提交"
    changes = page.locator("#changes")
    assert "与上次提交相比的变化（1 处）" in changes.text_content()
    assert "稳控重点人员426人，台账已补充完整" in changes.text_content()
    assert page.locator(".past-review").count() == 1
    assert page.locator('[name="review-10-score"]').input_value() == ""  # a new round starts empty
    page.fill('[name="comment"]', "同意。")
    page.click("button[name=action][value=approve]")
    page.wait_for_selector("text=已审核通过。")
    # Approved; the export job that runs after commit (issue 4, eager Celery here) then publishes it.
    assert page.locator("#state").text_content() == "已公开"
    page.screenshot(path=str(artifacts_dir / "reviewer-approved.png"), full_page=True)

    department.refresh_from_db()
    assert (department.state, department.review_total, department.review_grade) == ("published", Decimal("99.67"), "优")
    assert list(
        Transition.objects.filter(assessment=department).order_by("id").values_list("action", "from_state", "to_state")
    ) == [
        ("submit", "draft", "submitted"), ("start_review", "submitted", "in_review"), ("return", "in_review", "returned"),
        ("submit", "returned", "submitted"), ("start_review", "submitted", "in_review"), ("approve", "in_review", "approved"),
        ("publish", "approved", "published"),
    ]
    assert list(Review.objects.filter(assessment=department).order_by("number").values_list("decision", flat=True)) == [
        "returned", "approved",
    ]
