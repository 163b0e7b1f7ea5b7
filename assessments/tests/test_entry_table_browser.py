"""Issue 17, part 1, in Chromium: weight sums and blocking rules update while typing, text boxes
grow with long texts, a fresh table shows no red, and the page stays free of axe violations."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from assessments.models import Indicator

from .axe import violations
from .test_access_matrix import valid_assessment
from .test_accessibility import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_sums_and_rules_live_and_boxes_grow(live_server, page, alice, unit_a, round_2020):
    a = valid_assessment(unit_a, round_2020, "实时规则项目", user=alice)
    Indicator.objects.filter(assessment=a, level1="效益指标").update(weight=Decimal("20"))
    Indicator.objects.filter(assessment=a).update(actual="")  # carried over: actuals still to fill in
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/assessments/{a.pk}/edit/")

    assert page.locator(".explain.bad").count() == 0  # nothing typed yet: no red
    assert page.locator(".live-problems .pending-tag").count() == 3
    expect(page.locator("#live-rules")).to_be_visible()
    expect(page.locator("#live-rules-list li").first).to_have_text("效益指标分值合计 20，应为 30")
    expect(page.locator("#live-level1-sums .level1-sum.off")).to_have_text("效益指标 20 / 30")

    row = page.locator("tr.indicator-row").filter(has=page.locator("select.level1 >> option[selected]", has_text="效益指标"))
    row.locator('input[name$="-weight"]').fill("30")
    expect(page.locator("#live-level1-sums .level1-sum.off")).to_have_count(0)
    expect(page.locator("#live-rules")).to_be_hidden()

    page.locator('[name="indicators-0-actual"]').fill("12次")
    expect(page.locator("tr.indicator-row").first.locator(".live-problems .pending-tag")).to_have_count(0)
    reason = page.locator('[name="indicators-0-reason"]')
    before = reason.bounding_box()["height"]
    reason.fill("全年共开展培训12次，覆盖全区13个乡镇街道的网格员、调解员和平安志愿者，"
                "参训人数累计1260人次，培训结束后进行了考核，合格率98%，并建立了培训档案。" * 2)
    after = reason.bounding_box()["height"]
    assert after > before + 20  # grew with the text: read in full without scrolling inside the box
    assert violations(page) == []
