"""从Excel导入 in a real Chromium: upload a workbook, read the preview, confirm, find the draft."""

import pytest

from assessments.models import Assessment, Round

from .axe import violations
from .helpers import browser_login as login
from .test_import import seed_001_workbook, to_bytes

pytestmark = pytest.mark.django_db(transaction=True)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"




def test_officer_uploads_reads_the_preview_confirms_and_finds_the_draft(live_server, page, artifacts_dir, alice, unit_a):
    Round.objects.create(year=2022, title="2022年度绩效自评")
    page.add_init_script(  # injected by the browser, outside the page's CSP: records violations
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective));"
    )
    login(page, live_server, "alice")

    page.click("#import-link")
    page.set_input_files("#id_file", files=[{"name": "南岳综治经费自评表.xlsx", "mimeType": XLSX, "buffer": to_bytes(seed_001_workbook())}])
    page.click("text=上传并预览")
    page.wait_for_selector("#import-summary")
    page.screenshot(path=str(artifacts_dir / "import-preview.png"), full_page=True)
    assert violations(page) == []  # issue 17: the preview too passes axe-core

    # The preview: what was understood, and the cells that were not.
    assert page.locator("#import-filename").text_content() == "南岳综治经费自评表.xlsx"
    assert page.locator("#import-layout").text_content().strip() == "项目支出绩效自评表（年初预算 / 实际投入）"
    assert page.locator("#import-round").text_content().strip() == "2022年度绩效自评"
    assert " ".join(page.locator("#import-counts").text_content().split()) == (
        "资金情况 3 行，年度目标 1 条，绩效指标 8 行，自评报告无，未识别的单元格 2 个"
    )
    unmapped = [
        [cell.strip() for cell in row.locator("td").all_text_contents()]
        for row in page.locator("#unmapped-cells tbody tr").all()
    ]
    assert unmapped == [
        ["Sheet1", "A23", "注：本表金额单位为万元。", "表格以外的文字（如备注、说明），未导入"],
        ["Sheet1", "A24", "填表人：刘雄", "表格以外的文字（如备注、说明），未导入"],
    ]
    preview = page.locator("#import-preview")
    assert preview.locator("#funding-table tr.funding-total td.rate").text_content() == "85.11%"
    assert preview.locator("#indicator-1 td").nth(2).text_content() == "公众安全感民意调查"
    assert preview.locator("#indicator-1 td").nth(3).text_content() == ">=10次"
    assert preview.locator("#indicator-2 td").nth(1).text_content() == "＞＝１０次"  # 1级/2级 cells span from row 1
    assert Assessment.objects.count() == 0  # nothing saved yet
    assert page.evaluate("window.__csp") == []

    page.click("text=确认导入，生成草稿")
    page.wait_for_selector("text=已从“南岳综治经费自评表.xlsx”导入")
    assert Assessment.objects.count() == 1
    a = Assessment.objects.get()
    assert page.url == f"{live_server.url}/assessments/{a.pk}/edit/"

    # The draft, filled in: header, funding, goal and indicator rows as in the workbook.
    assert page.input_value('[name="header-project_name"]') == "综治、平安建设经费"
    assert page.input_value('[name="header-project_leader"]') == "刘雄"
    assert page.input_value('[name="header-leader_phone"]') == "13875709408"
    assert page.input_value('[name="funding-0-initial_budget"]') == "36.00"
    assert page.input_value('[name="funding-0-actual"]') == "30.64"
    assert page.input_value('[name="funding-1-actual"]') == "9.80"
    assert page.input_value('[name="funding-2-actual"]') == "10.00"
    assert page.locator("#live-rate").text_content() == "85.11%"
    assert page.input_value('[name="goals-0-target"]') == "深化平安建设，维护国家安全和社会大局稳定；\n聚焦平安南岳建设，着力提升人民群众安全感。"
    assert page.input_value('[name="indicators-1-target"]') == "＞＝１０次"
    assert page.input_value('[name="indicators-4-actual"]') == "=30.64万元"
    assert page.input_value('[name="indicators-5-level2"]') == "社会效益指标"
    assert page.input_value('[name="indicators-7-name"]') == "人民群众满意度"
    assert page.locator("tr.indicator-row").count() == 8
    assert a.state == Assessment.State.DRAFT
    assert list(a.indicators.order_by("position").values_list("target", flat=True)) == [
        ">=10次", "＞＝１０次", "=100%", "=100%", "=36万元", "有所帮助", "有所推升", "≥95%",
    ]


def test_replacing_a_draft_asks_twice(live_server, page, alice, department):
    from .test_import import seed_004_workbook

    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/assessments/{department.pk}/")
    page.click("#import-replace-link")
    page.set_input_files("#id_file", files=[{"name": "岳麓2020.xlsx", "mimeType": XLSX, "buffer": to_bytes(seed_004_workbook())}])
    page.click("text=上传并预览")
    page.wait_for_selector("#import-summary")
    assert page.locator("#import-layout").text_content().strip() == "部门整体支出绩效自评表"
    assert page.locator("#unmapped-cells tbody tr td").nth(1).text_content() == "A24"

    page.click("#import-confirm button.btn-danger")
    page.wait_for_selector("#confirm-error")
    assert violations(page) == []
    assert page.locator("#confirm-error").text_content() == "请勾选“确认用文件中的内容替换当前草稿的表格”后再点击“确认替换”。"
    department.refresh_from_db()
    assert department.indicators.count() == 0

    page.check("#confirm_replace")
    page.click("#import-confirm button.btn-danger")
    page.wait_for_selector("text=已用“岳麓2020.xlsx”中的内容替换草稿的表格。请核对后提交。")
    assert page.input_value('[name="funding-0-budget"]') == "10949.23"
    assert page.locator("#live-total").text_content() == "43.17"
    assert department.indicators.count() == 5
