"""The season's journey in a real Chromium (issue 14): the bureau issues a 填报任务 from a list, the
officer finds it on 我的绩效自评 and starts it, the bureau sees it being filled and extends it, and
the officer sees the new deadline."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assessments.models import Assessment, Task

from .helpers import browser_login as login

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = "综治、平安建设经费"




def test_bureau_issues_a_task_the_officer_starts_it_and_the_bureau_extends_it(live_server, page, chromium, round_2020,
                                                                              unit_a, alice, reviewer):
    today = timezone.localdate()
    due, later = today + datetime.timedelta(days=10), today + datetime.timedelta(days=20)

    # The bureau issues one project task from a pasted list.
    login(page, live_server, reviewer.username, "/assessments/review/")
    page.goto(f"{live_server.url}/assessments/season/?round={round_2020.pk}")
    page.fill("#due_on", due.isoformat())
    page.check("#source-list")
    page.fill('textarea[name="list"]', f"{unit_a.name},{PROJECT}")
    page.click("button:has-text('下达任务')")
    expect(page.locator(".alert").first).to_contain_text("已下达 1 项填报任务")
    task = Task.objects.get(unit=unit_a, project_name=PROJECT)
    row = page.locator(f'#task-table tr[data-task="{task.pk}"]')
    expect(row.locator(".task-status")).to_have_text("未开始")
    expect(row).to_contain_text(f"{today:%Y-%m-%d} 至 {due:%Y-%m-%d}")

    # The officer, in a browser of their own, finds it on 我的绩效自评 and starts it.
    officer_context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1400, "height": 1000})
    try:
        officer = officer_context.new_page()
        login(officer, live_server, alice.username, "/assessments/")
        line = officer.locator(f'tr.task-row[data-task="{task.pk}"]')
        expect(line.locator(".task-status")).to_have_text("未开始")
        expect(line.locator(".task-days")).to_have_text("还剩 10 天")
        line.locator("button:has-text('新建')").click()
        officer.wait_for_url(f"{live_server.url}/assessments/*/edit/")
        assessment = Assessment.objects.get(unit=unit_a, project_name=PROJECT)
        assert officer.url == f"{live_server.url}/assessments/{assessment.pk}/edit/"
        expect(officer.locator(".alert").first).to_contain_text(f"已按任务创建“{assessment.title}”")

        # The bureau sees it being filled, and extends it with a reason.
        page.reload()
        expect(row.locator(".task-status")).to_have_text("填报中")
        row.locator('input[name="due_on"]').fill(later.isoformat())
        row.locator('input[name="reason"]').fill("单位申请延期：年度决算尚未批复")
        row.locator("button[value=extend]").click()
        expect(row).to_contain_text(f"{today:%Y-%m-%d} 至 {later:%Y-%m-%d}")
        expect(row).to_contain_text("延期理由：单位申请延期：年度决算尚未批复")

        # The officer sees the new deadline on 我的绩效自评.
        officer.goto(f"{live_server.url}/assessments/")
        expect(line.locator(".task-status")).to_have_text("填报中")
        expect(line.locator(".task-days")).to_have_text("还剩 20 天")
        expect(line).to_contain_text("已延期：单位申请延期：年度决算尚未批复")
    finally:
        officer_context.close()
    task.refresh_from_db()
    assert (task.assessment_id, task.due_on, task.extend_reason) == (assessment.pk, later, "单位申请延期：年度决算尚未批复")
