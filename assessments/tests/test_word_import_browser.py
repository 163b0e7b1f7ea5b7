"""从Word导入 in a real Chromium (issue 19): upload seed 000's report → preview → confirm → the
sections are filled, and the consistency warning for its 467.13 vs 466.13 appears."""

from decimal import Decimal

import pytest

from assessments.demo import seed_000_lukou
from assessments.models import ProjectExpense, ReportSection, Round, StructureRow
from assessments.services import create_assessment

from . import wordfiles
from .axe import violations
from .helpers import browser_login as login
from .test_consistency import LUKOU_SUM

pytestmark = pytest.mark.django_db(transaction=True)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"




@pytest.fixture
def lukou_tables(alice, unit_a):
    """A 2022 draft whose tables hold seed 000's figures (typed, or from Excel); its report is empty."""
    round_2022 = Round.objects.create(year=2022, title="2022年度绩效自评")
    a = create_assessment(unit=unit_a, round=round_2022, kind="department", layout="department", user=alice)
    StructureRow.objects.filter(assessment=a, item="basic").update(budget=Decimal("285.44"), actual=Decimal("325.69"))
    StructureRow.objects.filter(assessment=a, item="project").update(budget=Decimal("216"), actual=Decimal("466.13"))
    ProjectExpense.objects.bulk_create(
        ProjectExpense(assessment=a, position=n, name=e["name"], actual=Decimal(e["actual"]))
        for n, e in enumerate(seed_000_lukou.DEPARTMENT_2022["project_expenses"], start=1)
    )
    return a


def test_officer_uploads_a_word_report_reads_the_preview_confirms_and_finds_the_sections(
    live_server, page, artifacts_dir, alice, lukou_tables
):
    a = lukou_tables
    page.add_init_script(  # injected by the browser, outside the page's CSP: records violations
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective));"
    )
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/assessments/{a.pk}/")
    page.click("#word-import-replace-link")
    page.set_input_files("#id_file", files=[{"name": "渌口区委政法委2022年度自评报告.docx", "mimeType": DOCX,
                                              "buffer": wordfiles.seed_docx("000")}])
    page.click("text=上传并预览")
    page.wait_for_selector("#word-summary")
    page.screenshot(path=str(artifacts_dir / "word-import-preview.png"), full_page=True)
    assert violations(page) == []  # issue 17: the preview too passes axe-core

    # The preview: each chapter and the section it fills, what was not placed, the warning.
    assert page.locator("#word-filename").text_content() == "渌口区委政法委2022年度自评报告.docx"
    assert " ".join(page.locator("#word-counts").text_content().split()) == (
        "6 章，将填入 6 个报告章节；未能放置的内容 1 项；表格 0 个"
    )
    headings = [h.strip() for h in page.locator("#word-chapters td.chapter-heading").all_text_contents()]
    assert headings == ["1、 预算单位基本情况", "二、一般公共预算支出情况", "三、部门整体支出绩效情况",
                        "四、存在的问题及原因分析", "五、下一步改进措施", "6、 绩效自评结果拟应用和公开情况"]
    chosen = [page.locator(f'select[name="chapter-{n}"]').input_value() for n in range(6)]
    assert chosen == ["basic_info", "general_budget", "department_performance", "problems", "improvements", "application"]
    assert page.locator("#word-unplaced tbody td").nth(1).text_content() == "部门整体支出绩效自评报告"
    assert LUKOU_SUM in page.locator("#consistency-warnings").text_content()
    assert ReportSection.objects.get(assessment=a, key="general_budget").body == ""  # nothing saved yet
    assert page.evaluate("window.__csp") == []

    page.click("#word-confirm-button")
    page.wait_for_selector("text=已从“渌口区委政法委2022年度自评报告.docx”导入自评报告：6 个章节。请核对后保存、提交。")
    assert page.url == f"{live_server.url}/assessments/{a.pk}/edit/"

    # The draft: every section as the report wrote it, and the same warning on the entry page.
    for key, section in seed_000_lukou.SECTIONS.items():
        assert page.input_value(f"#section-{key} textarea[name$='-body']") == section["body"], key
    assert page.input_value("#section-basic_info input[name$='-title']") == "预算单位基本情况"
    assert LUKOU_SUM in page.locator("#consistency-warnings").text_content()
    page.screenshot(path=str(artifacts_dir / "word-import-done.png"), full_page=True)
