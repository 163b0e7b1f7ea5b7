"""从Excel导入: round trip over the demo, hand-made workbooks of the three layouts, bad files,
the preview/confirm flow and who may use it."""

import copy
import io
import os
import re
import zipfile

import openpyxl
import pytest
from django.core.management import call_command
from django.urls import reverse

from assessments import builtin_templates, demo, readmodel, scoring
from assessments.exports import public, xlsx
from assessments.importing import parser, safety
from assessments.models import Assessment, Indicator, Round
from assessments.tests.conftest import make_officer
from assessments.tests.test_templates import same_record
from assessments.views import imports

NANYUE = "中共衡阳市南岳区委政法委员会"


@pytest.fixture
def seeded(db):
    call_command("seed_demo", force=True, stdout=io.StringIO())


# --- Helpers --------------------------------------------------------------------------------


def to_bytes(wb: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def internal_export(pk: int) -> bytes:
    """The portal's xlsx of an assessment, built by exports/xlsx.py from the unmasked read model
    (the public file masks the phone number and hides 涉密 project rows; see test below)."""
    view = readmodel.load(pk)
    report = public.PublicReport(
        view=view, lines=[public.PublicLine(line, None) for line in view.indicators],
        review_total=None, review_grade=None, published_at=None,
    )
    return xlsx.to_bytes(report)


def comparable(data: dict) -> dict:
    """The read model minus what an import cannot and should not carry over: the database id and
    the row identities (a new draft gets new ones), and funding columns the layout does not show
    (seed 002 stores a 年初预算 379.04 on a department table, whose form and export have no such
    column). An empty report section and one reading "无" are the same on the form and in the
    export (both print "无"), so "无" counts as empty."""
    data = same_record(copy.deepcopy(data))
    columns = set(builtin_templates.BY_CODE[data["layout"]].funding_keys)
    for row in data["funding"]:
        for name in ("initial_budget", "budget"):
            if name not in columns:
                row[name] = None
    for section in data["report"]:
        if section["body"].strip() == "无":
            section["body"] = ""
    return data


def upload(client, data: bytes, name="自评表.xlsx", url=None, **fields):
    f = io.BytesIO(data)
    f.name = name
    return client.post(url or reverse("assessments:import"), {"file": f, **fields})


def import_via_views(client, data: bytes, **fields):
    """Upload, open the preview, confirm; returns (preview response, confirm response)."""
    response = upload(client, data, **fields)
    assert response.status_code == 302, _form_errors(response)
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert preview.context["errors"] == [], preview.context["errors"]
    confirm = client.post(reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]}))
    assert confirm.status_code == 302, confirm.context and confirm.context.get("errors")
    return preview, confirm


def _form_errors(response):
    return response.context["form"].errors if response.context and "form" in response.context else response.status_code


def counts():
    return Assessment.objects.count(), Indicator.objects.count()


def new_pk(confirm) -> int:
    return int(re.search(r"/assessments/(\d+)/edit/", confirm["Location"]).group(1))


# --- Round trip -----------------------------------------------------------------------------


def test_round_trip_every_demo_assessment(seeded, client):
    """Export each demo assessment, delete it, import the file as its officer: the same assessment."""
    officers = {spec["unit"]: spec["username"] for spec in demo.USERS if spec["role"] == "officer"}
    checked = []
    for pk in list(Assessment.objects.order_by("id").values_list("pk", flat=True)):
        data = internal_export(pk)
        before = comparable(readmodel.load(pk).to_dict())
        a = Assessment.objects.select_related("unit").get(pk=pk)
        client.force_login(a.unit.memberships.get(user__username=officers[a.unit.name]).user)
        a.delete()

        preview, confirm = import_via_views(client, data)

        assert preview.context["unmapped"] == [], (pk, preview.context["unmapped"])
        after = comparable(readmodel.load(new_pk(confirm)).to_dict())
        assert after == before, pk
        checked.append((before["layout"], before["title"]))
    assert len(checked) == len(demo.ASSESSMENTS) == 7
    assert ("department", "2020年度部门整体支出绩效自评") in checked
    assert ("project", "2022年度综治、平安建设经费绩效自评") in checked


def test_public_export_imports_without_the_masked_phone(seeded):
    a = Assessment.objects.get(project_name="综治、平安建设经费")
    parsed = parser.parse_workbook(xlsx.to_bytes(public.load_public(a.pk)))
    assert parsed.header["project_leader"] == "刘雄"
    assert parsed.header["leader_phone"] == ""
    assert parsed.notes == ["自评表!F2：电话号码已打码（公开版文件），未导入，请在表单中填写"]
    assert parsed.from_portal is True
    assert (parsed.layout, parsed.year) == ("project", 2022)


def test_public_export_of_a_department_marks_the_confidential_project(seeded):
    a = Assessment.objects.get(unit__name="中共株洲市芦淞区委政法委员会", kind="department")
    parsed = parser.parse_workbook(xlsx.to_bytes(public.build_public(readmodel.with_content(Assessment.objects).get(pk=a.pk))))
    assert parsed.expenses[-1] == {
        "name": "项目为涉密项目，不作公开评价", "budget": None, "actual": None, "note": "", "confidential": True,
    }


# --- Hand-made workbooks: seed 001 (项目支出) -------------------------------------------------


def seed_001_workbook() -> openpyxl.Workbook:
    """Seed 001's first table as a unit keeps it, with the awkward parts real files have."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.merge_cells("A1:G1")
    ws["A1"] = "2022年度综治、平安建设经费绩效自评表"
    ws["A2"], ws["D2"] = "项目名称", "项目负责人及电话"
    ws.merge_cells("B2:C2")
    ws["B2"] = "综治、平安建设经费"
    ws.merge_cells("E2:G2")
    ws["E2"] = "刘雄\n13875709408"
    ws["A3"], ws["B3"], ws["D3"], ws["E3"] = "主管部门", "—", "实施单位", "中共南岳区委政法委员会"
    ws.merge_cells("A4:A7")
    ws["A4"] = "资金情况（万元）"
    ws["C4"], ws["D4"], ws["E4"] = "年初预算资金总额：", "实际投入资金额", "产生差异的原因"
    ws["B5"], ws["C5"], ws["D5"], ws["E5"] = "合计", "３６万元", 30.64, "单位用其它资金弥补该项经费支出"
    ws["B6"], ws["C6"], ws["D6"], ws["E6"] = "其中：财政拨款", 36, "9.80", "本年财政实拨支出金额"
    ws["B7"], ws["C7"], ws["D7"], ws["E7"] = "其他资金", "—", "10万元", "/"
    ws.merge_cells("A8:A9")
    ws["A8"] = "总体目标"
    ws.merge_cells("B8:D8")
    ws.merge_cells("E8:G8")
    ws["B8"], ws["E8"] = "年度目标", "年度总体目标完成情况"
    ws.merge_cells("B9:D9")
    ws.merge_cells("E9:G9")
    ws["B9"] = "深化平安建设，维护国家安全和社会大局稳定；\n聚焦平安南岳建设，着力提升人民群众安全感。"
    ws["E9"] = "深化平安建设，维护国家安全和社会大局稳定；聚焦平安南岳建设，着力提升人民群众安全感。"
    header = ["一级指标", "二级指标", "三级指标", "指标值", "全年实际完成值", "产生差异的原因及改进措施"]
    ws["A10"] = "绩效指标"
    for col, label in enumerate(header, start=2):
        ws.cell(10, col, label)
    # Page 1: 产出指标 merged over its two rows, 数量指标 too; a blank row before the page break.
    ws.merge_cells("B11:B12")
    ws.merge_cells("C11:C12")
    ws["B11"], ws["C11"] = "产出指标", "数量指标"
    ws["D11"], ws["E11"], ws["F11"] = "公众安全感民意调查", ">=10次", "10次"
    ws["D12"], ws["E12"], ws["F12"] = "“平安县市区”工作考评", "＞＝１０次", "１０次"
    # Page 2: the header row printed again, 产出指标 merged again over the rest of its rows.
    for col, label in enumerate(header, start=2):
        ws.cell(14, col, label)
    ws.merge_cells("B15:B17")
    ws["B15"] = "产出指标"
    ws["C15"], ws["D15"], ws["E15"], ws["F15"] = "质量指标", "综治考评合格率", "=100%", "=100%"
    ws["C16"], ws["D16"], ws["E16"], ws["F16"] = "时效指标", "考评完成及时率", "=100%", "=100%"
    ws["C17"], ws["D17"], ws["E17"], ws["F17"] = "成本指标", "综治平安经费", "=36万元", "=30.64万元"
    ws["G17"] = "本年减少了对各乡镇、社区的维稳、综治等工作的补助经费支出"
    for cell in ("E15", "F15", "E16", "F16", "E17", "F17"):
        ws[cell].data_type = "s"  # text that starts with "=", as units type it
    ws.merge_cells("B18:B19")
    ws.merge_cells("C18:C19")
    ws["B18"], ws["C18"] = "效益\n指标", "社会效益"
    ws["D18"], ws["E18"], ws["F18"], ws["G18"] = "有助于维护社会秩序", "有所帮助", "有所帮助", "—"
    ws["D19"], ws["E19"], ws["F19"] = "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升"
    ws["B20"], ws["C20"], ws["D20"], ws["E20"], ws["F20"] = "满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%"
    for cell in ("F20",):
        ws[cell].data_type = "s"
    ws["B21"] = "合计"
    ws.merge_cells("A23:G23")
    ws["A23"] = "注：本表金额单位为万元。"
    ws["A24"] = "填表人：刘雄"
    return wb


def test_seed_001_workbook_is_understood_cell_by_cell():
    parsed = parser.parse_workbook(to_bytes(seed_001_workbook()))
    assert (parsed.kind, parsed.layout, parsed.year) == ("project", "project", 2022)
    assert parsed.header == {
        "project_name": "综治、平安建设经费", "project_leader": "刘雄", "leader_phone": "13875709408",
        "supervisor_name": "", "implementer": "中共南岳区委政法委员会",
    }
    # Amounts as written in the cells (36, 9.80), 得分 only on the row that carries 分值.
    assert parsed.funding == {
        "total": {"initial_budget": "36", "budget": None, "actual": "30.64", "reason": "单位用其它资金弥补该项经费支出",
                  "score": None, "extra": {}},
        "fiscal": {"initial_budget": "36", "budget": None, "actual": "9.80", "reason": "本年财政实拨支出金额", "score": None, "extra": {}},
        "other": {"initial_budget": None, "budget": None, "actual": "10", "reason": "", "score": None, "extra": {}},
    }
    assert parsed.goals == [{
        "target": "深化平安建设，维护国家安全和社会大局稳定；\n聚焦平安南岳建设，着力提升人民群众安全感。",
        "achieved": "深化平安建设，维护国家安全和社会大局稳定；聚焦平安南岳建设，着力提升人民群众安全感。",
    }]
    rows = [(i["level1"], i["level2"], i["name"], i["target"], i["actual"], i["reason"]) for i in parsed.indicators]
    assert rows == [
        ("产出指标", "数量指标", "公众安全感民意调查", ">=10次", "10次", ""),
        ("产出指标", "数量指标", "“平安县市区”工作考评", "＞＝１０次", "１０次", ""),
        ("产出指标", "质量指标", "综治考评合格率", "=100%", "=100%", ""),
        ("产出指标", "时效指标", "考评完成及时率", "=100%", "=100%", ""),
        ("产出指标", "成本指标", "综治平安经费", "=36万元", "=30.64万元", "本年减少了对各乡镇、社区的维稳、综治等工作的补助经费支出"),
        ("效益指标", "社会效益指标", "有助于维护社会秩序", "有所帮助", "有所帮助", ""),
        ("效益指标", "社会效益指标", "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升", ""),
        ("满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%", ""),
    ]
    # Operators as written still parse as the scoring module reads them.
    assert scoring.parse_value(">=10次").canonical == scoring.parse_value("＞＝１０次").canonical == "≥10次"
    assert [(u.sheet, u.cell, u.value, u.reason) for u in parsed.unmapped] == [
        ("Sheet1", "A23", "注：本表金额单位为万元。", parser.NOTE_OUTSIDE),
        ("Sheet1", "A24", "填表人：刘雄", parser.NOTE_OUTSIDE),
    ]
    # Nothing changed without a note: the 二级 written "社会效益" is recorded as the template writes it.
    assert parsed.notes == ["Sheet1!C18：二级指标“社会效益”按本表样的写法记为“社会效益指标”"]


def test_seed_001_workbook_becomes_a_draft_with_exact_values(db, client, alice, unit_a):
    Round.objects.create(year=2022, title="2022年度绩效自评")
    client.force_login(alice)
    preview, confirm = import_via_views(client, to_bytes(seed_001_workbook()))
    assert preview.context["layout_label"] == "项目支出绩效自评表（年初预算 / 实际投入）"
    data = readmodel.load(new_pk(confirm)).to_dict()
    assert data["title"] == "2022年度综治、平安建设经费绩效自评"
    assert data["header"]["leader_phone"] == "13875709408"
    assert data["funding"][0] == {
        "source": "total", "label": "合计", "initial_budget": "36.00", "budget": None, "actual": "30.64", "rate": "85.11",
        "weight": None, "score": None, "suggested_score": None, "score_entered": None,
        "reason": "单位用其它资金弥补该项经费支出", "extra": {},
    }
    assert [(i["name"], i["outcome"]) for i in data["indicators"]][:2] == [
        ("公众安全感民意调查", "achieved"), ("“平安县市区”工作考评", "achieved"),
    ]
    assert data["indicators"][4]["outcome"] == "partial"  # =30.64万元 of =36万元
    assert Assessment.objects.get(pk=new_pk(confirm)).state == "draft"


# --- Hand-made workbooks: seed 004 (部门整体支出) ----------------------------------------------


def seed_004_workbook() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "部门整体"
    ws.merge_cells("A1:I1")
    ws["A1"] = " 2020年度部门整体支出绩效自评表"
    ws["A2"] = "部门职责"
    ws.merge_cells("B2:I2")
    ws["B2"] = "贯彻落实中央和省、市委关于政法工作的路线、方针、政策。\n\n组织、协调、指导维护全区社会稳定工作。"
    ws["A3"], ws["D3"], ws["E3"] = "人员编制", "实有人数", "２１"
    ws.merge_cells("A4:A12")
    ws["A4"] = "整体资金\n\n（万元）"
    ws.merge_cells("B4:C4")
    ws["B4"] = "　项   目"
    for col, label in zip("DEFGH", ["全年预算数", "全年执行数", "执行率", "分值", "得分"], strict=True):
        ws[f"{col}4"] = label
    ws.merge_cells("B5:B7")
    ws["B5"] = "资金\n\n来源"
    ws["C5"], ws["D5"], ws["E5"], ws["F5"], ws["G5"], ws["H5"] = "合计", "10949.23　", "10584.29　", "96.67%", 10, 9.67
    ws["C6"], ws["D6"], ws["E6"], ws["G6"], ws["H6"] = "（1）财政拨款", 10949.23, 10584.29, "－", "－"
    ws["C7"], ws["D7"], ws["E7"], ws["G7"], ws["H7"] = "（2）其他资金", "0.00", "0.00", "－", "－"
    ws.merge_cells("B8:B12")
    ws["B8"] = "资金\n\n结构"
    ws["C8"], ws["D8"], ws["E8"] = "合计", "　", "10584.29　"
    ws["C9"], ws["E9"] = "（1）基本支出", 1379.15
    ws["C10"], ws["E10"] = "其中：人员支出", 1210.08
    ws["C11"], ws["E11"] = "     公用支出", "169.07万元"
    ws["C12"], ws["E12"] = "（2）项目支出", 9205.14
    ws.merge_cells("A13:A14")
    ws["A13"] = "年度总\n\n体目标"
    ws.merge_cells("B13:E13")
    ws.merge_cells("F13:I13")
    ws["B13"], ws["F13"] = "年初设定目标", "全年完成情况"
    ws.merge_cells("B14:E14")
    ws.merge_cells("F14:I14")
    ws["B14"], ws["F14"] = "全力维护社会大局稳定。", "各项工作取得了新成效。"
    ws.merge_cells("A15:A22")
    ws["A15"] = "绩\n效\n 标"
    header = ["一级指标", "二级指标", "三级指标", "年度\n\n指标值", "实际\n\n完成值", "分值", "得分", "偏差原因分析及改进措施"]
    for col, label in enumerate(header, start=2):
        ws.cell(15, col, label)
    ws.merge_cells("B16:B18")
    ws["B16"] = "产出指标"
    ws.merge_cells("C16:C17")
    ws["C16"] = "数量指标"
    ws["D16"], ws["E16"], ws["F16"], ws["G16"], ws["H16"] = "指标1：风险评估项目数量", "全部组织实施风险评估", "19个项目全部组织实施风险评估", 5, 5
    ws["D17"], ws["E17"], ws["F17"], ws["G17"], ws["H17"] = "指标2：参与疫情防控人员", "全力开展疫情防控", "派出37名政法单位班子成员", 5, 3.5
    ws["I17"] = "部分人员未能按时到岗"
    ws["C18"], ws["D18"], ws["E18"], ws["F18"], ws["G18"], ws["H18"] = "成本指标", "指标2：专项资金使用", "100%", "100%", 5, 5
    ws["B19"], ws["C19"], ws["D19"], ws["E19"], ws["F19"], ws["G19"], ws["H19"] = (
        "效益指标", "社会效益\n指标", "指标1：维护社会治安稳定", "防控社会稳定风险", "稳控重点人员426人", 10, 10)
    ws["B20"], ws["C20"], ws["D20"], ws["E20"], ws["F20"], ws["G20"], ws["H20"] = (
        "满意度\n指标", "服务对象满意度指标", "指标1：群众满意度", "满意", "满意", 10, 10)
    ws.merge_cells("B21:F21")
    ws["B21"], ws["G21"], ws["H21"] = "总分", 35, 34
    ws.merge_cells("A24:I24")
    ws["A24"] = "备注：得分按财预〔2020〕10号计算。"
    return wb


def test_seed_004_workbook_is_understood():
    parsed = parser.parse_workbook(to_bytes(seed_004_workbook()))
    assert (parsed.kind, parsed.layout, parsed.year) == ("department", "department", 2020)
    assert parsed.header == {
        "duties": "贯彻落实中央和省、市委关于政法工作的路线、方针、政策。\n\n组织、协调、指导维护全区社会稳定工作。",
        "staff_quota": None, "staff_actual": 21,
    }
    assert parsed.funding == {
        "total": {"initial_budget": None, "budget": "10949.23", "actual": "10584.29", "reason": "", "score": "9.67", "extra": {}},
        "fiscal": {"initial_budget": None, "budget": "10949.23", "actual": "10584.29", "reason": "", "score": None, "extra": {}},
        "other": {"initial_budget": None, "budget": "0.00", "actual": "0.00", "reason": "", "score": None, "extra": {}},
    }
    assert parsed.structure == {
        "basic": {"budget": None, "actual": "1379.15"},
        "personnel": {"budget": None, "actual": "1210.08"},
        "operating": {"budget": None, "actual": "169.07"},
        "project": {"budget": None, "actual": "9205.14"},
    }
    assert parsed.goals == [{"target": "全力维护社会大局稳定。", "achieved": "各项工作取得了新成效。"}]
    assert [(i["level1"], i["level2"], i["weight"], i["score"]) for i in parsed.indicators] == [
        ("产出指标", "数量指标", "5.00", "5.00"),
        ("产出指标", "数量指标", "5.00", "3.50"),
        ("产出指标", "成本指标", "5.00", "5.00"),
        ("效益指标", "社会效益指标", "10.00", "10.00"),
        ("满意度指标", "服务对象满意度指标", "10.00", "10.00"),
    ]
    assert [(u.cell, u.reason) for u in parsed.unmapped] == [("A24", parser.NOTE_OUTSIDE)]


def test_seed_004_workbook_scores_as_the_sheet_says(db, client, alice, unit_a, round_2020):
    client.force_login(alice)
    preview, confirm = import_via_views(client, to_bytes(seed_004_workbook()))
    data = readmodel.load(new_pk(confirm)).to_dict()
    assert data["funding"][0]["rate"] == "96.67"
    assert data["funding"][0]["score"] == "9.67"
    assert data["header"]["staff_actual"] == 21
    # 得分 3.5 of 5 on a text row: 部分达成 (the 60–80% band), score 3.50, as the sheet says.
    assert [(i["outcome"], i["score"]) for i in data["indicators"]] == [
        ("achieved", "5.00"), ("partial", "3.50"), ("achieved", "5.00"), ("achieved", "10.00"), ("achieved", "10.00"),
    ]
    assert [s["item"] for s in data["structure"]] == ["basic", "personnel", "operating", "project"]
    assert data["structure"][2]["actual"] == "169.07"


# --- Hand-made workbooks: the national template ----------------------------------------------


def national_workbook(*, h19=None) -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "附件"
    ws.merge_cells("A1:J1")
    ws["A1"] = "项目支出绩效自评表"
    ws.merge_cells("A2:J2")
    ws["A2"] = "（2024年度）"
    ws["A3"] = "项目名称"
    ws.merge_cells("B3:J3")
    ws["B3"] = "雪亮工程建设专项"
    ws["A4"], ws["F4"] = "主管部门", "实施单位"
    ws.merge_cells("B4:E4")
    ws.merge_cells("G4:J4")
    ws["B4"], ws["G4"] = "中共株洲市芦淞区委政法委员会", "芦淞区委政法委"
    ws.merge_cells("A5:A9")
    ws["A5"] = "项目资金\n（万元）"
    for col, label in zip("DEFGHI", ["年初预算数", "全年预算数（A）", "全年执行数（B）", "分值", "执行率（B/A）", "得分"], strict=True):
        ws[f"{col}5"] = label
    rows = [
        ("年度资金总额", 67, "67.00万元", 56.18, 10, "83.85%", 8.39),
        ("其中：本年财政拨款", 67, 67, 56.18, "—", "—", "—"),
        ("上年结转资金", "/", "/", "/", "—", "—", "—"),
        ("其他资金", 0, 0, 0, "—", "—", "—"),
    ]
    for r, values in enumerate(rows, start=6):
        ws.merge_cells(f"B{r}:C{r}")
        ws[f"B{r}"] = values[0]
        for col, value in zip("DEFGHI", values[1:], strict=True):
            ws[f"{col}{r}"] = value
    ws.merge_cells("A10:A11")
    ws["A10"] = "年度总体目标"
    ws.merge_cells("B10:F10")
    ws.merge_cells("G10:J10")
    ws["B10"], ws["G10"] = "预期目标", "实际完成情况"
    ws.merge_cells("B11:F11")
    ws.merge_cells("G11:J11")
    ws["B11"], ws["G11"] = "新建监控点位120个，提升群众安全感。", "新建监控点位126个。"
    ws.merge_cells("A12:A19")
    ws["A12"] = "绩效指标"
    for col, label in zip("BCDEFGH", ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"], strict=True):
        ws[f"{col}12"] = label
    ws.merge_cells("I12:J12")
    ws["I12"] = "偏差原因分析及改进措施"
    ws.merge_cells("B13:B15")
    ws["B13"] = "产出指标（50分）"
    data = [
        (13, "数量指标", "新建监控点位", "≥120个", "126个", 20, 20, ""),
        (14, "质量指标", "验收合格率", "=100%", "100%", 15, 15, ""),
        (15, "时效指标", "按期完工率", ">=90%", "85%", 15, 14.17, "部分点位因征地延迟"),
        (16, "社会效益指标", "群众安全感", "明显提升", "有所提升", 15, 10, "宣传不足"),
        (17, "可持续影响指标", "长效运维机制", "建立", "已建立", 15, 15, ""),
        (18, "服务对象满意度指标", "群众满意度", "≥90%", "93%", 10, 10, ""),
    ]
    for r, level2, name, target, actual, weight, score, reason in data:
        ws[f"C{r}"], ws[f"D{r}"], ws[f"E{r}"], ws[f"F{r}"], ws[f"G{r}"], ws[f"H{r}"] = level2, name, target, actual, weight, score
        ws.merge_cells(f"I{r}:J{r}")
        ws[f"I{r}"] = reason or None
    ws["E14"].data_type = "s"
    ws.merge_cells("B16:B17")
    ws["B16"] = "效益指标（30分）"
    ws["B18"] = "满意度指标（10分）"
    ws.merge_cells("B19:F19")
    ws["B19"], ws["G19"] = "总分", 100
    ws["H19"] = h19 if h19 is not None else 92.17
    ws["A21"] = "说明：执行率=全年执行数/全年预算数。"
    return wb


def test_national_workbook_is_understood(db, client, alice, unit_a):
    Round.objects.create(year=2024, title="2024年度绩效自评")
    parsed = parser.parse_workbook(to_bytes(national_workbook()))
    assert (parsed.kind, parsed.layout, parsed.year) == ("project", "national", 2024)
    assert parsed.level1_weights == {"产出指标": "50.00", "效益指标": "30.00", "满意度指标": "10.00"}
    assert parsed.funding["total"] == {
        "initial_budget": "67", "budget": "67.00", "actual": "56.18", "reason": "", "score": "8.39", "extra": {},
    }
    assert parsed.funding["carryover"] == {
        "initial_budget": None, "budget": None, "actual": None, "reason": "", "score": None, "extra": {},
    }
    assert [i["level1"] for i in parsed.indicators] == ["产出指标"] * 3 + ["效益指标"] * 2 + ["满意度指标"]
    assert [(u.cell, u.reason) for u in parsed.unmapped] == [("A21", parser.NOTE_OUTSIDE)]

    client.force_login(alice)
    preview, confirm = import_via_views(client, to_bytes(national_workbook()))
    assert preview.context["layout_label"] == "项目支出绩效自评表（财预〔2020〕10号 全国模板）"
    assert preview.context["notes"] == [
        "表头写明“产出指标（50分）”，与其下各行分值一致。",
        "表头写明“效益指标（30分）”，与其下各行分值一致。",
        "表头写明“满意度指标（10分）”，与其下各行分值一致。",
    ]
    data = readmodel.load(new_pk(confirm)).to_dict()
    assert data["layout"] == "national"
    assert data["funding"][0]["rate"] == "83.85"
    assert [(i["outcome"], i["score"]) for i in data["indicators"]] == [
        ("achieved", "20.00"), ("achieved", "15.00"), ("partial", "14.17"),
        ("partial", "10.00"), ("achieved", "15.00"), ("achieved", "10.00"),
    ]
    assert data["total_score"] == scoring.fmt(sum(
        scoring.quantize(scoring.Decimal(x)) for x in ("8.39", "20", "15", "14.17", "10", "15", "10")
    ))


# --- Formulas -------------------------------------------------------------------------------


def with_cached_value(data: bytes, cell: str, value: str) -> bytes:
    """openpyxl writes formulas without a result; add the cached value Excel would have saved."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                text, n = re.subn(rf'(<c r="{cell}"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?', rf"\g<1>\g<2><v>{value}</v>", text)
                assert n == 1
                content = text.encode()
            target.writestr(info, content)
    return out.getvalue()


def test_formula_with_cached_value_is_read_and_without_is_reported():
    wb = national_workbook(h19="=SUM(H13:H18)")
    ws = wb.active
    ws["F6"] = "=56+0.18"
    ws["F7"] = "=F6"
    data = with_cached_value(to_bytes(wb), "F6", "56.18")
    parsed = parser.parse_workbook(data)
    assert parsed.funding["total"]["actual"] == "56.18"
    assert parsed.funding["fiscal"]["actual"] is None
    assert [(u.cell, u.reason) for u in parsed.unmapped] == [
        ("F7", parser.FORMULA_MISSING),
        ("H19", parser.FORMULA_MISSING),
        ("A21", parser.NOTE_OUTSIDE),
    ]


# --- Bad files ------------------------------------------------------------------------------


def zip_of(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return out.getvalue()


XLSX_TYPES = b'<Types><Override ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'


def no_table_workbook() -> bytes:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "会议纪要"
    wb.active["B3"] = 12
    return to_bytes(wb)


BAD_FILES = [
    ("not-xlsx", lambda: b"hello, this is text", safety.NOT_ZIP),
    ("xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, safety.OLE_FILE),
    ("docx", lambda: zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}), safety.WORD_FILE),
    ("zip-not-workbook", lambda: zip_of({"readme.txt": b"hi"}), safety.NOT_WORKBOOK_ZIP),
    ("too-large", lambda: b"PK" + b"\0" * (10 * 1024 * 1024), safety.TOO_LARGE),
    ("bomb-size", lambda: zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<workbook/>",
                                  "xl/worksheets/sheet1.xml": b"\0" * (51 * 1024 * 1024)}), safety.TOO_BIG_UNCOMPRESSED),
    ("bomb-ratio", lambda: zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<workbook/>",
                                   "xl/worksheets/sheet1.xml": b"\0" * (5 * 1024 * 1024)}), safety.BAD_RATIO),
    ("huge-sheet", lambda: zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<workbook/>",
                                   "xl/worksheets/sheet1.xml": os.urandom(5 * 1024 * 1024 + 1)}), safety.SHEET_TOO_BIG),
    ("bomb-entries", lambda: zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<workbook/>",
                                     **{f"xl/media/{n}.bin": b"x" for n in range(1000)}}), safety.TOO_MANY_ENTRIES),
    ("corrupt-workbook", lambda: zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<not-closed"}), safety.CORRUPT),
    ("no-table", no_table_workbook, parser.NO_TABLE),
    ("empty", lambda: b"", safety.EMPTY_FILE),
]


@pytest.mark.parametrize("name,make,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_refused_with_a_clear_message(db, client, alice, department, name, make, message):
    client.force_login(alice)
    before = counts()
    response = upload(client, make(), name=f"{name}.xlsx")
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [message]
    assert message in response.content.decode()
    assert counts() == before
    assert imports.SESSION_KEY not in client.session or client.session[imports.SESSION_KEY] == {}


def test_bad_file_on_a_draft_changes_nothing(db, client, alice, department):
    client.force_login(alice)
    before = readmodel.load(department.pk).to_dict()
    response = upload(client, b"PK\x03\x04garbage", url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [safety.NOT_ZIP]
    assert readmodel.load(department.pk).to_dict() == before


def test_checks_never_inflate_anything():
    # The zip directory alone decides: a declared 51 MB entry is refused before any read.
    bomb = zip_of({"[Content_Types].xml": XLSX_TYPES, "xl/workbook.xml": b"<workbook/>", "big.xml": b"\0" * (51 * 1024 * 1024)})
    assert len(bomb) < 200 * 1024
    with pytest.raises(safety.UploadRefused, match="解压后超过 50 MB"):
        safety.check_upload(bomb)


# --- Flow: preview, confirm, replace -----------------------------------------------------------


def test_preview_saves_nothing_and_lists_unmapped_cells(db, client, alice, unit_a):
    Round.objects.create(year=2022, title="2022年度绩效自评")
    client.force_login(alice)
    before = counts()
    response = upload(client, to_bytes(seed_001_workbook()))
    preview = client.get(response["Location"])
    assert counts() == before
    html = preview.content.decode()
    assert "注：本表金额单位为万元。" in html and parser.NOTE_OUTSIDE in html
    assert [(u.cell, u.value) for u in preview.context["unmapped"]] == [("A23", "注：本表金额单位为万元。"), ("A24", "填表人：刘雄")]
    assert preview.context["view"].funding[0].rate == scoring.Decimal("85.11")


def test_upload_errors_name_the_field_and_keep_the_choices(db, client, alice, unit_a, round_2020):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_001_workbook()), layout="department", round=str(round_2020.pk))
    assert response.status_code == 400
    assert response.context["form"].errors == {"layout": ["所选表样与文件不符：文件是项目支出绩效自评表。"]}
    assert response.context["form"]["round"].value() == str(round_2020.pk)
    # No open round for the sheet's year (2022) and none chosen.
    response = upload(client, to_bytes(seed_001_workbook()))
    assert response.context["form"].errors == {"round": ["表中年度为2022年，没有该年度的开放评价批次，请选择评价批次。"]}


def test_duplicate_is_shown_in_the_preview_and_blocks_the_confirm(db, client, alice, department):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_004_workbook()))
    preview = client.get(response["Location"])
    assert preview.context["errors"] == ["本单位2020年度的部门整体支出绩效自评已存在。"]
    before = counts()
    confirm = client.post(reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]}))
    assert confirm.status_code == 400
    assert counts() == before


def test_invalid_rows_show_the_entry_form_errors_and_nothing_is_saved(db, client, alice, unit_a, round_2020):
    wb = seed_004_workbook()
    wb.active["C19"] = "经济效益"  # fine
    wb.active["C20"] = "群众满意"  # becomes 服务对象满意度指标 (the only choice)
    wb.active["B19"] = "效果指标"  # not a 一级指标
    client.force_login(alice)
    response = upload(client, to_bytes(wb))
    preview = client.get(response["Location"])
    # 一级 must be the template's; a 二级 of another 一级 is kept as written (only suggested).
    errors = ["绩效指标第4行「一级指标」：一级指标“效果指标”不是本表样的一级指标。"]
    assert preview.context["errors"] == errors
    assert ("B19", "一级指标“效果指标”不是本表样的一级指标（产出指标、效益指标、满意度指标、成本指标）") in [
        (u.cell, u.reason) for u in preview.context["unmapped"]
    ]
    before = counts()
    confirm = client.post(reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]}))
    assert confirm.status_code == 400
    assert confirm.context["errors"] == errors
    assert counts() == before


def test_replacing_a_draft_needs_the_second_confirmation(db, client, alice, department):
    client.force_login(alice)
    url = reverse("assessments:import_replace", kwargs={"pk": department.pk})
    response = upload(client, to_bytes(seed_004_workbook()), url=url)
    preview = client.get(response["Location"])
    assert preview.context["errors"] == []
    confirm_url = reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]})
    before = readmodel.load(department.pk).to_dict()

    refused = client.post(confirm_url)
    assert refused.status_code == 400
    assert refused.context["confirm_error"] == imports.REPLACE_NOT_CONFIRMED
    assert readmodel.load(department.pk).to_dict() == before

    done = client.post(confirm_url, {"confirm_replace": "on"})
    assert done.status_code == 302 and done["Location"] == reverse("assessments:edit", kwargs={"pk": department.pk})
    data = readmodel.load(department.pk).to_dict()
    assert data["funding"][0]["budget"] == "10949.23"
    assert data["total_score"] == "43.17"  # 9.67 + 5 + 3.5 + 5 + 10 + 10
    assert len(data["indicators"]) == 5
    # The token is spent.
    assert client.post(confirm_url, {"confirm_replace": "on"}).status_code == 404


def test_replace_refuses_a_file_of_another_layout(db, client, alice, department):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_001_workbook()), url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    preview = client.get(response["Location"])
    # The file is read by the draft's own 表样; a project table (项目名称 …) cannot replace a department draft.
    assert preview.context["errors"] == [
        "文件是项目支出绩效自评表，当前草稿是“部门整体支出绩效自评表”，类型不同，不能替换；请用“从Excel导入”新建。"
    ]


def test_replace_after_someone_saved_is_refused(db, client, alice, department):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_004_workbook()), url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    token = response["Location"].rstrip("/").split("/")[-1]
    Assessment.objects.filter(pk=department.pk).update(version=department.version + 1)
    confirm = client.post(reverse("assessments:import_confirm", kwargs={"token": token}), {"confirm_replace": "on"})
    assert confirm.status_code == 400
    assert confirm.context["errors"] == ["本次未导入：预览之后，该自评已在别处被保存或提交。请重新上传文件并核对预览。"]


def test_submitted_assessment_cannot_be_replaced(db, client, alice, department):
    Assessment.objects.filter(pk=department.pk).update(state="submitted")
    client.force_login(alice)
    url = reverse("assessments:import_replace", kwargs={"pk": department.pk})
    assert client.get(url)["Location"] == reverse("assessments:detail", kwargs={"pk": department.pk})
    response = upload(client, to_bytes(seed_004_workbook()), url=url)
    assert response.status_code == 403
    assert response.context["refused"] == "该自评当前状态为“已提交”，不能导入替换。"


def test_entry_points_on_list_and_draft_pages(db, client, alice, department):
    client.force_login(alice)
    assert 'href="/assessments/import/"' in client.get(reverse("assessments:list")).content.decode()
    detail = client.get(reverse("assessments:detail", kwargs={"pk": department.pk})).content.decode()
    assert f'href="/assessments/{department.pk}/import/"' in detail


# --- Who may import -------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(db, client, department):
    for url in (reverse("assessments:import"), reverse("assessments:import_replace", kwargs={"pk": department.pk})):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = upload(client, to_bytes(seed_004_workbook()))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_officer_of_another_unit_gets_404(db, client, alice, bob, department):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_004_workbook()), url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    token_url = response["Location"]
    client.force_login(bob)
    assert client.get(reverse("assessments:import_replace", kwargs={"pk": department.pk})).status_code == 404
    before = counts()
    response = upload(client, to_bytes(seed_004_workbook()), url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    assert response.status_code == 404
    # alice's preview token means nothing in bob's session.
    assert client.get(token_url).status_code == 404
    # A unit that is not bob's cannot be chosen for a new draft.
    response = upload(client, to_bytes(seed_004_workbook()), unit=str(department.unit_id))
    assert response.status_code == 400
    assert response.context["form"].errors["unit"] == ["选择一个有效的选项： 该选择不在可用的选项中。"]
    assert counts() == before


def test_reviewer_gets_404(db, client, reviewer, department):
    client.force_login(reviewer)
    before = counts()
    assert client.get(reverse("assessments:import")).status_code == 404
    assert upload(client, to_bytes(seed_004_workbook())).status_code == 404
    assert client.get(reverse("assessments:import_replace", kwargs={"pk": department.pk})).status_code == 404
    assert counts() == before


def test_token_of_a_preview_is_bound_to_its_user(db, client, alice, unit_a, round_2020):
    client.force_login(alice)
    response = upload(client, to_bytes(seed_004_workbook()))
    token = response["Location"].rstrip("/").split("/")[-1]
    session = client.session
    session[imports.SESSION_KEY][token]["user"] = alice.pk + 1000
    session.save()
    assert client.get(response["Location"]).status_code == 404


def test_second_officer_of_the_unit_imports_into_that_unit(db, client, unit_a, round_2020):
    carol = make_officer("carol", unit_a)
    client.force_login(carol)
    preview, confirm = import_via_views(client, to_bytes(seed_004_workbook()))
    assert Assessment.objects.get(pk=new_pk(confirm)).unit == unit_a


# --- Long texts, stacked tables, hidden sheets -------------------------------------------------


def test_long_texts_split_over_rows_by_the_export_come_back_whole(db, department):
    sentence = "这是一句用于检验长段落导出与导入的测试文字。"
    long_paragraph = sentence * 120  # longer than one row can hold: the export cuts it at sentence ends
    duties = "\n".join([long_paragraph, "第二段：较短。", sentence * 90])
    goal = "\n".join([sentence * 100, "目标二。"])
    body = "\n".join([sentence * 70, "（二）小标题", sentence * 3])
    department.duties = duties
    department.save()
    department.goals.update(target=goal, achieved="全年完成。")
    department.report_sections.filter(key="problems").update(body=body)

    data = internal_export(department.pk)
    ws = openpyxl.load_workbook(io.BytesIO(data))["自评表"]
    assert ws.merged_cells  # sanity: the export really split them over several rows
    assert sum(1 for row in ws.iter_rows(min_col=1, max_col=1) if row[0].value == "部门职责") == 1
    parsed = parser.parse_workbook(data)
    assert parsed.header["duties"] == duties
    assert parsed.goals == [{"target": goal, "achieved": "全年完成。"}]
    assert next(s for s in parsed.sections if s["key"] == "problems")["body"] == body
    assert parsed.unmapped == []


def test_second_table_on_the_same_sheet_is_not_mixed_in():
    wb = seed_001_workbook()
    ws = wb.active
    ws["A30"] = "2022年度四型平安小区以奖代拨经费绩效自评表"
    ws["A31"], ws["B31"] = "项目名称", "四型平安小区以奖代拨经费"
    parsed = parser.parse_workbook(to_bytes(wb))
    assert parsed.header["project_name"] == "综治、平安建设经费"
    assert len(parsed.indicators) == 8
    assert [(u.cell, u.reason) for u in parsed.unmapped][-3:] == [
        ("A30", parser.SECOND_TABLE), ("A31", parser.SECOND_TABLE), ("B31", parser.SECOND_TABLE),
    ]


def test_hidden_sheet_and_cover_sheet_are_skipped_with_a_word():
    wb = seed_001_workbook()
    cover = wb.create_sheet("封面", 0)
    cover["A1"] = "南岳区委政法委2022年度项目自评材料"
    hidden = wb.create_sheet("数据")
    hidden["A1"] = "lookup"
    hidden.sheet_state = "hidden"
    parsed = parser.parse_workbook(to_bytes(wb))
    assert len(parsed.indicators) == 8
    assert parsed.notes == ["Sheet1!C18：二级指标“社会效益”按本表样的写法记为“社会效益指标”", "已跳过隐藏的工作表“数据”。"]
    assert [(u.sheet, u.cell, u.reason) for u in parsed.unmapped][:1] == [("封面", "A1", "此工作表中没有可识别的自评表")]


def test_replace_keeps_the_tables_the_file_does_not_have(db, client, alice, department):
    Indicator.objects.create(assessment=department, position=1, level1="产出指标", level2="数量指标",
                             name="已填写的指标", target="≥10次", actual="12次")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "2020年度部门整体支出绩效自评表"
    ws["A2"], ws["B2"], ws["C2"], ws["D2"] = "整体资金（万元）", "全年预算数", "全年执行数", "偏差原因"
    ws["A3"], ws["B3"], ws["C3"] = "合计", 200, "１５０"
    client.force_login(alice)
    response = upload(client, to_bytes(wb), url=reverse("assessments:import_replace", kwargs={"pk": department.pk}))
    preview = client.get(response["Location"])
    assert [i.name for i in preview.context["view"].indicators] == ["已填写的指标"]
    assert preview.context["view"].funding[0].rate == scoring.Decimal("75.00")
    client.post(reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]}), {"confirm_replace": "on"})
    data = readmodel.load(department.pk).to_dict()
    assert [i["name"] for i in data["indicators"]] == ["已填写的指标"]
    assert (data["funding"][0]["budget"], data["funding"][0]["actual"], data["funding"][0]["rate"]) == ("200.00", "150.00", "75.00")


def test_upload_needs_the_csrf_token(db, alice, unit_a, round_2020):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = upload(client, to_bytes(seed_004_workbook()))
    assert response.status_code == 403
    assert imports.SESSION_KEY not in client.session


def test_a_second_confirmation_racing_the_first_gets_the_duplicate_message(db, alice, unit_a, round_2020, monkeypatch):
    from assessments.importing import apply

    parsed = parser.parse_workbook(to_bytes(seed_004_workbook()))
    first = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout="department", parsed=parsed)
    assert first.errors == []
    # The second one passed its duplicate check before the first committed: the constraint decides.
    monkeypatch.setattr(apply, "duplicate_error", lambda *args, **kwargs: None)
    before = counts()
    second = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout="department", parsed=parsed)
    assert second.errors == [apply.CONFLICT]
    assert counts() == before


def test_round_trip_of_scored_rows_with_entered_outcomes(db, alice, unit_a, round_2020, project):
    from decimal import Decimal

    from assessments.importing import apply
    from assessments.models import FundingRow
    from assessments.services import refresh_scores

    FundingRow.objects.filter(assessment=project, source="total").update(initial_budget=Decimal("36"), actual=Decimal("30.64"))
    rows = [
        ("产出指标", "数量指标", "公众安全感民意调查", "≥10次", "8次", Decimal("30"), "", None, "疫情影响"),
        ("产出指标", "质量指标", "考评合格率", "=100%", "100%", Decimal("20"), "", None, ""),
        ("效益指标", "社会效益指标", "维护社会秩序", "有所帮助", "效果一般", Decimal("15"), "partial", Decimal("10.5"), "宣传不足"),
        ("效益指标", "可持续影响指标", "长效机制", "建立", "未建立", Decimal("15"), "failed", Decimal("3"), "尚在论证"),
        ("满意度指标", "服务对象满意度指标", "群众满意度", "满意", "基本满意", Decimal("10"), "achieved", Decimal("8.5"), ""),
    ]
    for n, (l1, l2, name, target, actual, weight, outcome, score, reason) in enumerate(rows, start=1):
        Indicator.objects.create(assessment=project, position=n, level1=l1, level2=l2, name=name, target=target,
                                 actual=actual, weight=weight, outcome=outcome, score=score, reason=reason)
    refresh_scores(project)
    before = comparable(readmodel.load(project.pk).to_dict())
    assert [i["score"] for i in before["indicators"]] == ["24.00", "20.00", "10.50", "3.00", "8.50"]

    data = internal_export(project.pk)
    project.delete()
    parsed = parser.parse_workbook(data)
    outcome = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout=parsed.layout, parsed=parsed)
    assert outcome.errors == []
    assert comparable(readmodel.load(outcome.assessment.pk).to_dict()) == before


@pytest.mark.parametrize("value,expected", [
    # As written: more than four decimals are rounded (with a note) by the sheet reader, not here.
    (36, ("36", "")), (30.64, ("30.64", "")), (30.639999999, ("30.639999999", "")), ("1,234.5", ("1234.5", "")),
    ("１２３４．５万元", ("1234.5", "")), ("36 万", ("36", "")), ("10949.23\u3000", ("10949.23", "")),
    ("—", (None, "")), ("-", (None, "")), ("/", (None, "")), ("无", (None, "")), (None, (None, "")),
    ("12元", (None, "金额单位是“元”，表格金额应以万元填写")), ("约36", (None, "无法识别为金额（应为数字，单位万元）")),
    (-5, (None, "金额不能为负数")),
])
def test_amounts_as_units_write_them(value, expected):
    amount, problem = parser.parse_amount(value)
    assert (None if amount is None else str(amount), problem) == expected


@pytest.mark.parametrize("value,number_format,expected", [
    (0.95, "0%", "95%"), (1, "0.00%", "100%"), (10.0, "General", "10"), (12.5, "General", "12.5"),
    ("无", "General", "无"), ("—", "General", ""), ("  ≥10次 \r\n", "General", "≥10次"),
])
def test_cells_as_text(value, number_format, expected):
    assert parser._clean_text(value, number_format) == expected


def test_level1_weight_in_the_header_is_checked_against_its_rows():
    from assessments.importing import apply

    wb = national_workbook()
    wb.active["G13"] = 25
    parsed = parser.parse_workbook(to_bytes(wb))
    assert apply.level1_notes(parsed)[0] == "表头写明“产出指标（50分）”，但其下各行分值合计 55 分，请核对。"


# --- Identity across years -------------------------------------------------------------------


def lineages(pk: int) -> list:
    return list(Indicator.objects.filter(assessment_id=pk).order_by("position").values_list("lineage", flat=True))


def test_replacing_a_draft_keeps_the_identity_of_the_same_indicators(db, client, alice, department):
    client.force_login(alice)
    url = reverse("assessments:import_replace", kwargs={"pk": department.pk})
    for _ in range(2):
        preview = client.get(upload(client, to_bytes(seed_004_workbook()), url=url)["Location"])
        confirm_url = reverse("assessments:import_confirm", kwargs={"token": preview.context["token"]})
        assert client.post(confirm_url, {"confirm_replace": "on"}).status_code == 302
        if _ == 0:
            first = lineages(department.pk)
            keys = list(Indicator.objects.filter(assessment=department).order_by("position").values_list("key", flat=True))
    # The second import replaced the rows with the same five indicators: each keeps its key
    # (review comments and diffs follow it) and its lineage.
    assert len(first) == 5 and len(set(first)) == 5
    assert lineages(department.pk) == first
    assert list(Indicator.objects.filter(assessment=department).order_by("position").values_list("key", flat=True)) == keys


def test_importing_this_year_links_to_last_years_indicators(db, client, alice, unit_a, round_2020):
    client.force_login(alice)
    _, confirm = import_via_views(client, to_bytes(seed_004_workbook()))
    last_year = new_pk(confirm)
    Assessment.objects.filter(pk=last_year).update(state="published")
    Round.objects.filter(pk=round_2020.pk).update(is_open=False)
    round_2021 = Round.objects.create(year=2021, title="2021年度绩效自评", is_open=True)
    wb = seed_004_workbook()
    _, confirm = import_via_views(client, to_bytes(wb), round=round_2021.pk)
    this_year = new_pk(confirm)
    assert Assessment.objects.get(pk=this_year).round_id == round_2021.pk
    assert lineages(this_year) == lineages(last_year)
    from assessments import history

    # Every indicator now shows its 2020 value beside 2021.
    items = history.history(readmodel.load(this_year))
    assert [[p.year for p in item.points] for item in items] == [[2020, 2021]] * 5
