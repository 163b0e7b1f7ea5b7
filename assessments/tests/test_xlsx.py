"""The public .xlsx workbook: laid out like the official 自评表, values as numbers, text as text."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from openpyxl.worksheet.cell_range import CellRange

from assessments import services
from assessments.demo import seed_004_yuelu
from assessments.exports import public, xlsx
from assessments.models import (
    Assessment,
    FundingRow,
    Goal,
    Indicator,
    ProjectExpense,
    ReportSection,
    StructureRow,
)
from assessments.tests.helpers import SEED_004_INDICATORS

YUELU = "中共长沙市岳麓区委员会政法委员会"
NANYUE = "中共衡阳市南岳区委政法委员会"


@pytest.fixture
def seeded(db):
    call_command("seed_demo", force=True, stdout=io.StringIO())


def load(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def export(assessment: Assessment) -> tuple[public.PublicReport, openpyxl.Workbook]:
    report = public.load_public(assessment.pk)
    return report, load(xlsx.to_bytes(report))


def cells(ws) -> dict[str, object]:
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def find(ws, value):
    """The coordinates of every cell holding exactly `value`."""
    return [c for row in ws.iter_rows() for c in row if c.value == value]


def find_one(ws, value):
    found = find(ws, value)
    assert len(found) == 1, (value, [c.coordinate for c in found])
    return found[0]


def merged_range(ws, cell) -> CellRange | None:
    for rng in ws.merged_cells.ranges:
        if cell.coordinate in rng:
            return rng
    return None


def row_values(ws, row: int) -> list:
    return [ws.cell(row, c).value for c in range(1, ws.max_column + 1)]


def header_columns(ws, label: str) -> dict[str, int]:
    """Header label -> column of the header row holding `label`."""
    row = find_one(ws, label).row
    return {ws.cell(row, c).value: c for c in range(1, ws.max_column + 1) if ws.cell(row, c).value}


# --- Seed 004: 岳麓 2020 部门整体支出 ---------------------------------------------------------


@pytest.fixture
def yuelu(seeded):
    return Assessment.objects.get(unit__name=YUELU, round__year=2020, kind="department")


@pytest.mark.django_db
def test_seed_004_sheets_title_and_header(yuelu):
    _, wb = export(yuelu)
    assert wb.sheetnames == [xlsx.SHEET_TABLE, xlsx.SHEET_REPORT]
    ws = wb[xlsx.SHEET_TABLE]
    assert ws["A1"].value == "2020年度部门整体支出绩效自评表"
    title_range = merged_range(ws, ws["A1"])
    assert title_range is not None and title_range.min_col == 1 and title_range.max_col == ws.max_column
    assert ws["A1"].font.bold and ws["A1"].font.size == 16

    unit = find_one(ws, "部门（单位）")
    assert ws.cell(unit.row, 2).value == YUELU
    duties = find_one(ws, "部门职责")
    assert ws.cell(duties.row, 2).value.startswith("贯彻落实中央和省、市委关于政法工作的路线")
    staff = find_one(ws, "实有人数")
    assert ws.cell(staff.row, staff.column + 1).value == 21
    quota = find_one(ws, "人员编制")
    assert ws.cell(quota.row, 2).value is None  # blank on the form: an empty cell, not "None"
    # Department tables have no project header.
    assert not find(ws, "项目名称") or find_one(ws, "项目名称").row > find_one(ws, "绩效指标").row


@pytest.mark.django_db
def test_seed_004_funding_numbers_and_formats(yuelu):
    _, wb = export(yuelu)
    ws = wb[xlsx.SHEET_TABLE]
    cols = header_columns(ws, "全年预算数")
    assert list(cols) == ["整体资金（万元）", "项目", "全年预算数", "全年执行数", "执行率", "分值", "得分", "偏差原因"]
    total = find_one(ws, "合计")
    r = total.row
    budget, actual, rate = (ws.cell(r, cols[k]) for k in ("全年预算数", "全年执行数", "执行率"))
    weight, score = ws.cell(r, cols["分值"]), ws.cell(r, cols["得分"])
    assert budget.value == 10949.23 and budget.number_format == "0.00" and budget.data_type == "n"
    assert actual.value == 10584.29 and actual.number_format == "0.00"
    assert rate.value == pytest.approx(0.9667, abs=1e-12) and rate.number_format == "0.00%"
    assert weight.value == 10 and score.value == 9.67 and score.number_format == "0.00"
    fiscal = find_one(ws, "（1）财政拨款").row
    assert ws.cell(fiscal, cols["全年预算数"]).value == 10949.23
    assert ws.cell(fiscal, cols["分值"]).value == "－" and ws.cell(fiscal, cols["得分"]).value == "－"
    other = find_one(ws, "（2）其他资金").row
    assert ws.cell(other, cols["全年预算数"]).value == 0 and ws.cell(other, cols["全年预算数"]).number_format == "0.00"

    caption = find_one(ws, "整体资金（万元）")
    rng = merged_range(ws, caption)
    assert rng is not None and (rng.min_row, rng.max_row) == (find_one(ws, "全年预算数").row, other)

    # 资金结构 under the funding table's own columns.
    structure = find_one(ws, "资金结构（万元）")
    assert merged_range(ws, structure).size["rows"] == 5
    basic = find_one(ws, "（1）基本支出").row
    assert ws.cell(basic, cols["全年执行数"]).value == 1379.15
    assert ws.cell(find_one(ws, "其中：人员支出").row, cols["全年执行数"]).value == 1210.08
    assert ws.cell(find_one(ws, "公用支出").row, cols["全年执行数"]).value == 169.07
    assert ws.cell(find_one(ws, "（2）项目支出").row, cols["全年执行数"]).value == 9205.14


@pytest.mark.django_db
def test_seed_004_indicators_merged_groups_and_total(yuelu):
    report, wb = export(yuelu)
    ws = wb[xlsx.SHEET_TABLE]
    cols = header_columns(ws, "三级指标")
    reviewed = report.review_total is not None  # seed_demo approves this one (issue 4)
    expected = ["绩效指标", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"]
    expected += ["复核得分"] if reviewed else []
    assert list(cols) == expected + ["偏差原因分析及改进措施"]
    head = find_one(ws, "三级指标").row
    seed = seed_004_yuelu.INDICATORS
    assert len(seed) == 13
    rows = range(head + 1, head + 1 + len(seed))
    assert [ws.cell(r, cols["三级指标"]).value for r in rows] == [row["name"] for row in seed]
    assert [ws.cell(r, cols["年度指标值"]).value for r in rows] == [row["target"] for row in seed]
    assert [ws.cell(r, cols["实际完成值"]).value for r in rows] == [row["actual"] for row in seed]
    assert [ws.cell(r, cols["分值"]).value for r in rows] == [int(row["weight"]) for row in seed]
    assert [ws.cell(r, cols["得分"]).value for r in rows] == [int(row["weight"]) for row in seed]
    assert all(ws.cell(r, cols["得分"]).number_format == "0.00" for r in rows)

    # 一级 / 二级 cells merged over the rows they group, as on the paper form.
    output = ws.cell(head + 1, cols["一级指标"])
    assert output.value == "产出指标"
    rng = merged_range(ws, output)
    assert rng is not None and rng.size == {"rows": 9, "columns": 1}
    quantity = ws.cell(head + 1, cols["二级指标"])
    assert quantity.value == "数量指标" and merged_range(ws, quantity).size == {"rows": 3, "columns": 1}
    benefit = ws.cell(head + 10, cols["一级指标"])
    assert benefit.value == "效益指标" and merged_range(ws, benefit).size["rows"] == 3
    satisfaction = ws.cell(head + 13, cols["一级指标"])
    assert satisfaction.value == "满意度指标" and merged_range(ws, satisfaction) is None

    caption = find_one(ws, "绩效指标")
    total = find_one(ws, "总分")
    assert merged_range(ws, caption).min_row == head and merged_range(ws, caption).max_row == total.row
    assert total.row == head + 14
    assert ws.cell(total.row, cols["分值"]).value == 100
    assert ws.cell(total.row, cols["得分"]).value == 99.67
    grade = ws.cell(total.row, cols["偏差原因分析及改进措施"]).value
    if reviewed:
        assert ws.cell(total.row, cols["复核得分"]).value == float(report.review_total)
        assert [ws.cell(r, cols["复核得分"]).value for r in rows] == [
            None if p.review_score is None else float(p.review_score) for p in report.lines
        ]
        assert grade == f"自评等级：优；复核等级：{report.review_grade}"
    else:
        assert grade == "等级：优"


@pytest.mark.django_db
def test_seed_004_goals_and_styles(yuelu):
    _, wb = export(yuelu)
    ws = wb[xlsx.SHEET_TABLE]
    head = find_one(ws, "年初设定目标")
    achieved = find_one(ws, "全年完成情况")
    assert ws.cell(head.row + 1, head.column).value.startswith("根据中央、省、市、区委要求")
    assert ws.cell(head.row + 1, achieved.column).value.startswith("今年以来，在市委政法委的精心指导")
    assert merged_range(ws, find_one(ws, "年度总体目标")).size["rows"] == 2

    # Fonts, borders, wrapping and header fill come from named styles.
    names = {s if isinstance(s, str) else s.name for s in wb.named_styles}
    assert {xlsx.HEAD, xlsx.TEXT, xlsx.MONEY, xlsx.RATE, xlsx.SCORE} <= names
    name = ws.cell(find_one(ws, "三级指标").row + 1, find_one(ws, "三级指标").column)
    assert name.font.name == "宋体" and name.alignment.wrap_text and name.alignment.vertical == "center"
    assert all(getattr(name.border, side).style == "thin" for side in ("left", "right", "top", "bottom"))
    header = find_one(ws, "三级指标")
    assert header.font.bold and header.fill.fgColor.rgb.endswith("E7E6E6")
    # Rows tall enough for their wrapped text; column widths set.
    assert ws.row_dimensions[name.row].height > 40
    assert ws.column_dimensions["D"].width >= 20

    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage


@pytest.mark.django_db
def test_seed_004_report_sheet(yuelu):
    report, wb = export(yuelu)
    ws = wb[xlsx.SHEET_REPORT]
    assert ws["A1"].value == f"2020年度{YUELU}部门整体支出绩效自评报告"
    values = [v for v in (ws.cell(r, 1).value for r in range(1, ws.max_row + 1)) if v]
    headings = [v for v in values if ws.cell(values.index(v) + 1, 1).style == xlsx.R_HEAD]
    expected = [
        "一、部门（单位）基本情况", "二、一般公共预算支出情况", "三、政府性基金预算支出情况",
        "四、国有资本经营预算支出情况", "五、社会保险基金预算支出情况", "六、部门整体支出绩效情况",
        "七、项目支出绩效情况", "八、存在的问题及原因分析", "九、下一步改进措施",
        "十、绩效自评结果拟应用和公开情况", "十一、其他需要说明的情况",
    ]
    assert [h.split("、", 1)[0] for h in headings] == [e.split("、", 1)[0] for e in expected]
    assert [h.split("、", 1)[1] for h in headings] == [s.title for s in report.view.sections]
    # Each body paragraph has its own row; empty sections read 无.
    first = report.view.sections[0]
    paragraphs = [p.rstrip() for p in first.body.split("\n") if p.strip()]
    start = values.index(headings[0]) + 1
    assert "".join(values[start : start + len(paragraphs) * 2]).startswith("".join(paragraphs))
    for section, heading in zip(report.view.sections, headings, strict=True):
        if not section.body.strip():
            assert values[values.index(heading) + 1] == "无"
    assert all(ws.row_dimensions[r].height <= 409 for r in range(1, ws.max_row + 1))
    assert ws.page_setup.orientation == "portrait" and ws["A2"].font.name == "宋体"


@pytest.mark.django_db
def test_export_is_deterministic(yuelu):
    Assessment.objects.filter(pk=yuelu.pk).update(published_at=datetime.datetime(2021, 3, 1, 9, 30, tzinfo=datetime.UTC))
    report = public.load_public(yuelu.pk)
    first, second = xlsx.to_bytes(report), xlsx.to_bytes(public.load_public(yuelu.pk))
    assert first == second
    wb = load(first)
    assert wb.properties.creator == "绩效自评门户"
    published = report.published_at.astimezone(datetime.UTC).replace(tzinfo=None, microsecond=0)
    assert wb.properties.created == published and wb.properties.modified == published


@pytest.mark.django_db
def test_unpublished_report_uses_fixed_epoch(yuelu):
    report = public.load_public(yuelu.pk)
    report.published_at = None
    wb = load(xlsx.to_bytes(report))
    assert wb.properties.created == xlsx.EPOCH == wb.properties.modified


# --- Seed 001: 南岳 2022 项目支出 (no weights) -------------------------------------------------


@pytest.mark.django_db
def test_seed_001_project_without_weights(seeded):
    a = Assessment.objects.get(unit__name=NANYUE, round__year=2022, project_name="综治、平安建设经费")
    _, wb = export(a)
    ws = wb[xlsx.SHEET_TABLE]
    assert ws["A1"].value == "2022年度综治、平安建设经费绩效自评表"
    everything = cells(ws)
    assert "分值" not in everything.values() and "得分" not in everything.values()
    assert "13875709408" not in "".join(str(v) for v in everything.values())

    leader = find_one(ws, "项目负责人及电话")
    assert ws.cell(leader.row, leader.column + 1).value == "刘雄 138****9408"
    name = find_one(ws, "项目名称")
    assert ws.cell(name.row, 2).value == "综治、平安建设经费"
    assert ws.cell(find_one(ws, "实施单位").row, leader.column + 1).value == "中共南岳区委政法委员会"
    assert ws.cell(find_one(ws, "主管部门").row, 2).value is None

    cols = header_columns(ws, "年初预算资金总额")
    assert list(cols) == ["资金情况（万元）", "资金来源", "年初预算资金总额", "实际投入资金额", "执行率", "产生差异的原因"]
    total = find_one(ws, "合计").row
    assert ws.cell(total, cols["年初预算资金总额"]).value == 36
    assert ws.cell(total, cols["实际投入资金额"]).value == 30.64
    assert ws.cell(total, cols["执行率"]).value == pytest.approx(0.8511) and ws.cell(total, cols["执行率"]).number_format == "0.00%"
    assert ws.cell(total, cols["产生差异的原因"]).value == "单位用其它资金弥补该项经费支出"
    other = find_one(ws, "其他资金").row
    assert ws.cell(other, cols["年初预算资金总额"]).value is None
    assert ws.cell(other, cols["执行率"]).value is None
    assert merged_range(ws, find_one(ws, "资金情况（万元）")).size["rows"] == 4

    ind = header_columns(ws, "三级指标")
    assert list(ind) == ["绩效指标", "一级指标", "二级指标", "三级指标", "指标值", "全年实际完成值", "产生差异的原因及改进措施"]
    # "=100%" is what the unit wrote: a string cell, never a formula.
    for cell in find(ws, "=100%"):
        assert cell.data_type == "s" and cell.quotePrefix
    assert len(find(ws, "=100%")) == 4
    assert not find(ws, "总分")
    assert merged_range(ws, find_one(ws, "数量指标")).size["rows"] == 2

    report_ws = wb[xlsx.SHEET_REPORT]
    assert report_ws["A1"].value == f"2022年度{NANYUE}综治、平安建设经费项目绩效自评报告"
    assert report_ws["A2"].value == xlsx.NO_REPORT


# --- Built through the ORM --------------------------------------------------------------------


def fill_department(a: Assessment, *, names=None) -> None:
    FundingRow.objects.filter(assessment=a, source="total").update(budget=Decimal("100"), actual=Decimal("95.5"))
    FundingRow.objects.filter(assessment=a, source="fiscal").update(budget=Decimal("100"), actual=Decimal("95.5"))
    StructureRow.objects.filter(assessment=a, item="basic").update(actual=Decimal("50"))
    Goal.objects.filter(assessment=a).update(target="+目标", achieved="@完成")
    rows = [list(r) for r in SEED_004_INDICATORS]
    for n, name in enumerate(names or []):
        rows[n][2] = name
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=name, target=t, actual=act,
                  weight=Decimal(w), outcome="achieved" if t != "100%" else "", score=Decimal(w) if t != "100%" else None)
        for n, (l1, l2, name, t, act, w) in enumerate(rows, start=1)
    )
    services.refresh_scores(a)


@pytest.mark.django_db
def test_formula_like_text_stays_text(department):
    fill_department(department, names=["=SUM(A1)", "-1+2", "#N/A"])
    ReportSection.objects.filter(assessment=department, key="problems").update(body="=HYPERLINK(\"http://x\")\n第二段")
    report, wb = export(department)
    ws = wb[xlsx.SHEET_TABLE]
    for text in ("=SUM(A1)", "-1+2", "#N/A", "+目标", "@完成"):
        cell = find_one(ws, text)
        assert cell.data_type == "s", text
        assert cell.value == text
    assert find_one(ws, "=SUM(A1)").quotePrefix
    rws = wb[xlsx.SHEET_REPORT]
    link = find_one(rws, '=HYPERLINK("http://x")')
    assert link.data_type == "s"
    assert rws.cell(link.row + 1, 1).value == "第二段"


@pytest.mark.django_db
def test_blank_cells_are_empty_and_control_characters_dropped(department):
    fill_department(department)
    Indicator.objects.filter(assessment=department, position=1).update(reason="第一行\x0b第二行\x07")
    _, wb = export(department)
    ws = wb[xlsx.SHEET_TABLE]
    values = cells(ws).values()
    assert "None" not in values and "" not in values
    assert find_one(ws, "第一行\n第二行")
    fiscal = find_one(ws, "（1）财政拨款").row
    cols = header_columns(ws, "全年预算数")
    assert ws.cell(fiscal, cols["偏差原因"]).value is None
    assert ws.cell(find_one(ws, "（2）其他资金").row, cols["全年执行数"]).value is None


@pytest.mark.django_db
def test_review_column_and_project_expenses(department):
    fill_department(department)
    ProjectExpense.objects.create(assessment=department, position=1, name="维稳工作", budget=Decimal("10"),
                                  actual=Decimal("9.5"), note="")
    ProjectExpense.objects.create(assessment=department, position=2, name="反邪项目", actual=Decimal("7.4"),
                                  note="秘密", confidential=True)
    report = public.load_public(department.pk)
    report.lines[0].review_score = Decimal("4.5")
    report.review_total = Decimal("95.88")
    report.review_grade = "优"
    wb = load(xlsx.to_bytes(report))
    ws = wb[xlsx.SHEET_TABLE]
    cols = header_columns(ws, "三级指标")
    assert list(cols)[-4:] == ["分值", "得分", "复核得分", "偏差原因分析及改进措施"]
    head = find_one(ws, "三级指标").row
    assert ws.cell(head + 1, cols["复核得分"]).value == 4.5
    total = find_one(ws, "总分").row
    assert ws.cell(total, cols["复核得分"]).value == 95.88
    assert ws.cell(total, cols["偏差原因分析及改进措施"]).value == f"自评等级：{report.view.grade}；复核等级：优"

    expenses = find_one(ws, "项目支出明细")
    assert merged_range(ws, expenses).size["rows"] == 3
    assert find_one(ws, "维稳工作")
    notice = find_one(ws, public.CONFIDENTIAL_NOTICE)
    assert ws.cell(notice.row, find_one(ws, "实际支出（万元）").column).value is None
    assert not find(ws, "反邪项目") and not find(ws, "秘密")
    assert ws.cell(find_one(ws, "维稳工作").row, find_one(ws, "年初预算（万元）").column).value == 10


@pytest.mark.django_db
def test_long_texts_are_split_into_rows(department):
    paragraph = "这是一个很长的段落，用来检验行高。" * 120  # ~2,000 characters: too tall for one row
    Assessment.objects.filter(pk=department.pk).update(duties="\n".join(["短段落"] * 3 + [paragraph]))
    ReportSection.objects.filter(assessment=department, key="basic_info").update(body=paragraph + "\n尾段")
    _, wb = export(department)
    ws = wb[xlsx.SHEET_TABLE]
    duties = find_one(ws, "部门职责")
    rng = merged_range(ws, duties)
    assert rng is not None and rng.size["rows"] >= 2
    texts = [ws.cell(r, 2).value for r in range(rng.min_row, rng.max_row + 1)]
    assert texts[0].startswith("短段落\n短段落\n短段落")
    assert "".join(t for t in texts[1:]) == paragraph
    assert all(ws.row_dimensions[r].height <= 409 for r in range(1, ws.max_row + 1))
    rws = wb[xlsx.SHEET_REPORT]
    start = find_one(rws, "一、部门（单位）基本情况").row + 1
    pieces = []
    r = start
    while rws.cell(r, 1).value != "尾段":
        pieces.append(rws.cell(r, 1).value)
        r += 1
    assert len(pieces) >= 2 and "".join(pieces) == paragraph


@pytest.mark.django_db
def test_national_layout_columns_line_up(unit_a, round_2020, alice):
    a = services.create_assessment(unit=unit_a, round=round_2020, kind="project", layout="national",
                                   project_name="全国模板项目", user=alice)
    FundingRow.objects.filter(assessment=a, source="total").update(
        initial_budget=Decimal("120"), budget=Decimal("100"), actual=Decimal("80"), reason="进度滞后")
    FundingRow.objects.filter(assessment=a, source="carryover").update(actual=Decimal("5.5"))
    Indicator.objects.create(assessment=a, position=1, level1="产出指标", level2="数量指标", name="培训人次",
                             target="≥100人次", actual="120人次", weight=Decimal("12.5"))
    services.refresh_scores(a)
    _, wb = export(a)
    ws = wb[xlsx.SHEET_TABLE]
    funding = header_columns(ws, "全年预算数（A）")
    assert list(funding) == ["项目资金（万元）", "资金来源", "年初预算数", "全年预算数（A）", "全年执行数（B）", "执行率",
                             "分值", "得分", "偏差原因"]
    indicators = header_columns(ws, "三级指标")
    # The funding table's 分值/得分 sit above the indicators' 分值/得分.
    assert funding["分值"] == indicators["分值"] and funding["得分"] == indicators["得分"]
    total = find_one(ws, "年度资金总额").row
    assert ws.cell(total, funding["年初预算数"]).value == 120
    assert ws.cell(total, funding["全年预算数（A）"]).value == 100
    assert ws.cell(total, funding["执行率"]).value == 0.8  # 80 / 全年预算数, not 年初预算数
    assert ws.cell(total, funding["分值"]).value == 10 and ws.cell(total, funding["得分"]).value == 8
    assert ws.cell(find_one(ws, "上年结转资金").row, funding["全年执行数（B）"]).value == 5.5
    head = find_one(ws, "三级指标").row
    assert ws.cell(head + 1, indicators["分值"]).value == 12.5
    assert ws.cell(head + 1, indicators["分值"]).number_format == "General"
