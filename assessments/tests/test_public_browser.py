"""A citizen with no account reads the disclosure pages in a real Chromium: filter, search, open,
print, download the xlsx."""

import io

import openpyxl
import pytest
from django.core.management import call_command

from assessments.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the demo's exports write files


@pytest.fixture
def published_demo(media_root):
    # transaction=True: the on-commit export jobs run for real (Celery eager) and publish 岳麓 2020
    # and 南岳 2022 综治、平安建设经费.
    call_command("seed_demo", force=True, stdout=io.StringIO())
    yuelu = Assessment.objects.get(unit__short_name="岳麓区委政法委", kind="department", round__year=2020)
    zongzhi = Assessment.objects.get(project_name="综治、平安建设经费")
    assert (yuelu.state, zongzhi.state) == ("published", "published")
    return yuelu, zongzhi


def visible_titles(page) -> list[str]:
    return page.locator("#published tbody td:nth-child(2) a").all_text_contents()


def test_citizen_filters_searches_reads_prints_and_downloads(live_server, page, artifacts_dir, tmp_path, published_demo):
    yuelu, _ = published_demo
    page.goto(f"{live_server.url}/disclosure/")
    assert page.title() == "绩效自评公开 · 绩效自评门户"
    assert sorted(visible_titles(page)) == ["2020年度部门整体支出绩效自评", "2022年度综治、平安建设经费绩效自评"]

    # Filter by year and search.
    page.select_option("#f-year", "2020")
    page.fill("#f-q", "平安建设")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/disclosure/?*q=*")
    assert "year=2020" in page.url
    assert visible_titles(page) == ["2020年度部门整体支出绩效自评"]
    assert page.locator("#f-year").input_value() == "2020"
    assert page.locator("#f-q").input_value() == "平安建设"

    # Open the 岳麓 2020 report: the paper form, 总分 99.67, the indicator table.
    page.click("#published >> text=2020年度部门整体支出绩效自评")
    page.wait_for_url(f"{live_server.url}/disclosure/{yuelu.pk}/")
    assert page.title() == "中共长沙市岳麓区委员会政法委员会2020年度部门整体支出绩效自评 · 预算绩效自评结果公开"
    assert page.locator("h1").text_content() == "中共长沙市岳麓区委员会政法委员会2020年度部门整体支出绩效自评"
    assert page.locator("#total-score").text_content() == "99.67"
    assert page.locator("#public-total").text_content() == "99.67"
    headers = page.locator("#indicator-table thead th").all_text_contents()
    assert headers[:3] == ["一级指标", "二级指标", "三级指标"] and "分值" in headers and "得分" in headers
    assert page.locator("#indicator-table tbody tr").count() == 13
    assert page.locator("#indicator-table").get_by_text("指标1：扫黑除恶专项斗争取得新的成效").is_visible()
    assert page.locator("#funding-table").get_by_text("10584.29").first.is_visible()
    assert page.context.cookies() == []  # no session, no CSRF cookie: nothing is set for a citizen
    page.screenshot(path=str(artifacts_dir / "public-detail.png"), full_page=True)

    # Printing: the navigation and the download bar are gone, the form stays.
    assert page.locator("nav.portal-nav").is_visible() and page.locator("#download-bar").is_visible()
    page.emulate_media(media="print")
    assert page.locator("nav.portal-nav").is_hidden()
    assert page.locator("#download-bar").is_hidden()
    assert page.locator("footer").is_hidden()
    assert page.locator("#indicator-table").is_visible()
    assert page.locator("#total-score").is_visible()
    page.screenshot(path=str(artifacts_dir / "public-detail-print.png"), full_page=True)
    page.emulate_media(media="screen")
    assert page.locator("nav.portal-nav").is_visible()

    # Download the xlsx from the download bar; it opens with openpyxl and holds 全年执行数 10584.29.
    with page.expect_download() as info:
        page.locator("#download-bar").get_by_text("下载 xlsx").click()
    download = info.value
    assert download.suggested_filename == "2020-岳麓区委政法委-2020年度部门整体支出绩效自评.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    ws = book.worksheets[0]
    header = next(c for row in ws.iter_rows() for c in row if c.value == "全年执行数")
    below = [ws.cell(row=r, column=header.column) for r in range(header.row + 1, ws.max_row + 1)]
    executed = [c for c in below if isinstance(c.value, (int, float)) and round(float(c.value), 2) == 10584.29]
    assert executed, "no 全年执行数 10584.29 under its header"
    assert executed[0].number_format == "0.00"
    assert any(isinstance(c.value, (int, float)) and round(float(c.value), 2) == 99.67 for c in cells)
