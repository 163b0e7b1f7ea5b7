"""从Word导入 (issue 19): the 自评报告 a unit wrote in Word fills the report's sections.

The four narrative seeds (000, 002, 003 and the report part of 004) are built as .docx files with
python-docx (wordfiles.py) and must land exactly where assessments/demo put them by hand: same
sections, same titles, same text, in the seeds' chapter order. Then: unusual numbering, a chapter
the template does not know, images / tracked changes / comments / text boxes, the tables through the
Excel import's parser, the preview → confirm flow with its second confirmation, the consistency
warnings, hostile files, and the optional LibreOffice conversion.
"""

import io
import os
import stat
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from assessments import builtin_templates, readmodel
from assessments.demo import seed_000_lukou, seed_002_lusong, seed_003_wangcheng, seed_004_yuelu
from assessments.importing import parser, safety, sandbox, word
from assessments.models import Assessment, AuditEvent, ProjectExpense, ReportSection, Round, StructureRow
from assessments.services import create_assessment
from assessments.views import word as word_views

from . import wordfiles
from .test_consistency import LUKOU_SUM
from .test_import import seed_004_workbook, to_bytes
from .test_upload_limits import children

DEPARTMENT = builtin_templates.DEPARTMENT
SPECS = {"department": DEPARTMENT, "project": builtin_templates.PROJECT}
DEMO = {"000": seed_000_lukou, "002": seed_002_lusong, "003": seed_003_wangcheng, "004": seed_004_yuelu}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def read(data: bytes, specs=None) -> word.WordDocument:
    safety.check_docx_upload(data)
    safety.check_declared_docx(data)
    return word.read_document(data, specs or SPECS)


def upload(client, data: bytes, name="自评报告.docx", url=None, **fields):
    f = io.BytesIO(data)
    f.name = name
    return client.post(url or reverse("assessments:word_import"), {"file": f, **fields})


def preview_of(client, response):
    assert response.status_code == 302, response.context and response.context["form"].errors
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    return preview


def confirm_url(preview) -> str:
    return reverse("assessments:word_confirm", kwargs={"token": preview.context["token"]})


def refused(response) -> str:
    assert response.status_code == 400
    [message] = response.context["form"].errors["file"]
    assert message in response.content.decode()
    return message


# --- The seeds, exactly ---------------------------------------------------------------------


EXPECTED_ORDER = {
    "000": ["basic_info", "general_budget", "department_performance", "problems", "improvements", "application"],
    "002": ["basic_info", "general_budget", "gov_fund", "state_capital", "social_insurance", "department_performance",
            "problems", "improvements", "application"],
    "003": ["basic_info", "general_budget", "department_performance", "improvements", "other"],
    # Seed 004 puts 专项组织实施情况 (项目支出绩效情况) before 整体支出绩效情况, and lost the number of 六.
    "004": ["basic_info", "general_budget", "project_performance", "department_performance", "problems", "improvements",
            "other"],
}
EXPECTED_NUMBERS = {
    "000": ["1、", "二、", "三、", "四、", "五、", "6、"],  # "1、" and "6、" are Word's own list numbers
    "002": ["（一）", "二、", "三、", "四、", "五、", "六、", "七、", "8、", "九、"],
    "003": ["一、", "二、", "三、", "五、", "六、"],  # 四 is missing in the seed
    "004": ["一、", "二、", "三、", "四、", "五、", "", "七、"],
}
EXPECTED_UNPLACED = {
    "000": [("文档开头", "部门整体支出绩效自评报告", word.REPORT_TITLE)],
    "002": [],
    "003": [("文档开头", "2020 年度望城区委政法委部门 整体支出预算绩效自评报告", word.REPORT_TITLE),
            ("文档末尾", "中共长沙市望城区委政法委员会\n2021年1月25日", word.SIGNATURE)],
    "004": [("文档开头", "2020年度中共长沙市岳麓区委员会政法委员会部门整体支出预算绩效自评报告", word.REPORT_TITLE)],
}


@pytest.mark.parametrize("headings", [False, True], ids=["plain", "heading-styles"])
@pytest.mark.parametrize("seed", ["000", "002", "003", "004"])
def test_each_seed_report_lands_in_the_sections_the_demo_gives_it(seed, headings):
    doc = read(wordfiles.seed_docx(seed, headings=headings))
    expected = DEMO[seed].ASSESSMENTS[0]["sections"]
    assert [c.key for c in doc.chapters] == EXPECTED_ORDER[seed]  # the seed's own chapter order
    assert [c.number for c in doc.chapters] == EXPECTED_NUMBERS[seed]
    labels = {s.key: s.title for s in DEPARTMENT.sections}
    sections = {s["key"]: s for s in doc.sections(DEPARTMENT)}
    assert set(sections) == set(expected)
    for key, section in expected.items():
        assert (sections[key]["title"] or labels[key]) == section["title"], key
        assert sections[key]["body"] == section["body"], key
    assert [(u.where, u.text, u.reason) for u in doc.unplaced] == EXPECTED_UNPLACED[seed]
    assert doc.notes == [] and doc.tables == []


def test_seed_texts_keep_sub_headings_list_numbers_and_the_wu_sections():
    lukou = {s["key"]: s["body"] for s in read(wordfiles.seed_docx("000")).sections(DEPARTMENT)}
    assert lukou["basic_info"].split("\n")[:2] == [
        "（一）主要职能",
        "（1）深入贯彻习近平新时代中国特色社会主义思想，深入贯彻党的路线方针政策和决策部署，统一政法各部门思想和行动，"
        "坚持党对政法工作的绝对领导，坚决维护党中央权威和集中统一领导。",
    ]
    lusong = read(wordfiles.seed_docx("002"))
    bodies = {s["key"]: s["body"] for s in lusong.sections(DEPARTMENT)}
    assert (bodies["gov_fund"], bodies["state_capital"], bodies["social_insurance"]) == ("无", "无", "无")
    # "（2） " and "1、 " … "4、 " are numbers Word draws (numbering.xml), "5、" was typed.
    assert bodies["general_budget"].split("\n")[4:10] == [
        "（2） 项目支出情况:支出140.72万元", "1、 雪亮工程项目支出56.18万元；", "2、 司法救助项目支出43.36万元",
        "3、 综治项目支出12.20万元", "4、 维稳项目支出21.58万元", "5、反邪项目支出7.4万元。",
    ]
    assert lusong.chapters[7].heading == "8、 下一步改进措施"
    assert lusong.chapters[5].title == "资金使用及绩效情况（包含单位管理的公共专项）"
    wangcheng = {s["key"]: s["body"] for s in read(wordfiles.seed_docx("003")).sections(DEPARTMENT)}
    assert wangcheng["other"] == "无"
    assert read(wordfiles.seed_docx("003")).year == 2020 and read(wordfiles.seed_docx("000")).year == 2022


# --- Numbering and titles the seeds do not use ---------------------------------------------------


def test_a_report_numbered_by_parts_and_yishi_still_lands():
    d = wordfiles.Doc()
    d.add("2023年度某单位部门整体支出绩效自评报告")
    d.add("第一部分 部门（单位）基本情况")
    d.add("一是机构设置。本单位内设办公室、业务科。")
    d.add("二是人员情况。编制12人，实有11人。")
    d.add("第二部分：一般公共预算支出情况")
    d.add("本年支出合计120.5万元。")
    d.add("第三部分 存在的问题及原因分析")
    d.add("预算编制不够精细。")
    doc = read(d.bytes())
    assert [(c.number, c.title, c.key) for c in doc.chapters] == [
        ("第一部分", "部门（单位）基本情况", "basic_info"),
        ("第二部分：", "一般公共预算支出情况", "general_budget"),
        ("第三部分", "存在的问题及原因分析", "problems"),
    ]
    assert doc.chapters[0].paragraphs == ["一是机构设置。本单位内设办公室、业务科。", "二是人员情况。编制12人，实有11人。"]
    assert doc.year == 2023


def test_chapters_numbered_yishi_land_with_their_first_sentence_as_text():
    d = wordfiles.Doc()
    d.add("一是部门（单位）基本情况。本单位为全额拨款行政单位。")
    d.add("二是一般公共预算支出情况。全年支出120.5万元。")
    d.add("三是下一步改进措施。加强预算管理。")
    doc = read(d.bytes())
    assert [(c.title, c.key, c.paragraphs) for c in doc.chapters] == [
        ("部门（单位）基本情况", "basic_info", ["本单位为全额拨款行政单位。"]),
        ("一般公共预算支出情况", "general_budget", ["全年支出120.5万元。"]),
        ("下一步改进措施", "improvements", ["加强预算管理。"]),
    ]


def test_word_list_numbering_in_chinese_and_heading_styles_without_numbers():
    d = wordfiles.Doc()
    d.add("部门（单位）基本情况", numbered=("%1、", 1), fmt="chineseCounting")
    d.add("本单位设三个科室。")
    d.add("一般公共预算支出情况", numbered=("%1、", 2), fmt="chineseCounting")
    d.add("（一）基本支出")
    d.add("部门整体支出绩效情况", style="Heading 1")
    d.add("全年目标完成。")
    d.add("工作亮点", outline=0)  # WPS: outline level 1 on a plain paragraph; the template has no such section
    d.add("创新做法。")
    doc = read(d.bytes())
    assert [(c.heading, c.key) for c in doc.chapters] == [
        ("一、 部门（单位）基本情况", "basic_info"), ("二、 一般公共预算支出情况", "general_budget"),
        ("部门整体支出绩效情况", "department_performance"), ("工作亮点", None),
    ]
    assert doc.chapters[1].paragraphs == ["（一）基本支出"]


def test_a_chapter_the_template_does_not_know_is_listed_not_lost():
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.add("本单位设三个科室。")
    d.add("二、部门自评工作开展情况")
    d.add("成立自评工作小组，对照指标逐项自评。")
    d.add("三、下一步改进措施")
    d.add("加强预算管理。")
    doc = read(d.bytes())
    assert [(c.title, c.key) for c in doc.chapters] == [
        ("部门（单位）基本情况", "basic_info"), ("部门自评工作开展情况", None), ("下一步改进措施", "improvements"),
    ]
    assert doc.chapters[1].paragraphs == ["成立自评工作小组，对照指标逐项自评。"]
    assert [(u.where, u.text, u.reason) for u in doc.unplaced] == [("章节", "二、部门自评工作开展情况", word.UNKNOWN_CHAPTER)]
    # Not imported unless the officer puts it somewhere; then under its own title.
    assert [s["key"] for s in doc.sections(DEPARTMENT)] == ["basic_info", "improvements"]
    chosen = doc.sections(DEPARTMENT, ["basic_info", "other", "improvements"])
    assert chosen[2] == {"key": "other", "title": "部门自评工作开展情况", "body": "成立自评工作小组，对照指标逐项自评。"}
    # Two chapters put into one section follow each other there.
    merged = doc.sections(DEPARTMENT, ["basic_info", "basic_info", "improvements"])[0]
    assert merged["body"] == "本单位设三个科室。\n二、部门自评工作开展情况\n成立自评工作小组，对照指标逐项自评。"


def test_a_sub_list_restarting_inside_a_chapter_is_not_a_chapter():
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.add("一、主要职能")
    d.add("二、机构设置")
    d.add("二、一般公共预算支出情况")
    d.add("支出120.5万元。")
    doc = read(d.bytes())
    assert [c.key for c in doc.chapters] == ["basic_info", "general_budget"]
    assert doc.chapters[0].paragraphs == ["一、主要职能", "二、机构设置"]


def test_images_tracked_changes_comments_text_boxes_and_footnotes():
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.add("本单位设三个科室。")
    d.image()
    d.tracked("本单位共有", "在职", "退休", "人员21人。")
    commented = d.add("二、一般公共预算支出情况")
    d.comment(commented, "请补充项目支出明细")
    d.text_box("附：单位组织结构图")
    d.footnote(d.add("全年支出120.5万元。"), "数据来源：2022年部门决算。")
    doc = read(d.bytes())
    assert doc.chapters[0].paragraphs == ["本单位设三个科室。", "本单位共有在职人员21人。"]
    assert doc.chapters[1].paragraphs == ["全年支出120.5万元。"]
    assert [(u.where, u.text, u.reason) for u in doc.unplaced] == [
        ("“一、部门（单位）基本情况”第 1 段之后", "图片 1 张", word.IMAGE),
        ("“二、一般公共预算支出情况”标题之后", "附：单位组织结构图", word.TEXT_BOX),
        ("脚注/尾注", "脚注：数据来源：2022年部门决算。", word.FOOTNOTE),
    ]
    assert doc.notes == [
        "文档中有未处理的修订（1 处插入、1 处删除）：已按“接受所有修订”后的文字读取，修订标记本身未导入。请核对。",
        "文档中有 1 条批注：批注不属于报告正文，未导入。",
    ]


def test_a_project_report_is_read_by_the_project_template():
    d = wordfiles.Doc()
    d.add("2022年度综治、平安建设经费项目支出绩效自评报告")
    d.add("一、项目基本情况")
    d.add("项目资金36万元。")
    doc = read(d.bytes())
    assert (doc.kind, doc.layout, doc.project_name, doc.year) == ("project", "project", "综治、平安建设经费", 2022)
    assert [c.key for c in doc.chapters] == ["basic_info"]


# --- Tables through the Excel import's parser -------------------------------------------------------


def test_the_table_of_seed_004_in_word_reads_as_the_same_table_in_excel():
    doc = read(wordfiles.seed_docx("004", doc=_with_table()))
    excel = parser.parse_workbook(to_bytes(seed_004_workbook()), chosen=DEPARTMENT)
    tables = doc.tables_parsed
    assert tables.funding == excel.funding
    assert tables.structure == excel.structure
    assert tables.goals == excel.goals
    assert tables.indicators == excel.indicators
    assert tables.funding["total"]["budget"] == "10949.23" and tables.funding["total"]["score"] == "9.67"
    assert [(u.sheet, u.cell, u.value) for u in tables.unmapped] == [("表格1", "A24", "备注：得分按财预〔2020〕10号计算。")]
    assert doc.tables[0].where == "文档开头（第一个章节之前）"
    # …and the report still lands as without the table.
    assert [c.key for c in doc.chapters] == EXPECTED_ORDER["004"]
    assert doc.unplaced[0].text == "2020年度部门整体支出绩效自评表"


def _with_table() -> wordfiles.Doc:
    d = wordfiles.Doc()
    d.add("2020年度部门整体支出绩效自评表")
    rows, merges = wordfiles.sheet_as_rows(seed_004_workbook().active)
    d.table(rows, merges)
    return d


def lukou_with_project_list() -> bytes:
    """Seed 000 with its per-project breakdown also typed as a table under 二（二）."""
    d = wordfiles.Doc()
    lines = wordfiles.seed_lines("000")
    for line in lines:
        d.add(line)
        if line.startswith("2022年预算安排项目支出216万元"):
            d.table([["项目名称", "年初预算", "实际支出"], ["维稳工作", "", "161.82"], ["驻京维稳", "", "70"],
                     ["涉法涉诉", "", "47.23"], ["扫黑除恶", "", "38.91"], ["见义勇为", "", "5"], ["平安建设", "", "144.17"]])
    return d.bytes()


def test_a_per_project_list_alone_is_offered_to_the_tables():
    doc = read(lukou_with_project_list())
    assert doc.tables[0].where == "“二、一般公共预算支出情况”第 4 段之后"
    tables = doc.tables_parsed
    assert [(e["name"], e["actual"]) for e in tables.expenses] == [
        ("维稳工作", "161.82"), ("驻京维稳", "70"), ("涉法涉诉", "47.23"), ("扫黑除恶", "38.91"), ("见义勇为", "5"),
        ("平安建设", "144.17"),
    ]
    assert tables.funding == {} and tables.indicators == []
    parsed = doc.parsed(DEPARTMENT, tables=True)
    assert len(parsed.expenses) == 6 and [s["key"] for s in parsed.sections][:2] == ["basic_info", "general_budget"]
    assert doc.parsed(DEPARTMENT).expenses == []


def test_a_table_the_template_cannot_read_is_listed_with_the_reason():
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.table([["科室", "职责"], ["办公室", "综合协调"], ["政工室", "队伍建设"]])
    doc = read(d.bytes())
    assert doc.table_result is None
    assert doc.table_refusal == parser.NO_TABLE
    assert doc.tables[0].rows == [["科室", "职责"], ["办公室", "综合协调"], ["政工室", "队伍建设"]]


# --- Preview, confirm ---------------------------------------------------------------------------


@pytest.fixture
def round_2022(db):
    return Round.objects.create(year=2022, title="2022年度绩效自评")


def test_new_draft_from_seed_000_through_preview_and_confirm(client, alice, unit_a, round_2022):
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("000"), name="渌口2022自评报告.docx"))
    assert Assessment.objects.count() == 0  # nothing saved yet
    assert preview.context["round"] == round_2022  # the year the report names
    assert preview.context["errors"] == []
    assert [row["selected"] for row in preview.context["chapters"]] == EXPECTED_ORDER["000"]
    html = preview.content.decode()
    assert "部门整体支出绩效自评报告" in html and word.REPORT_TITLE in html
    response = client.post(confirm_url(preview), {f"chapter-{n}": key for n, key in enumerate(EXPECTED_ORDER["000"])})
    assert response.status_code == 302
    a = Assessment.objects.get()
    assert response["Location"] == reverse("assessments:edit", args=[a.pk])
    assert (a.kind, a.layout, a.state, a.round_id) == ("department", "department", "draft", round_2022.pk)
    saved = {s.key: s for s in ReportSection.objects.filter(assessment=a)}
    for key, section in seed_000_lukou.SECTIONS.items():
        assert saved[key].body == section["body"]
    assert saved["basic_info"].title == "预算单位基本情况"
    assert saved["general_budget"].title == ""  # the template's own title
    assert saved["gov_fund"].body == ""  # the seed has no such chapter: left as it was
    event = AuditEvent.objects.get(action="import.word")
    assert event.details["sections"] == EXPECTED_ORDER["000"][:2] + ["department_performance", "problems", "improvements", "application"]
    assert event.details["created"] is True and event.details["not_imported"] == []
    assert client.session.get(word_views.SESSION_KEY) == {}


def test_replacing_texts_that_hold_something_asks_twice_and_shows_both(client, alice, department):
    ReportSection.objects.filter(assessment=department, key="problems").update(body="旧的问题描述。")
    ReportSection.objects.filter(assessment=department, key="other").update(body="保留的其他说明。")
    client.force_login(alice)
    url = reverse("assessments:word_import_replace", args=[department.pk])
    preview = preview_of(client, upload(client, wordfiles.seed_docx("004"), url=url))
    assert preview.context["needs_confirmation"] is True
    assert [(r["key"], r["current"], r["new"]) for r in preview.context["replaced"]] == [
        ("problems", "旧的问题描述。", seed_004_yuelu.PROBLEMS), ("other", "保留的其他说明。", "无。"),
    ]
    html = preview.content.decode()
    assert "旧的问题描述。" in html and seed_004_yuelu.PROBLEMS in html  # both texts
    mapping = {f"chapter-{n}": key for n, key in enumerate(EXPECTED_ORDER["004"][:-1] + [""])}  # 七 not imported
    refreshed = client.post(reverse("assessments:word_preview", kwargs={"token": preview.context["token"]}), mapping)
    assert [r["key"] for r in refreshed.context["replaced"]] == ["problems"]

    refused_confirm = client.post(confirm_url(preview), mapping)
    assert refused_confirm.status_code == 400
    assert refused_confirm.context["confirm_error"] == word_views.REPLACE_NOT_CONFIRMED
    assert ReportSection.objects.get(assessment=department, key="problems").body == "旧的问题描述。"

    done = client.post(confirm_url(preview), {**mapping, "confirm_replace": "on"})
    assert done.status_code == 302
    saved = {s.key: s for s in ReportSection.objects.filter(assessment=department)}
    assert saved["problems"].body == seed_004_yuelu.PROBLEMS
    assert saved["problems"].title == "存在的主要问题及原因分析"
    assert saved["other"].body == "保留的其他说明。"  # the chapter the officer left out
    assert AuditEvent.objects.get(action="import.word").details["not_imported"] == ["七、其他需要说明的情况"]


def test_the_officer_chooses_where_an_unknown_chapter_goes(client, alice, department):
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.add("本单位设三个科室。")
    d.add("二、部门自评工作开展情况")
    d.add("成立自评工作小组。")
    client.force_login(alice)
    preview = preview_of(client, upload(client, d.bytes(), url=reverse("assessments:word_import_replace", args=[department.pk])))
    assert [row["selected"] for row in preview.context["chapters"]] == ["basic_info", ""]
    refreshed = client.post(reverse("assessments:word_preview", kwargs={"token": preview.context["token"]}),
                            {"chapter-0": "basic_info", "chapter-1": "other"})
    assert refreshed.status_code == 200 and refreshed.context["filled"] == ["部门（单位）基本情况", "其他需要说明的情况"]
    assert client.post(confirm_url(preview), {"chapter-0": "basic_info", "chapter-1": "other"}).status_code == 302
    other = ReportSection.objects.get(assessment=department, key="other")
    assert (other.title, other.body) == ("部门自评工作开展情况", "成立自评工作小组。")


def test_after_the_import_the_consistency_check_shows_seed_000s_sum(client, alice, department):
    # The draft's tables already hold seed 000's structure and projects (typed, or from Excel).
    StructureRow.objects.filter(assessment=department, item="project").update(budget=Decimal("216"), actual=Decimal("466.13"))
    ProjectExpense.objects.bulk_create(
        ProjectExpense(assessment=department, position=n, name=e["name"], actual=Decimal(e["actual"]))
        for n, e in enumerate(seed_000_lukou.DEPARTMENT_2022["project_expenses"], start=1)
    )
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("000"),
                                        url=reverse("assessments:word_import_replace", args=[department.pk])))
    assert [w.message for w in preview.context["consistency"]] == [LUKOU_SUM]
    assert LUKOU_SUM in preview.content.decode()
    client.post(confirm_url(preview), {})
    edit = client.get(reverse("assessments:edit", args=[department.pk]))
    assert [w.message for w in edit.context["consistency"]] == [LUKOU_SUM]


def test_tables_found_in_the_document_are_imported_when_asked(client, alice, unit_a, round_2022):
    client.force_login(alice)
    preview = preview_of(client, upload(client, lukou_with_project_list()))
    assert preview.context["tables_offered"] is True and preview.context["import_tables"] is True
    assert [w.message for w in preview.context["consistency"]] == [LUKOU_SUM]  # the list is in the preview
    mapping = {f"chapter-{n}": key for n, key in enumerate(EXPECTED_ORDER["000"])}
    assert client.post(confirm_url(preview), {**mapping, "import_tables": "on"}).status_code == 302
    a = Assessment.objects.get()
    assert list(a.project_expenses.order_by("position").values_list("name", "actual")) == [
        ("维稳工作", Decimal("161.82")), ("驻京维稳", Decimal("70")), ("涉法涉诉", Decimal("47.23")),
        ("扫黑除恶", Decimal("38.91")), ("见义勇为", Decimal("5")), ("平安建设", Decimal("144.17")),
    ]
    assert readmodel.load(a.pk).sections[1].body == seed_000_lukou.GENERAL_BUDGET


def test_without_the_tick_the_tables_stay_as_they_are(client, alice, unit_a, round_2022):
    client.force_login(alice)
    preview = preview_of(client, upload(client, lukou_with_project_list()))
    mapping = {f"chapter-{n}": key for n, key in enumerate(EXPECTED_ORDER["000"])}
    assert client.post(confirm_url(preview), mapping).status_code == 302
    assert Assessment.objects.get().project_expenses.count() == 0


def test_a_second_department_draft_is_refused_in_the_preview(client, alice, department):
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("004")))
    assert preview.context["errors"] == ["本单位2020年度的部门整体支出绩效自评已存在。"]
    assert client.post(confirm_url(preview), {}).status_code == 400
    assert Assessment.objects.count() == 1


def test_a_report_without_a_year_asks_for_the_round(client, alice, unit_a, round_2022):
    d = wordfiles.Doc()
    d.add("一、部门（单位）基本情况")
    d.add("本单位设三个科室。")
    client.force_login(alice)
    response = upload(client, d.bytes())
    assert response.status_code == 400
    assert response.context["form"].errors["round"] == [word_views.MISSING_ROUND]
    assert upload(client, d.bytes(), round=round_2022.pk).status_code == 302


def test_cancel_saves_nothing(client, alice, unit_a, round_2022):
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("000")))
    response = client.post(reverse("assessments:word_cancel", kwargs={"token": preview.context["token"]}))
    assert response["Location"] == reverse("assessments:list")
    assert Assessment.objects.count() == 0
    assert client.get(reverse("assessments:word_preview", kwargs={"token": preview.context["token"]})).status_code == 404


# --- Who may import --------------------------------------------------------------------------------


def test_only_the_units_officers_may_import_into_its_draft(client, alice, bob, reviewer, department):
    url = reverse("assessments:word_import_replace", args=[department.pk])
    for user in (bob, reviewer):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert upload(client, wordfiles.seed_docx("004"), url=url).status_code == 404
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("004"), url=url))
    client.force_login(bob)  # another officer cannot use alice's preview
    assert client.post(confirm_url(preview), {}).status_code == 404


def test_a_submitted_assessment_cannot_be_imported_into(client, alice, department):
    Assessment.objects.filter(pk=department.pk).update(state=Assessment.State.SUBMITTED)
    client.force_login(alice)
    url = reverse("assessments:word_import_replace", args=[department.pk])
    assert client.get(url)["Location"] == reverse("assessments:detail", args=[department.pk])
    assert upload(client, wordfiles.seed_docx("004"), url=url).status_code == 403


def test_a_draft_submitted_after_the_preview_is_not_changed(client, alice, department):
    client.force_login(alice)
    preview = preview_of(client, upload(client, wordfiles.seed_docx("004"),
                                        url=reverse("assessments:word_import_replace", args=[department.pk])))
    Assessment.objects.filter(pk=department.pk).update(state=Assessment.State.SUBMITTED)
    response = client.post(confirm_url(preview), {"confirm_replace": "on"})
    assert response.status_code == 400
    assert response.context["errors"] == ["该自评当前状态为“已提交”，不能导入。"]
    assert ReportSection.objects.get(assessment=department, key="basic_info").body == ""


def test_entry_points_on_the_list_and_the_draft(client, alice, department):
    client.force_login(alice)
    assert reverse("assessments:word_import") in client.get(reverse("assessments:list")).content.decode()
    assert reverse("assessments:word_import_replace", args=[department.pk]) in client.get(
        reverse("assessments:detail", args=[department.pk])).content.decode()


# --- Hostile and wrong files --------------------------------------------------------------------


def zip_of(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return out.getvalue()


def docx_with(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A real .docx (python-docx's template) whose word/document.xml is replaced."""
    source = zipfile.ZipFile(io.BytesIO(wordfiles.Doc().bytes()))
    parts = {info.filename: source.read(info) for info in source.infolist()}
    parts["word/document.xml"] = document_xml
    parts.update(extra or {})
    return zip_of(parts)


W = f'xmlns:w="{wordfiles.W_NS}"'


def random_text(n: int) -> str:
    """n CJK characters that do not compress (a long document, not a zip bomb)."""
    raw = os.urandom(2 * n)
    return "".join(chr(0x4E00 + (raw[i] << 8 | raw[i + 1]) % 20000) for i in range(0, 2 * n, 2))


def body(inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>{inner}</w:body></w:document>'.encode()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<w:document xmlns:w="' + wordfiles.W_NS.encode() + b'"><w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>'
)

HOSTILE = [
    ("doc", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "报告.doc", safety.DOC_FILE),
    ("wps", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "报告.wps", safety.DOC_FILE),
    ("rtf", lambda: b"{\\rtf1\\ansi 2022}", "报告.doc", safety.RTF_FILE),
    ("text", lambda: "一、基本情况".encode(), "报告.docx", safety.NOT_DOCX),
    ("empty", lambda: b"", "报告.docx", safety.EMPTY_FILE),
    ("xlsx", lambda: to_bytes(seed_004_workbook()), "自评表.xlsx", safety.EXCEL_NOT_WORD),
    ("zip-without-document", lambda: zip_of({"[Content_Types].xml": b"<Types/>", "a.txt": b"x"}), "a.docx",
     safety.NOT_DOCUMENT_ZIP),
    ("too-large", lambda: b"PK" + os.urandom(safety.MAX_UPLOAD_BYTES), "大.docx", safety.TOO_LARGE),
    ("too-many-entries", lambda: zip_of({f"word/media/{n}.txt": b"" for n in range(1001)}), "多.docx",
     safety.TOO_MANY_ENTRIES),
    ("ratio", lambda: docx_with(body(""), {"word/media/zeros.bin": b"\0" * (30 * 1024 * 1024)}), "比.docx", safety.BAD_RATIO),
    ("inflates-beyond-50mb", lambda: docx_with(body(""), {f"word/media/{n}.bin": os.urandom(1024) * 1 + b"\0" * (9 * 1024 * 1024)
                                                          for n in range(6)}), "胀.docx", safety.TOO_BIG_UNCOMPRESSED),
    ("document-xml-6mb", lambda: docx_with(body("<w:p><w:r><w:t>" + random_text(2 * 1024 * 1024) + "</w:t></w:r></w:p>")),
     "长.docx", "文档正文（word/document.xml）解压后为 6.0 MB，超过 5 MB 的上限，不像是一份自评报告，已拒绝导入。"),
    ("billion-laughs", lambda: docx_with(BILLION_LAUGHS), "笑.docx",
     "文件内部的“word/document.xml”含有文档类型声明（DTD），Word 文档不会包含这种内容，疑似异常文件，已拒绝导入。"),
    ("paragraphs", lambda: docx_with(body("<w:p/>" * 5_001)), "段.docx",
     "文档中的段落过多（超过 5,000 段），不像是一份自评报告，已拒绝导入。"),
    ("cells", lambda: docx_with(body("<w:tbl>" + "<w:tr>" + "<w:tc></w:tc>" * 2001 + "</w:tr></w:tbl>")), "格.docx",
     "文档中的表格单元格过多（超过 2,000 个），不像是一份自评报告，已拒绝导入。请删除无关的表格后再上传。"),
    ("grid-area", lambda: docx_with(body("<w:tbl>" + '<w:tr><w:tc><w:tcPr><w:gridSpan w:val="64"/></w:tcPr></w:tc>'
                                         '<w:tc><w:tcPr><w:gridSpan w:val="64"/></w:tcPr></w:tc></w:tr>'
                                         + "<w:tr><w:tc/></w:tr>" * 100 + "</w:tbl>")), "大表.docx", word.TABLE_TOO_BIG),
    ("grid-span", lambda: docx_with(body('<w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="1000000"/></w:tcPr><w:p/></w:tc>'
                                         "</w:tr></w:tbl>")), "宽.docx",
     "文档中有表格单元格声明横跨 1,000,000 列，超过 64 列的上限，疑似异常文件，已拒绝导入。"),
    ("elements", lambda: docx_with(body("<w:p>" + "<w:r/>" * 100_001 + "</w:p>")), "繁.docx",
     "文件内部结构过于复杂（“word/document.xml”处累计超过 100,000 个 XML 元素），疑似异常文件，已拒绝导入。"),
    ("damaged", lambda: docx_with(b"<w:document"), "坏.docx", safety.CORRUPT_DOCX),
]


@pytest.mark.parametrize("name,make,filename,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_and_wrong_files_are_refused_with_a_message(client, alice, department, name, make, filename, message):
    client.force_login(alice)
    url = reverse("assessments:word_import_replace", args=[department.pk])
    assert refused(upload(client, make(), name=filename, url=url)) == message
    assert client.session.get(word_views.SESSION_KEY, {}) == {}
    assert children() == []
    assert ReportSection.objects.filter(assessment=department).exclude(body="").count() == 0


def worst_accepted() -> bytes:
    """About as much as the limits let through: 2,000 cells, 5,000 paragraphs (2,000 of them in the
    cells), 3,000 paragraphs of 11 runs each: some 90,000 XML elements with python-docx's own parts."""
    cells = "<w:tr>" + "<w:tc><w:p><w:r><w:t>单元格</w:t></w:r></w:p></w:tc>" * 40 + "</w:tr>"
    tables = ("<w:tbl>" + cells * 25 + "</w:tbl>") * 2  # 2,000 cells, 2,000 paragraphs in them
    paragraphs = "".join(f"<w:p><w:r><w:t>{n}、第{n}段文字。</w:t></w:r>" + "<w:r><w:t>正文</w:t></w:r>" * 10 + "</w:p>"
                         for n in range(3_000))
    return docx_with(body(tables + paragraphs))


def test_the_worst_document_the_limits_let_through_is_read_within_the_budget(settings):
    # The promise is CPU (0.8 s); the clock is moved away so that a busy machine (CI, parallel
    # runs) does not stop the child as "服务器繁忙" before its CPU budget says anything.
    settings.IMPORT_PARSE_WALL_SECONDS = 30
    data = worst_accepted()
    safety.check_docx_upload(data)
    safety.check_declared_docx(data)
    document = sandbox.read_document(data, SPECS)  # within the child's 0.8 s of CPU, or refused as too slow
    assert len(document.tables) == 2


def test_the_sandbox_answer_is_the_document_as_json():
    data = wordfiles.seed_docx("003")
    assert sandbox.read_document(data, SPECS).to_dict() == read(data).to_dict()


# --- .doc / .wps through LibreOffice, when the server has it --------------------------------------------


@pytest.fixture
def fake_soffice(tmp_path, settings):
    """A stand-in for LibreOffice's soffice: writes the .docx of seed 003 where --outdir says."""
    converted = tmp_path / "converted.docx"
    converted.write_bytes(wordfiles.seed_docx("003"))
    program = tmp_path / "soffice"
    program.write_text(
        "#!/bin/sh\n"
        'while [ "$#" -gt 1 ]; do if [ "$1" = "--outdir" ]; then out="$2"; fi; shift; done\n'
        f'cp "{converted}" "$out/upload.docx"\n'
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    settings.WORD_IMPORT_SOFFICE = str(program)
    return program


def test_doc_is_converted_when_libreoffice_is_switched_on(client, alice, department, fake_soffice):
    client.force_login(alice)
    url = reverse("assessments:word_import_replace", args=[department.pk])
    preview = preview_of(client, upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, name="望城.doc", url=url))
    assert [row["selected"] for row in preview.context["chapters"]] == EXPECTED_ORDER["003"]


def test_a_failed_conversion_says_to_save_as_docx(client, alice, department, fake_soffice, settings):
    fake_soffice.write_text("#!/bin/sh\nexit 1\n")
    client.force_login(alice)
    url = reverse("assessments:word_import_replace", args=[department.pk])
    message = refused(upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, name="望城.wps", url=url))
    assert message == "无法转换该文件（.doc / .wps）。请在 Word 或 WPS 中打开，请另存为 .docx 后上传。"


def test_new_assessment_created_by_word_import_keeps_other_unit_out(client, bob, alice, unit_a, round_2022):
    create_assessment(unit=unit_a, round=round_2022, kind="department", layout="department", user=alice)
    client.force_login(bob)
    response = preview_of(client, upload(client, wordfiles.seed_docx("000")))
    assert response.context["unit"].name == "中共长沙市岳麓区财政局测试单位"  # bob's own unit, whatever the file says
