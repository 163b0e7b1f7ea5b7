"""表样 (table templates): every shipped template typed through the entry form, exported to xlsx
and imported back unchanged; the provincial variant imported from a workbook in its paper
layout; the unit's 得分 as the record; totals only when complete; versions that never change
what was made with them."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from assessments import builtin_templates, readmodel, scoring, table_templates
from assessments.document import document
from assessments.exports import public, xlsx
from assessments.importing import apply, parser
from assessments.models import Assessment, FundingRow, Goal, Indicator, TableTemplate, TemplateVersion
from assessments.services import create_assessment
from assessments.tablespec import SpecInvalid, TableSpec, validate
from assessments.tests.helpers import edit_url, form_data

D = Decimal
CODES = [spec.code for spec in builtin_templates.BUILTIN]


# --- The declarations ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_shipped_templates_validate_and_round_trip_as_json(code):
    spec = builtin_templates.BY_CODE[code]
    assert validate(spec) == []
    assert TableSpec.from_dict(spec.to_dict()) == spec
    assert spec.total_weight == D("100")


def test_template_weights_and_captions():
    provincial = builtin_templates.PROVINCIAL_PROJECT
    assert provincial.weight_groups == (("产出指标", D("60"), ("产出指标", "成本指标")), ("效益指标", D("30"), ("效益指标",)))
    assert provincial.funding_weight == D("10")
    assert provincial.indicator_heading() == "绩效指标（90分）"
    national = builtin_templates.NATIONAL_DEPARTMENT
    assert [national.level1_caption(n) for n in ("产出指标", "效益指标", "满意度指标", "成本指标")] == [
        "产出指标（50分）", "效益指标（30分）", "满意度指标（10分）", "成本指标",
    ]


def test_a_broken_declaration_says_every_problem_in_chinese():
    data = builtin_templates.PROVINCIAL_PROJECT.to_dict()
    data["indicator_columns"] = [c for c in data["indicator_columns"] if c["key"] not in ("actual", "score")]
    data["funding_rows"][0]["parts"] = ["fiscal", "nowhere"]
    data["level1"][0]["weight"] = "-5"
    with pytest.raises(SpecInvalid) as refused:
        TableSpec.from_dict(data)
    assert refused.value.errors == [
        "资金表“总额”的组成行“nowhere”不存在",
        "绩效指标表必须有“实际完成值”列",
        "绩效指标表的“分值”和“得分”列须同时设置",
        "一级指标“产出指标”的分值不能为负数",
    ]


# --- Typing every template, exporting and importing it back ------------------------------------


VALUE_BY_KIND = {"text": "文字{n}", "long_text": "说明{n}", "amount": "12.3456", "number": "7.5", "integer": "9"}


def fill(data: dict, entry, *, unit_name="单位") -> dict:
    """A complete table of the entry form's template, as an officer types it."""
    table = entry.table
    header = {
        "project_name": "社会治安综合治理项目", "project_leader": "刘雄", "leader_phone": "0734-5668888",
        "supervisor_name": "中共衡阳市南岳区委员会", "implementer": "中共南岳区委政法委员会",
        "duties": "贯彻落实党中央关于政法工作的方针政策。\n统筹协调政法部门工作。", "staff_quota": "12", "staff_actual": "11",
    }
    for n, name in enumerate(entry.header.fields, start=1):
        if name in header:
            data[f"header-{name}"] = header[name]
        elif name not in ("confidential", "leader_phone_is_office"):
            data[f"header-{name}"] = VALUE_BY_KIND["text"].format(n=n)
    amounts = {"initial_budget": "100.1234", "budget": "120.5", "actual": "110.125"}
    for n, form in enumerate(entry.funding.forms):
        for name in form.fields:
            if name in amounts:
                share = (D(amounts[name]) / (len(entry.funding.forms) - 1)).quantize(D("0.0001"))
                data[form.add_prefix(name)] = amounts[name] if n == 0 else str(share)
            elif name == "reason":
                data[form.add_prefix(name)] = f"第{n + 1}行的原因"
            elif name != "score" and name != "id":
                data[form.add_prefix(name)] = "1.5"
    if entry.structure is not None:
        for n, form in enumerate(entry.structure.forms):
            data[form.add_prefix("budget")], data[form.add_prefix("actual")] = f"{10 + n}.25", f"{9 + n}.125"
    data["goals-0-target"] = "全力维护社会大局稳定；\n提升群众安全感。"
    data["goals-0-achieved"] = "各项工作取得了新成效。"
    rows = []
    for name, weight, _members in table.weight_groups:
        half = weight / 2
        rows.append((name, table.level1_spec(name).level2[0], f"{name}甲", "≥", "10", "次", "10", half))
        rows.append((name, table.level1_spec(name).level2[-1], f"{name}乙", "", "满意", "", "满意", weight - half))
    split = "operator" in table.indicator_keys
    initial = int(data["indicators-INITIAL_FORMS"])
    for n in range(initial):
        data[f"indicators-{n}-DELETE"] = "on"
    for offset, (level1, level2, name, op, target, unit, actual, weight) in enumerate(rows):
        n = initial + offset
        values = {
            "level1": level1, "level2": level2, "name": name, "ORDER": str(offset + 1),
            "target": target if split or not op else f"{op}{target}{unit}",
            "actual": actual if split or not unit else f"{actual}{unit}",
            "weight": scoring.fmt_weight(weight) if "weight" in table.indicator_keys else "",
            "outcome": "achieved" if not op else "", "score": "", "reason": f"第{offset + 1}行说明",
        }
        if split:
            values.update(operator=op, unit=unit)
        data.update({f"indicators-{n}-{k}": v for k, v in values.items()})
    data["indicators-TOTAL_FORMS"] = str(initial + len(rows))
    for form in entry.sections.forms:
        data[form.add_prefix("body")] = f"{form.standard_title}：第一段。\n第二段。"
    return data


def workbook_of(pk: int) -> bytes:
    """The portal's xlsx of an assessment from its unmasked read model (exports/xlsx.py)."""
    view = readmodel.load(pk)
    report = public.PublicReport(
        view=view, lines=[public.PublicLine(line, None) for line in view.indicators],
        review_total=None, review_grade=None, published_at=None,
    )
    return xlsx.to_bytes(report)


def comparable(view) -> dict:
    """The document minus what a new draft cannot keep: its id and its rows' identities. A 得分
    the unit typed that is exactly the rule's is the same record as none typed (a workbook cannot
    tell them apart), so it is left out."""
    return same_record(document(view))


def same_record(doc: dict) -> dict:
    doc.pop("id")
    for row in doc["indicators"]:
        row.pop("key", None), row.pop("lineage", None)
    for row in doc["indicators"] + doc["funding"]:
        if row["score_entered"] == row["suggested_score"]:
            row["score_entered"] = None
    return doc


@pytest.mark.parametrize("code", CODES)
def test_every_shipped_template_typed_exported_and_imported_back_is_identical(code, client, alice, unit_a, round_2020):
    name = "社会治安综合治理项目" if builtin_templates.BY_CODE[code].is_project else ""
    a = create_assessment(unit=unit_a, round=round_2020, layout=code, project_name=name, user=alice)
    client.force_login(alice)
    response = client.get(edit_url(a))
    assert response.status_code == 200
    data = fill(form_data(response), response.context["entry"])
    response = client.post(edit_url(a), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    typed = readmodel.load(a.pk)
    assert typed.result.problems == []
    # Every row achieved (full marks, 90) plus the execution rate's score: 110.125 ÷ 120.5 (or ÷ 100.1234).
    assert (typed.result.unscored, typed.result.indicator_total) == (0, D("90.00"))
    assert typed.total == typed.result.funding_score + D("90.00")
    assert typed.funding[0].initial_budget in (D("100.1234"), None)
    before = comparable(typed)

    data_bytes = workbook_of(a.pk)
    Assessment.objects.filter(pk=a.pk).delete()
    parsed = parser.parse_workbook(data_bytes, [spec for spec in builtin_templates.BUILTIN])
    assert parsed.layout == code
    assert parsed.unmapped == []
    outcome = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout=parsed.layout, parsed=parsed)
    assert outcome.errors == []
    after = comparable(readmodel.load(outcome.assessment.pk))
    assert after == before


# --- The provincial variant in its paper layout ---------------------------------------------


def provincial_paper_workbook() -> bytes:
    """A provincial 项目支出绩效自评表 as a county keeps it: merged captions and groups, 指标性质 /
    指标值 / 度量单位 apart, 绩效指标（90分）, a placeholder row, 评价结论 … under the table and a
    负责人 line."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "项目自评表"

    def put(ref, value, to=None):
        ws[ref] = value
        if to:
            ws.merge_cells(f"{ref}:{to}")

    put("A1", "2023年度项目支出绩效自评表", "K1")
    put("A2", "报表编号：XM-2023-018", "K2")
    put("A3", "项目名称"), put("B3", "农村法律服务专项经费", "E3"), put("F3", "主管部门"), put("G3", "某县司法局", "K3")
    put("A4", "实施单位"), put("B4", "某县法律援助中心", "K4")
    put("A5", "项目资金（万元）", "A10")
    for col, label in zip("BCDEFGHI", ["资金来源", "年初预算", "调整后预算数", "预算执行数", "预算执行率", "权重", "得分", "原因"], strict=True):
        put(f"{col}5", label)
    funding = [
        ("总额", 58.5, 60.25, 57.125, "95.00%", 10, 9.48, "部分培训延期"),
        ("其中：财政资金", 50, 50, 48.2, "96.40%", "—", "—", ""),
        ("财政专户管理资金", 0, 0, 0, "", "—", "—", ""),
        ("单位资金", 8.5, 10.25, 8.925, "87.07%", "—", "—", "自筹资金到位较晚"),
        ("其他资金", 0, 0, 0, "", "—", "—", ""),
    ]
    for r, row in enumerate(funding, start=6):
        for col, value in zip("BCDEFGHI", row, strict=True):
            put(f"{col}{r}", value)
    put("A11", "年度总体目标", "A12")
    put("B11", "年度目标", "F11"), put("G11", "年度总体目标完成情况", "K11")
    put("B12", "为群众提供法律援助和法律咨询服务。", "F12"), put("G12", "全年办理法律援助案件326件，开展咨询1200人次。", "K12")
    put("A13", "绩效指标（90分）", "A21")
    for col, label in zip("BCDEFGHIJK", ["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "完成值", "权重", "得分", "未完成原因分析"], strict=True):
        put(f"{col}13", label)
    indicators = [
        ("产出指标（60分）", "数量指标", "办理法律援助案件数", "≥", 300, "件", 326, 20, 20, ""),
        (None, None, "法律咨询人次", "≥", 1300, "人次", 1200, 20, 20, "部分乡镇咨询点未开放"),
        (None, "质量指标", "案件结案率", "＝", 100, "%", 100, 10, 10, ""),
        (None, "时效指标", "案件办结及时率", "≥", 95, "%", 98, 10, 10, ""),
        ("效益指标（30分）", "社会效益指标", "群众法律意识提升", "定性", "明显提升", "", "明显提升", 15, 15, ""),
        (None, "可持续影响", "法律服务网络覆盖", "≤", 5, "个空白村", 5.5, 15, 15, "偏远村点位建设滞后"),
        ("……", "……", "……", "……", "……", "……", "……", None, None, None),
    ]
    for r, row in enumerate(indicators, start=14):
        for col, value in zip("BCDEFGHIJK", row, strict=True):
            if value is not None:
                put(f"{col}{r}", value)
    ws.merge_cells("B14:B17"), ws.merge_cells("C14:C15"), ws.merge_cells("B18:B19")
    put("B21", "总分", "H21"), put("I21", 100), put("J21", 99.48)
    put("A22", "评价结论"), put("B22", "项目总体完成较好，自评得分99.48分，等级为优。", "K22")
    put("A23", "存在问题"), put("B23", "部分乡镇咨询点开放时间不足；偏远村点位建设滞后。", "K23")
    put("A24", "改进措施"), put("B24", "合理安排值守时间，加快点位建设。", "K24")
    put("A25", "项目负责人：李明    联系电话：0734-3321188    财务负责人：王芳", "K25")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_provincial_paper_workbook_keeps_every_cell(db):
    parsed = parser.parse_workbook(provincial_paper_workbook(), list(builtin_templates.BUILTIN))
    assert parsed.layout == "provincial-project"
    assert parsed.unmapped == []
    assert parsed.notes == ["项目自评表!C19：二级指标“可持续影响”按本表样的写法记为“可持续影响指标”",
                            "项目自评表!D20：占位行（“……”），未导入"]
    assert parsed.header == {
        "report_number": "XM-2023-018", "project_name": "农村法律服务专项经费", "supervisor_name": "某县司法局",
        "implementer": "某县法律援助中心", "project_leader": "李明", "leader_phone": "0734-3321188", "finance_leader": "王芳",
    }
    assert {k: (v["initial_budget"], v["budget"], v["actual"], v["reason"], v["score"]) for k, v in parsed.funding.items()} == {
        "total": ("58.5", "60.25", "57.125", "部分培训延期", "9.48"),
        "fiscal": ("50", "50", "48.2", "", None),
        "special_account": ("0", "0", "0", "", None),
        "unit_funds": ("8.5", "10.25", "8.925", "自筹资金到位较晚", None),
        "other": ("0", "0", "0", "", None),
    }
    assert parsed.goals == [{"target": "为群众提供法律援助和法律咨询服务。", "achieved": "全年办理法律援助案件326件，开展咨询1200人次。"}]
    assert [(r["level1"], r["level2"], r["name"], r["operator"], r["target"], r["unit"], r["actual"], r["weight"], r["score"], r["reason"])
            for r in parsed.indicators] == [
        ("产出指标", "数量指标", "办理法律援助案件数", "≥", "300", "件", "326", "20.00", "20.00", ""),
        ("产出指标", "数量指标", "法律咨询人次", "≥", "1300", "人次", "1200", "20.00", "20.00", "部分乡镇咨询点未开放"),
        ("产出指标", "质量指标", "案件结案率", "＝", "100", "%", "100", "10.00", "10.00", ""),
        ("产出指标", "时效指标", "案件办结及时率", "≥", "95", "%", "98", "10.00", "10.00", ""),
        ("效益指标", "社会效益指标", "群众法律意识提升", "定性", "明显提升", "", "明显提升", "15.00", "15.00", ""),
        ("效益指标", "可持续影响指标", "法律服务网络覆盖", "≤", "5", "个空白村", "5.5", "15.00", "15.00", "偏远村点位建设滞后"),
    ]
    assert parsed.level1_weights == {"产出指标": "60.00", "效益指标": "30.00"}
    assert parsed.blocks == [
        {"key": "conclusion", "title": "", "body": "项目总体完成较好，自评得分99.48分，等级为优。"},
        {"key": "problems", "title": "", "body": "部分乡镇咨询点开放时间不足；偏远村点位建设滞后。"},
        {"key": "improvements", "title": "", "body": "合理安排值守时间，加快点位建设。"},
    ]


def test_provincial_paper_workbook_imports_with_the_units_scores(client, alice, unit_a, round_2020):
    """The unit gave full marks where the rules would not (1200 of ≥1300 人次: 18.46; 5.5 of
    ≤5 个: 13.50): those 得分 are the record, published, and flagged with both figures."""
    round_2020.year = 2023
    round_2020.save()
    parsed = parser.parse_workbook(provincial_paper_workbook(), list(builtin_templates.BUILTIN))
    outcome = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout=parsed.layout, parsed=parsed)
    assert outcome.errors == []
    view = readmodel.load(outcome.assessment.pk)
    assert [(line.score, line.suggested, line.result.differs) for line in view.indicators] == [
        (D("20.00"), D("20.00"), False),
        (D("20.00"), D("18.46"), True),
        (D("10.00"), D("10.00"), False),
        (D("10.00"), D("10.00"), False),
        (D("15.00"), D("15.00"), False),
        (D("15.00"), D("13.50"), True),
    ]
    assert (view.funding[0].score, view.funding[0].suggested) == (D("9.48"), D("9.48"))
    assert view.total == D("99.48")
    assert view.result.problems == []
    a = Assessment.objects.get(pk=outcome.assessment.pk)
    assert (a.self_total, a.self_grade) == (D("99.48"), "优")
    assert "score_differs" in a.risk_flags
    # Warnings, not problems: the province does not force reasons (reason_policy "warn").
    assert [w.message for w in view.result.warnings if w.section == "indicators"] == [
        "第2行「法律咨询人次」：自评得分 20.00 与按评分规则计算的 18.46 不同（≥1300人次，实际 1200人次：未达成（完成 92.31%），"
        "得分 = 20 × 1200 ÷ 1300 = 18.46），请核实",
        "第6行「法律服务网络覆盖」：自评得分 15.00 与按评分规则计算的 13.50 不同（≤5个空白村，实际 5.5个空白村：未达成（超出指标值 10.00%），"
        "得分 = 15 × (1 − (5.5 − 5) ÷ 5) = 13.50），请核实",
    ]
    # Published as the unit gave them.
    doc = document(view)
    assert [(i["score"], i["suggested_score"], i["score_entered"]) for i in doc["indicators"]][1] == ("20.00", "18.46", "20.00")
    assert doc["template"] == {"code": "provincial-project", "name": builtin_templates.PROVINCIAL_PROJECT.name, "version": 1}
    assert doc["header"]["extra"] == {"report_number": "XM-2023-018", "finance_leader": "王芳"}
    assert [b["body"] for b in doc["blocks"]][0] == "项目总体完成较好，自评得分99.48分，等级为优。"


# --- The unit's score, totals only when complete -------------------------------------------


def test_a_full_mark_on_a_partly_achieved_row_is_stored_published_and_flagged(client, alice, reviewer, unit_a, round_2020):
    a = create_assessment(unit=unit_a, round=round_2020, layout="department", user=alice)
    client.force_login(alice)
    data = form_data(client.get(edit_url(a)))
    data["funding-0-budget"], data["funding-0-actual"] = "100", "100"
    from assessments.tests.helpers import set_indicators

    set_indicators(data, [
        ("产出指标", "数量指标", "培训人次", "≥4754人", "4604人", "50", "部分培训改为线上"),
        ("效益指标", "社会效益指标", "社会秩序", "有所帮助", "有所帮助", "30"),
        ("满意度指标", "服务对象满意度指标", "满意度", "≥95%", "96%", "10"),
    ])
    data["indicators-0-score"] = "50"  # the unit gives full marks; the rule says 48.42
    response = client.post(edit_url(a), data)
    assert response.status_code == 302
    row = Indicator.objects.get(assessment=a, name="培训人次")
    assert row.score == D("50.00")
    view = readmodel.load(a.pk)
    line = view.indicators[0]
    assert (line.score, line.suggested, line.result.differs) == (D("50.00"), D("48.42"), True)
    assert view.total == D("100.00")
    a.refresh_from_db()
    assert (a.self_total, a.self_grade) == (D("100.00"), "优")
    assert a.risk_flags == ",all_full,score_differs,report_empty,"
    page = client.get(reverse("assessments:detail", args=[a.pk])).content.decode()
    assert "第1行「培训人次」：自评得分 50.00 与按评分规则计算的 48.42 不同" in page
    assert "自评得分 50.00，按规则计算 48.42" in page


def test_totals_and_grade_only_when_every_row_is_scored(client, alice, unit_a, round_2020):
    a = create_assessment(unit=unit_a, round=round_2020, layout="department", user=alice)
    client.force_login(alice)
    data = form_data(client.get(edit_url(a)))
    data["funding-0-budget"], data["funding-0-actual"] = "100", "90"
    from assessments.tests.helpers import set_indicators

    set_indicators(data, [
        ("产出指标", "数量指标", "甲", "≥10次", "10次", "50"),
        ("效益指标", "社会效益指标", "乙", "≥10次", "", "30"),
        ("满意度指标", "服务对象满意度指标", "丙", "≥95%", "", "10"),
    ])
    assert client.post(edit_url(a), data).status_code == 302
    a.refresh_from_db()
    assert (a.self_total, a.self_grade) == (None, "")
    view = readmodel.load(a.pk)
    assert (view.total, view.grade, view.result.unscored, view.result.status) == (None, None, 2, "尚有 2 行未计分")
    page = client.get(edit_url(a)).content.decode()
    assert "尚有 2 行未计分，总分和等级待全部计分后显示" in page


def test_reason_policy_block_or_warn():
    rows = [scoring.IndicatorInput("产出指标", "数量指标", "甲", "≥10次", "8次", D("50"))]
    blocked = scoring.assess(scoring.FundingInput(budget=D("100"), actual=D("100")), rows)
    warned = scoring.assess(scoring.FundingInput(budget=D("100"), actual=D("100")), rows, table=scoring.TableRules(reasons_block=False))
    message = "第1行「甲」：未达成指标值（≥10次，实际 8次），请填写偏差原因分析及改进措施"
    assert message in [p.message for p in blocked.problems]
    assert message not in [p.message for p in warned.problems]
    assert message in [w.message for w in warned.warnings]


def test_amounts_keep_four_decimals_and_show_as_typed(client, alice, unit_a, round_2020):
    a = create_assessment(unit=unit_a, round=round_2020, layout="national", project_name="项目", user=alice)
    client.force_login(alice)
    data = form_data(client.get(edit_url(a)))
    data["funding-0-initial_budget"], data["funding-0-budget"], data["funding-0-actual"] = "12.345", "12.3456", "12"
    data["funding-1-actual"], data["funding-3-actual"] = "10", "1.5"
    assert client.post(edit_url(a), data).status_code == 302
    row = FundingRow.objects.get(assessment=a, source="total")
    assert (row.initial_budget, row.budget, row.actual) == (D("12.3450"), D("12.3456"), D("12.0000"))
    # The form shows them back as typed, not with the column's four places.
    shown = form_data(client.get(edit_url(a)))
    assert (shown["funding-0-initial_budget"], shown["funding-0-budget"], shown["funding-0-actual"]) == ("12.345", "12.3456", "12.00")
    view = readmodel.load(a.pk)
    assert document(view)["funding"][0]["initial_budget"] == "12.345"
    assert document(view)["funding"][0]["budget"] == "12.3456"
    assert document(view)["funding"][0]["actual"] == "12.00"
    # The parts do not add up: a warning naming the rows.
    assert "项目资金：年度资金总额的全年执行数（B） 12.00 不等于 其中：本年财政拨款 10.00 + 上年结转资金 0.00 + 其他资金 1.50 = 11.50，请核对" in [
        w.message for w in view.result.warnings
    ]
    wb = openpyxl.load_workbook(io.BytesIO(workbook_of(a.pk)))
    cells = {c.value: c.number_format for row in wb["自评表"].iter_rows() for c in row if isinstance(c.value, (int, float))}
    assert cells[12.3456] == "0.0000" and cells[12.345] == "0.000"
    data["funding-0-budget"] = "12.34567"
    response = client.post(edit_url(a), data)
    assert response.status_code == 400
    assert "项目资金年度资金总额「全年预算数（A）」：金额最多保留四位小数（万元，精确到元）。" in response.context["errors"]


def test_level2_outside_the_suggestions_is_kept_with_a_warning(client, alice, unit_a, round_2020):
    a = create_assessment(unit=unit_a, round=round_2020, layout="department", user=alice)
    client.force_login(alice)
    data = form_data(client.get(edit_url(a)))
    from assessments.tests.helpers import set_indicators

    set_indicators(data, [("产出指标", "服务指标", "甲", "≥10次", "10次", "")])
    assert client.post(edit_url(a), data).status_code == 302
    assert Indicator.objects.get(assessment=a).level2 == "服务指标"
    assert [w.message for w in readmodel.load(a.pk).result.warnings] == [
        "第1行「甲」：二级指标“服务指标”不在本表样对“产出指标”的建议中（数量指标、质量指标、时效指标、成本指标），已按原文保留"
    ]


# --- Versions ---------------------------------------------------------------------------------


def test_a_new_version_never_changes_what_was_made_with_an_earlier_one(admin_user, alice, unit_a, round_2020):
    template = table_templates.clone(TableTemplate.objects.get(code="department"), code="dept-copy", name="部门表（复制）", user=admin_user)
    first = template.latest()
    a = create_assessment(unit=unit_a, round=round_2020, template=template, user=alice)
    before = xlsx.to_bytes(public.PublicReport(readmodel.load(a.pk), [], None, None, None))
    spec = first.table
    spec = spec.evolve(indicator_columns=tuple(c if c.key != "reason" else c.__class__("reason", "偏差原因及整改") for c in spec.indicator_columns))
    second = table_templates.save_version(template, spec, user=admin_user, note="改列名")
    assert (first.number, second.number) == (1, 2)
    a.refresh_from_db()
    assert a.template_version_id == first.pk
    after = xlsx.to_bytes(public.PublicReport(readmodel.load(a.pk), [], None, None, None))
    assert after == before
    b = create_assessment(unit=unit_a, round=round_2020.__class__.objects.create(year=2021, title="2021"), template=template, user=alice)
    assert b.template_version_id == second.pk
    assert [c.label for c in readmodel.load(b.pk).table.indicator_columns][-1] == "偏差原因及整改"
    assert TemplateVersion.objects.filter(template=template).count() == 2


def test_builtin_templates_cannot_be_edited_in_place(admin_user):
    builtin = TableTemplate.objects.get(code="project")
    with pytest.raises(table_templates.TemplateRefused, match="内置表样不可修改，请先复制。"):
        table_templates.save_version(builtin, builtin.latest().table, user=admin_user)



def test_the_template_version_page_shows_the_entry_form_not_its_source(client, system_admin, unit_a):
    """The 表样 preview renders the entry tables (Jinja2, ADR 0023) into a Django page: as HTML,
    not escaped text."""
    from assessments.models import TableTemplate

    client.force_login(system_admin)
    department = TableTemplate.objects.get(code="department")
    html = client.get(reverse("assessments:template_version", args=[department.pk, 1])).content.decode()
    assert '<table class="table table-bordered entry-table mb-2 formset" data-prefix="indicators"' in html
    assert "&lt;table" not in html


@pytest.mark.parametrize("layout", [spec.code for spec in builtin_templates.BUILTIN])
def test_a_goal_whose_text_reads_like_a_label_comes_back_from_the_portals_xlsx(alice, unit_a, round_2020, layout):
    """Found by test_template_property: a goal whose 目标 was "完成情况" (the next column's label)
    was read as a label written down the sheet, and the goal lost its target."""
    a = create_assessment(unit=unit_a, round=round_2020, layout=layout, project_name="标签样的目标", user=alice)
    Goal.objects.create(assessment=a, position=1, target="完成情况", achieved="”")
    Goal.objects.create(assessment=a, position=2, target="平安建设", achieved="完成情况良好")
    parsed = parser.parse_workbook(workbook_of(a.pk), list(builtin_templates.BUILTIN))
    assert parsed.layout == layout
    assert parsed.goals == [{"target": "完成情况", "achieved": "”"}, {"target": "平安建设", "achieved": "完成情况良好"}]
