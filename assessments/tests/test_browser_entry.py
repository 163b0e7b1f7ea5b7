"""The officer's main journey in a real Chromium: type, see the score, save, submit."""

import re
import subprocess
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from assessments.models import Assessment

from .helpers import browser_login as login

pytestmark = pytest.mark.django_db(transaction=True)




def test_what_is_typed_before_the_scripts_run_is_scored_when_they_do(live_server, page, alice, department):
    """A slow page: the officer types before its scripts have run. Once they run, what was typed is
    scored at once (a CI run under load once typed first and waited for a rate that never came)."""
    login(page, live_server, alice.username)
    held = []
    page.route(re.compile(r"/static/js/live(\.[0-9a-f]+)?\.js$"), lambda route: held.append(route))
    page.goto(f"{live_server.url}/assessments/{department.pk}/edit/", wait_until="commit")
    page.fill('[name="funding-0-budget"]', "10949.23")
    page.fill('[name="funding-0-actual"]', "10584.29")
    expect(page.locator("#live-rate")).to_have_text("—")  # nothing scores yet
    page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#live-rate")).to_have_text("96.67%")


def fill_row(page, n, level1, level2, name, target, actual, weight):
    row = page.locator(f'tr.indicator-row[data-prefix="indicators-{n}"]')
    row.locator("select.level1").select_option(level1)
    row.locator(f'[name="indicators-{n}-level2"]').fill(level2)  # free text with suggestions
    row.locator(f'[name="indicators-{n}-name"]').fill(name)
    row.locator(f'[name="indicators-{n}-target"]').fill(target)
    row.locator(f'[name="indicators-{n}-actual"]').fill(actual)
    row.locator(f'[name="indicators-{n}-weight"]').fill(weight)
    return row


def test_officer_types_sees_live_scores_saves_and_submits(live_server, page, artifacts_dir, alice, department):
    alice.username = "yuelu"
    alice.save()
    login(page, live_server, "yuelu")
    page.click(f'a[href="/assessments/{department.pk}/"]')
    page.click("text=填写 / 修改")

    page.fill('[name="funding-0-budget"]', "10949.23")
    page.fill('[name="funding-0-actual"]', "10584.29")
    expect(page.locator("#live-rate")).to_have_text("96.67%")

    row = fill_row(page, 0, "产出指标", "数量指标", "公众安全感民意调查", "≥10次", "10次", "50")
    expect(page.locator('tr[data-prefix="indicators-0"] .live-score')).to_have_text("50.00")
    assert row.locator("xpath=..").locator(".live-explain").text_content() == "≥10次，实际 10次：达成，得满分 50.00"
    fill_row(page, 1, "效益指标", "社会效益指标", "有助于维护社会秩序", "有所帮助", "有所帮助", "30")
    fill_row(page, 2, "满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "=96%", "10")
    expect(page.locator("#live-total")).to_have_text("99.67")
    assert page.locator("#live-grade").text_content() == "优"
    assert page.locator("#live-funding-score").text_content() == "9.67"

    # Rows are added in place by the script, without a round-trip.
    before = page.locator("tr.indicator-row").count()
    page.click("button.add-row[data-prefix=indicators]")
    assert page.locator("tr.indicator-row").count() == before + 1
    assert page.locator("#id_indicators-TOTAL_FORMS").input_value() == str(before + 1)

    page.click("button[name=action][value=save] >> nth=0")
    page.wait_for_selector("text=草稿已保存。")
    department.refresh_from_db()
    assert department.self_total == Decimal("99.67")
    assert department.indicators.count() == 3

    page.click("button[name=action][value=submit] >> nth=0")
    page.wait_for_selector("text=已提交，等待财政局审核。")
    assert page.locator("#state").text_content() == "已提交"
    assert page.locator("#total-score").text_content() == "99.67"
    page.screenshot(path=str(artifacts_dir / "officer-submitted.png"), full_page=True)
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED

    # The page text is Chinese, and a CJK font is there to draw it.
    assert "部门整体支出绩效自评表" in page.content()
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    assert "Noto" in fonts


def test_reorder_with_buttons(live_server, page, alice, department):
    from assessments.models import Indicator

    for n, name in enumerate(["甲", "乙", "丙"], start=1):
        Indicator.objects.create(assessment=department, position=n, level1="产出指标", level2="数量指标", name=name)
    alice.username = "yuelu"
    alice.save()
    login(page, live_server, "yuelu")
    page.goto(f"{live_server.url}/assessments/{department.pk}/edit/")

    page.locator('tr[data-prefix="indicators-2"] .move-up').click()
    page.locator('tr[data-prefix="indicators-1"] [name="indicators-1-DELETE"]').check()
    page.click("button[name=action][value=save] >> nth=0")
    page.wait_for_selector("text=草稿已保存。")

    assert list(department.indicators.order_by("position").values_list("name", flat=True)) == ["甲", "丙"]
