"""Consistency checks (issue 7 §4): figures in the report text against the tables.

Most tests build the read model in memory from the demo data of seeds 000 (渌口) and 002 (芦淞),
exactly as ``seed_demo`` loads them, and change one sentence; two tests load the whole demo into
the database; the page tests go through the Django test client.
"""

import dataclasses
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import consistency, readmodel
from assessments.consistency import Cell
from assessments.demo import seed_000_lukou, seed_002_lusong, seed_004_yuelu
from assessments.models import (
    Assessment,
    FundingRow,
    ProjectExpense,
    ReportSection,
    Round,
    StructureRow,
    Unit,
)
from assessments.table_templates import builtin_version
from assessments.views import entry, review

from .helpers import detail_url, edit_url, fill_seed_004, form_data

LUKOU = seed_000_lukou.DEPARTMENT_2022
LUSONG = seed_002_lusong.DEPARTMENT_2024
YUELU = seed_004_yuelu.DEPARTMENT_2020

# Seed 000 gives 项目支出 466.13 and then six projects that add up to 467.13 (see the note in
# assessments/demo/seed_000_lukou.py): the one warning the real report earns.
LUKOU_SUM = (
    "报告“一般公共预算支出情况”第4段：“…年终决算项目支出466.13万元…” 与所列各项之和不一致："
    "维稳工作161.82万元 + 驻京维稳70万元 + 涉法涉诉47.23万元 + 扫黑除恶38.91万元 + 见义勇为5万元 + "
    "平安建设144.17万元 = 467.13万元"
)


def money(value):
    return None if value is None else Decimal(value)


def demo_view(spec, *, structure=None, sections=None, expenses=None, funding=None):
    """The read model of a demo assessment, in memory, with optional changes to its rows."""
    assessment = Assessment(
        kind=spec["kind"], template_version=builtin_version(spec["layout"]), round=Round(year=spec["year"]),
        unit=Unit(name=spec["unit"]),
    )
    structure_rows = {row["item"]: dict(row) for row in spec["structure"]}
    for item, values in (structure or {}).items():
        structure_rows.setdefault(item, {"item": item}).update(values)
    funding_rows = {row["source"]: dict(row) for row in spec["funding"]}
    for source, values in (funding or {}).items():
        funding_rows.setdefault(source, {"source": source}).update(values)
    bodies = {key: dict(data) for key, data in spec["sections"].items()}
    for key, body in (sections or {}).items():
        bodies.setdefault(key, {"title": ""})["body"] = body
    return readmodel.build(
        assessment,
        funding_rows=[
            FundingRow(source=r["source"], initial_budget=money(r.get("initial_budget")), budget=money(r.get("budget")),
                       actual=money(r.get("actual")))
            for r in funding_rows.values()
        ],
        indicators=[],
        structure_rows=[
            StructureRow(item=r["item"], budget=money(r.get("budget")), actual=money(r.get("actual")))
            for r in structure_rows.values()
        ],
        goals=[],
        expenses=[
            ProjectExpense(name=r["name"], budget=money(r.get("budget")), actual=money(r.get("actual")),
                           confidential=r.get("confidential", False))
            for r in (expenses if expenses is not None else spec["project_expenses"])
        ],
        sections=[ReportSection(key=key, title=data["title"], body=data["body"]) for key, data in bodies.items()],
    )


def replaced(spec, key, old, new) -> str:
    body = spec["sections"][key]["body"]
    assert body.count(old) == 1, old
    return body.replace(old, new)


def messages(view) -> list[str]:
    return [w.message for w in consistency.check(view)]


# --- The real reports against their own tables ------------------------------------------------


def test_seed_000_as_written_only_the_project_breakdown_disagrees():
    assert messages(demo_view(LUKOU)) == [LUKOU_SUM]


def test_seed_000_sum_warning_points_to_the_total_it_contradicts():
    [warning] = consistency.check(demo_view(LUKOU))
    body = LUKOU["sections"]["general_budget"]["body"]
    assert warning.kind == "sum"
    assert warning.cell is None
    assert (warning.section_key, warning.section_title, warning.paragraph) == ("general_budget", "一般公共预算支出情况", 4)
    assert warning.figure == "466.13万元"
    assert body[warning.start : warning.end] == "466.13万元"
    assert warning.sentence == "2022年预算安排项目支出216万元年终决算项目支出466.13万元，主要包括平安建设、驻京维稳、见义勇为、司法救助、维稳工作、教育转化等。"
    assert body[warning.sentence_start :].startswith(warning.sentence)


def test_seed_000_projects_listed_as_the_table_gives_them_add_up():
    # With the total the projects add up to, the report is consistent.
    body = replaced(LUKOU, "general_budget", "年终决算项目支出466.13万元", "年终决算项目支出467.13万元")
    view = demo_view(LUKOU, sections={"general_budget": body}, structure={"project": {"actual": "467.13"}})
    assert messages(view) == []


def test_seed_002_as_written_is_consistent():
    assert messages(demo_view(LUSONG)) == []


def test_every_demo_report_as_loaded(db, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    found = {
        (a.unit.short_name, a.round.year, a.project_name): messages(readmodel.load(a.pk))
        for a in Assessment.objects.select_related("unit", "round")
    }
    assert found == {
        ("渌口区委政法委", 2022, ""): [LUKOU_SUM],
        ("南岳区委政法委", 2022, ""): [],
        ("南岳区委政法委", 2022, "综治、平安建设经费"): [],
        ("南岳区委政法委", 2022, "四型平安小区以奖代拨经费"): [],
        ("芦淞区委政法委", 2024, ""): [],
        ("望城区委政法委", 2020, ""): [],
        ("岳麓区委政法委", 2020, ""): [],
    }


def test_check_runs_no_query(db, settings, tmp_path, django_capture_on_commit_callbacks, django_assert_num_queries):
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    view = readmodel.load(Assessment.objects.get(unit__short_name="渌口区委政法委").pk)
    with django_assert_num_queries(0):
        assert len(consistency.check(view)) == 1


# --- Amounts -----------------------------------------------------------------------------------


def test_seed_000_altered_basic_actual():
    body = replaced(LUKOU, "general_budget", "年终决算基本支出325.69万元", "年终决算基本支出325.70万元")
    warnings = consistency.check(demo_view(LUKOU, sections={"general_budget": body}))
    assert [w.message for w in warnings] == [
        "报告“一般公共预算支出情况”第2段：“…年终决算基本支出325.70万元…” 与 资金结构“基本支出·执行数” 325.69 不一致",
        LUKOU_SUM,
    ]
    w = warnings[0]
    assert w.kind == "amount"
    assert w.cell == Cell(table="资金结构", row="基本支出", column="执行数", value="325.69")
    assert w.figure == "325.70万元"
    assert w.sentence == "2022年预算安排基本支出285.44万元，年终决算基本支出325.70万元，执行率为114.1%。"
    assert (w.paragraph, w.start, w.end) == (2, body.index("325.70万元"), body.index("325.70万元") + len("325.70万元"))
    assert w.excerpt == "…年终决算基本支出325.70万元…"


def test_seed_000_altered_budget_goes_to_the_budget_column():
    body = replaced(LUKOU, "general_budget", "2022年预算安排基本支出285.44万元", "2022年预算安排基本支出258.44万元")
    warnings = consistency.check(demo_view(LUKOU, sections={"general_budget": body}))
    assert [w.message for w in warnings] == [
        "报告“一般公共预算支出情况”第2段：“2022年预算安排基本支出258.44万元…” 与 资金结构“基本支出·预算数” 285.44 不一致",
        # 325.69 ÷ 285.44 = 114.10%: the stated rate still matches the table
        LUKOU_SUM,
    ]


def test_seed_000_altered_project_amount():
    body = replaced(LUKOU, "general_budget", "涉法涉诉47.23万元", "涉法涉诉46.23万元")
    warnings = consistency.check(demo_view(LUKOU, sections={"general_budget": body}))
    assert [w.message for w in warnings] == [
        "报告“一般公共预算支出情况”第4段：“…涉法涉诉46.23万元…” 与 项目支出明细“涉法涉诉·实际支出” 47.23 不一致",
    ]
    # …and now the six projects add up to the stated 466.13: no sum warning.
    assert warnings[0].cell == Cell("项目支出明细", "涉法涉诉", "实际支出", "47.23")


def test_seed_000_altered_table_instead_of_text():
    view = demo_view(LUKOU, structure={"basic": {"budget": "285.40"}})
    assert messages(view)[0] == (
        "报告“一般公共预算支出情况”第2段：“2022年预算安排基本支出285.44万元…” 与 资金结构“基本支出·预算数” 285.40 不一致"
    )


def test_seed_002_altered_basic_spending_breaks_the_cell_and_both_sums():
    body = replaced(LUSONG, "general_budget", "其中：基本支出236.60万元", "其中：基本支出236.50万元")
    assert messages(demo_view(LUSONG, sections={"general_budget": body})) == [
        "报告“一般公共预算支出情况”第4段：“…其中：基本支出236.50万元…” 与 资金结构“基本支出·执行数” 236.60 不一致",
        "报告“一般公共预算支出情况”第4段：“…2024年度支出合计377.32万元…” 与所列各项之和不一致："
        "基本支出236.50万元 + 项目支出140.72万元 = 377.22万元",
        "报告“一般公共预算支出情况”第4段：“…其中：基本支出236.50万元…” 与所列各项之和不一致："
        "人员经费196.66万元 + 公用经费39.94万元 = 236.60万元",
    ]


def test_seed_002_altered_total_is_checked_against_the_funding_table_and_the_parts():
    body = replaced(LUSONG, "general_budget", "支出合计377.32万元", "支出合计377.23万元")
    assert messages(demo_view(LUSONG, sections={"general_budget": body})) == [
        "报告“一般公共预算支出情况”第4段：“…2024年度支出合计377.23万元…” 与 整体资金“合计·全年执行数” 377.32 不一致",
        "报告“一般公共预算支出情况”第4段：“…2024年度支出合计377.23万元…” 与所列各项之和不一致："
        "基本支出236.60万元 + 项目支出140.72万元 = 377.32万元",
    ]


def test_seed_002_project_named_as_in_the_text_not_as_in_the_table():
    # The table says 雪亮工程建设专项项目, the text 雪亮工程项目支出: it is the project, not the 项目支出 total.
    body = replaced(LUSONG, "general_budget", "雪亮工程项目支出56.18万元", "雪亮工程项目支出65.18万元")
    [warning] = consistency.check(demo_view(LUSONG, sections={"general_budget": body}))
    assert warning.message == (
        "报告“一般公共预算支出情况”第6段：“…雪亮工程项目支出65.18万元” 与 项目支出明细“雪亮工程建设专项项目·实际支出” 56.18 不一致"
    )


def test_text_typed_in_a_browser_textarea_crlf():
    body = replaced(LUSONG, "general_budget", "其中：基本支出236.60万元", "其中：基本支出236.50万元").replace("\n", "\r\n")
    warnings = consistency.check(demo_view(LUSONG, sections={"general_budget": body}))
    assert [(w.paragraph, w.figure) for w in warnings] == [(4, "236.50万元"), (4, "377.32万元"), (4, "236.50万元")]
    assert body[warnings[0].sentence_start :].startswith(warnings[0].sentence)
    assert body[warnings[0].start : warnings[0].end] == "236.50万元"


def test_seed_002_project_named_by_its_heading_line():
    body = replaced(LUSONG, "department_performance", "年初预算资金67万元", "年初预算资金76万元")
    body = body.replace("实际支出21.58万元", "实际支出12.58万元")
    assert messages(demo_view(LUSONG, sections={"department_performance": body})) == [
        "报告“资金使用及绩效情况（包含单位管理的公共专项）”第7段：“年初预算资金76万元…” 与 项目支出明细“雪亮工程建设专项项目·年初预算” 67.00 不一致",
        "报告“资金使用及绩效情况（包含单位管理的公共专项）”第13段：“…实际支出12.58万元…” 与 项目支出明细“维稳专项项目（平安建设）·实际支出” 21.58 不一致",
    ]


def test_confidential_project_is_checked_too():
    body = replaced(LUSONG, "general_budget", "反邪项目支出7.4万元", "反邪项目支出4.7万元")
    assert messages(demo_view(LUSONG, sections={"general_budget": body})) == [
        "报告“一般公共预算支出情况”第10段：“…反邪项目支出4.7万元” 与 项目支出明细“反邪项目·实际支出” 7.40 不一致",
    ]


def test_a_full_project_name_wins_over_another_projects_short_name():
    expenses = [{"name": "平安建设", "actual": "144.17"}, {"name": "平安建设经费", "actual": "20"}]
    text = "其中平安建设144.17万元，平安建设经费20万元。"
    assert messages(demo_view(LUKOU, expenses=expenses, sections={"general_budget": text})) == []
    assert messages(demo_view(LUKOU, expenses=expenses, sections={"general_budget": text.replace("20万元", "21万元")})) == [
        "报告“一般公共预算支出情况”第1段：“…平安建设经费21万元” 与 项目支出明细“平安建设经费·实际支出” 20.00 不一致"
    ]


def test_stated_precision():
    for written, expected in [("325.7万元", []), ("325.69万元", []), ("325.690万元", []), ("325.70万元", ["325.69"]),
                              ("326万元", []), ("325万元", ["325.69"])]:
        body = replaced(LUKOU, "general_budget", "年终决算基本支出325.69万元", f"年终决算基本支出{written}")
        found = [w.cell.value for w in consistency.check(demo_view(LUKOU, sections={"general_budget": body})) if w.cell]
        assert found == expected, written


def test_full_width_digits_and_thousands_separators():
    spec = YUELU
    for written, expected in [
        ("10,584.29万元", []),
        ("１０５８４．２９万元", []),
        ("１０,５８４．２９万元", []),
        ("10,548.29万元", ["10,548.29万元"]),
        ("１０５８４．２０万元", ["１０５８４．２０万元"]),
    ]:
        body = replaced(spec, "basic_info", "2020年决算总支出10584.29万元", f"2020年决算总支出{written}")
        warnings = consistency.check(demo_view(spec, sections={"basic_info": body}))
        assert [w.figure for w in warnings if w.kind == "amount"] == expected, written
        for w in warnings:
            assert w.cell in (None, Cell("整体资金", "合计", "全年执行数", "10584.29"))


# --- Percentages ---------------------------------------------------------------------------------


def test_seed_000_rate_refers_to_the_basic_spending_of_its_sentence():
    body = replaced(LUKOU, "general_budget", "执行率为114.1%", "执行率为104.1%")
    warnings = consistency.check(demo_view(LUKOU, sections={"general_budget": body}))
    assert warnings[0].message == (
        "报告“一般公共预算支出情况”第2段：“…年终决算基本支出325.69万元，执行率为104.1%” 与 资金结构“基本支出·执行率” 114.10% 不一致"
    )
    assert (warnings[0].kind, warnings[0].figure) == ("rate", "104.1%")


@pytest.mark.parametrize(
    ("written", "consistent"),
    [("114.1%", True), ("114.08%", True), ("114%", True), ("114.10%", False), ("114.0%", False), ("114.2%", False)],
)
def test_rate_tolerance_follows_the_stated_precision(written, consistent):
    # 114.08 ÷ 100: the table's rate is 114.08%.
    view = demo_view(
        LUKOU,
        structure={"basic": {"budget": "100", "actual": "114.08"}},
        sections={"general_budget": f"本年度预算安排基本支出100万元，决算基本支出114.08万元，执行率为{written}。"},
    )
    assert (messages(view) == []) is consistent


def test_rate_reached():
    body = replaced(LUKOU, "general_budget", "执行率为114.1%", "执行率达到104.1%")
    assert consistency.check(demo_view(LUKOU, sections={"general_budget": body}))[0].figure == "104.1%"


def test_rate_without_subject_is_the_funding_total():
    text = "本年度部门整体支出预算执行率为96.67%。"
    assert messages(demo_view(YUELU, sections={"other": text})) == []
    assert messages(demo_view(YUELU, sections={"other": text.replace("96.67", "96.7")})) == []
    assert messages(demo_view(YUELU, sections={"other": text.replace("96.67", "97.67")})) == [
        "报告“其他需要说明的情况”第1段：“本年度部门整体支出预算执行率为97.67%” 与 整体资金“合计·执行率” 96.67% 不一致"
    ]


def test_project_rate_under_its_heading():
    body = "1.雪亮工程建设专项项目\n年初预算资金67万元，实际支出56.18万元，执行率为88.85%。"
    assert messages(demo_view(LUSONG, sections={"project_performance": body})) == [
        "报告“项目支出绩效情况”第2段：“…实际支出56.18万元，执行率为88.85%” 与 项目支出明细“雪亮工程建设专项项目·执行率” 83.85% 不一致"
    ]
    assert messages(demo_view(LUSONG, sections={"project_performance": body.replace("88.85", "83.85")})) == []


# --- Arithmetic stated in the text ---------------------------------------------------------------


def test_sum_is_checked_without_table_values():
    # No table cell for any of these (the structure is empty): the text still must add up.
    view = demo_view(
        LUSONG,
        structure={item: {"actual": None} for item in ("basic", "personnel", "operating", "project")},
        funding={"total": {"actual": None}},
        sections={"other": "2024年度支出合计377.32万元，其中：基本支出236.60万元；项目支出140.82万元。"},
    )
    assert messages(view) == [
        "报告“其他需要说明的情况”第1段：“2024年度支出合计377.32万元…” 与所列各项之和不一致："
        "基本支出236.60万元 + 项目支出140.82万元 = 377.42万元"
    ]


def test_sum_needs_every_part():
    view = demo_view(LUSONG, sections={"other": "2024年度支出合计377.32万元，其中：基本支出236.60万元。"})
    assert messages(view) == []


# --- No warning when the figure is not clearly a table value -------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "2022年本单位共调入5人，调出4人，总人员15人。",
        "区公安分局办理职务侵占案1起，为企业挽回经济损失20万元。",
        "减少人民群众损失120余万元，获长春书记点赞。",
        "基本为人员正常增加的各项工资福利，超预算 61.24 万元，增幅 9.6%。",
        "主要原因为其中有项目支出 776 万元由财政直接下拨，未经我单位预算支付系统。",
        "经调整后实际项目支出为 1231.41 万元，超预算 77.41 万元，增长率 6.71%。",
        "其中：在职人员工资福利支出为 609.52 万元，退休人员支出 55.79 万元。",
        "2、2024年度一般公共预算财政拨款收入377.88万元",
        "2024年度财政拨款支出年初预算数为379.04万元",
        "区法院受理各类案件4679件，审（执）结4396件，结案率93.95%。",
        "赴省上访、到市上访同比分别下降34.6%、9.3%。",
        "基本支出约300万元，项目支出200万元左右。",
        "基本支出200-300万元，项目支出100万元至150万元。",
        "年初预算资金67万元，年中执行调增（减）0万元，实际支出56.18万元，结余结转10.82万元。",
        "社区戒毒和社区康复执行率100%。",
        "（2） 项目支出情况:支出140.72万元",
        "项目资金总额36万元。",
        "2023年基本支出236万元；上年项目支出99万元。",
    ],
)
def test_no_warning_for_figures_that_are_not_table_values(sentence):
    # 芦淞's tables with every cell filled (so a wrong attribution would show).
    view = demo_view(
        LUSONG,
        structure={item: {"budget": "1.00"} for item in ("basic", "personnel", "operating", "project")},
        funding={"fiscal": {"budget": "2.00", "actual": "3.00"}, "total": {"budget": "4.00"}},
        sections={"other": sentence},
    )
    assert messages(view) == [], sentence


def test_a_part_of_a_subject_already_stated_is_not_the_subject():
    view = demo_view(
        LUSONG,
        structure={"project": {"budget": "1154", "actual": "455.41"}},
        sections={
            "general_budget": "",
            "department_performance": "",
            "other": "本年度项目支出预算 1154 万元，实际支出 455.41 万元，其中项目支出 776 万元由财政直接下拨。",
        },
    )
    assert messages(view) == []


# --- Pages ----------------------------------------------------------------------------------------

MISMATCHED_REPORT = "2020年决算总支出10584.29万元，其中：基本支出1379.15万元，项目支出9250.14万元。"
PAGE_WARNINGS = [
    "报告“一般公共预算支出情况”第1段：“…项目支出9250.14万元” 与 资金结构“项目支出·执行数” 9205.14 不一致",
    "报告“一般公共预算支出情况”第1段：“2020年决算总支出10584.29万元…” 与所列各项之和不一致："
    "基本支出1379.15万元 + 项目支出9250.14万元 = 10629.29万元",
]
PAGE_HEADING = "报告与表格数字核对：2 处可能不一致（仅作提示，不影响提交）"


def shown(response) -> list[str]:
    return [w.message for w in response.context["consistency"]]


def test_pages_show_the_warnings_and_submitting_still_works(client, alice, reviewer, department):
    client.force_login(alice)
    data = fill_seed_004(form_data(client.get(edit_url(department))))
    data["sections-1-body"] = MISMATCHED_REPORT
    assert client.post(edit_url(department), data).status_code == 302

    page = client.get(edit_url(department))
    assert shown(page) == PAGE_WARNINGS
    html = page.content.decode()
    assert PAGE_HEADING in html
    for message in PAGE_WARNINGS:
        assert f'<a class="alert-link" href="#section-general_budget">{message}</a>' in html

    page = client.get(detail_url(department))
    assert shown(page) == PAGE_WARNINGS
    assert PAGE_HEADING in page.content.decode()

    # Warnings do not block: 保存并提交 from the edit page goes through.
    data = form_data(client.get(edit_url(department)))
    data["action"] = "submit"
    response = client.post(edit_url(department), data)
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    confirmation = client.get(response.url)
    assert "已提交，等待财政局审核。审核开始前可撤回。" in confirmation.content.decode()
    assert shown(confirmation) == PAGE_WARNINGS
    assert PAGE_HEADING in confirmation.content.decode()

    client.force_login(reviewer)
    page = client.get(reverse("assessments:review", args=[department.pk]))
    assert page.status_code == 200
    assert shown(page) == PAGE_WARNINGS
    assert PAGE_HEADING in page.content.decode()


def test_submit_button_of_the_detail_page_still_works(client, alice, department):
    client.force_login(alice)
    data = fill_seed_004(form_data(client.get(edit_url(department))))
    data["sections-1-body"] = MISMATCHED_REPORT
    client.post(edit_url(department), data)
    response = client.post(reverse("assessments:submit", args=[department.pk]))
    assert response.status_code == 302
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED


def test_consistent_report_shows_no_warning_box(client, alice, department):
    client.force_login(alice)
    data = fill_seed_004(form_data(client.get(edit_url(department))))
    data["sections-1-body"] = MISMATCHED_REPORT.replace("9250.14", "9205.14")
    client.post(edit_url(department), data)
    page = client.get(detail_url(department))
    assert shown(page) == []
    assert 'id="consistency-warnings"' not in page.content.decode()


@pytest.mark.usefixtures("rendered_pages")
def test_the_checks_add_no_query_to_the_pages(client, alice, reviewer, department, monkeypatch):
    def queries(user, url):
        client.force_login(user)
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    client.force_login(alice)
    data = fill_seed_004(form_data(client.get(edit_url(department))))
    data["sections-1-body"] = MISMATCHED_REPORT
    client.post(edit_url(department), data)

    def pages():
        if department.state == Assessment.State.DRAFT:
            return [queries(alice, edit_url(department)), queries(alice, detail_url(department))]
        return [queries(alice, detail_url(department)), queries(reviewer, reverse("assessments:review", args=[department.pk]))]

    def without_checks():
        with monkeypatch.context() as patch:
            patch.setattr(entry, "check_consistency", lambda view: [])
            patch.setattr(review, "check_consistency", lambda view: [])
            return pages()

    assert pages() == without_checks()
    client.force_login(alice)
    client.post(reverse("assessments:submit", args=[department.pk]))
    department.refresh_from_db()
    assert department.state == Assessment.State.SUBMITTED
    assert pages() == without_checks()


def test_warning_objects_are_plain_data():
    [warning] = consistency.check(demo_view(LUKOU))
    assert dataclasses.asdict(warning)["figure"] == "466.13万元"
