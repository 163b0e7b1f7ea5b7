"""A public report on a phone (375 px) and on a desktop (1366 px) in a real Chromium (issue 16):
no sideways panning (wide tables scroll inside their box), the skip link, the metadata block and
the government-site footer. Screenshots are kept under test-artifacts/."""

import io

import pytest
from django.core.management import call_command

from assessments.models import Assessment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def footer(settings):
    settings.PORTAL_SITE_FOOTER = {
        "sponsor": "长沙市岳麓区财政局", "organizer": "岳麓区财政局绩效管理科", "site_code": "4301040001",
        "icp": "湘ICP备12345678号", "psb": "湘公网安备 43010402000123号", "contact": "jixiao@czj.example.cn",
    }


@pytest.fixture
def yuelu(media_root):
    call_command("seed_demo", force=True, stdout=io.StringIO())
    return Assessment.objects.get(unit__short_name="岳麓区委政法委", kind="department", round__year=2020)


@pytest.mark.parametrize("width", [375, 1366])
def test_public_report_reads_well_at_phone_and_desktop_widths(live_server, page, artifacts_dir, yuelu, footer, width):
    page.set_viewport_size({"width": width, "height": 900})
    for path, name in ((f"/disclosure/{yuelu.pk}/", "report"), ("/disclosure/", "list")):
        page.goto(live_server.url + path)
        # No sideways panning: the page is no wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
        page.screenshot(path=artifacts_dir / f"public-{name}-{width}.png", full_page=True)
    page.goto(f"{live_server.url}/disclosure/{yuelu.pk}/")
    # The wide indicator table scrolls inside its box on a phone.
    box = page.evaluate("(() => { const e = document.querySelector('.table-scroll'); return [e.scrollWidth, e.clientWidth]; })()")
    if width == 375:
        assert box[0] > box[1]
    assert page.locator("#disclosure-meta th").all_text_contents() == ["索引号", "发布机构", "发布日期", "主题分类", "文号", "公开属性", "版本"]
    assert page.locator("#site-footer").inner_text().splitlines()[:2] == [
        "主办单位：长沙市岳麓区财政局 | 承办单位：岳麓区财政局绩效管理科 | 联系我们",
        "网站标识码：4301040001 | 湘ICP备12345678号 | 湘公网安备 43010402000123号",
    ]
    # The skip link is the first thing a keyboard reaches, and leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
