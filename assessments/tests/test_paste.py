"""从Excel粘贴 (issue 17): a block of indicator rows pasted from a spreadsheet comes back as entry
form values, read by the assessment's 表样 with the import's parser; nothing is saved until 保存草稿."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from assessments import workflow
from assessments.forms import EntryForm
from assessments.importing import paste
from assessments.models import Indicator
from assessments.readmodel import with_content
from assessments.services import create_assessment

from .test_access_matrix import valid_assessment

pytestmark = pytest.mark.django_db

PROJECT_HEADER = "一级指标\t二级指标\t三级指标\t指标值\t全年实际完成值\t分值\t得分\t产生差异的原因及改进措施"
ROWS = [
    "产出指标\t数量指标\t培训次数\t≥10次\t12次\t20\t\t",
    # 一级/二级 left blank under a filled one: "same as above", as merged cells in Excel.
    '\t\t培训人数\t≥100人\t120人\t15\t\t"超出预期：\n增加了一期""夜校"""',
    "\t质量指标\t培训合格率\t≥90%\t95%\t15\t\t",
    "效益指标\t社会效益指标\t群众安全感\t有所提升\t有所提升\t30\t\t",
]
FIELDS = ("level1", "level2", "name", "target", "actual", "weight", "score", "outcome", "reason")


def post_paste(client, a, text, start=None):
    data = {"text": text}
    if start is not None:
        data["start"] = str(start)
    return client.post(reverse("assessments:paste", args=[a.pk]), data)


def pasted(response, fields=FIELDS):
    """The pasted rows as tuples of `fields`, and the index of the first."""
    body = response.json()
    start = body["start"]
    return [tuple(row[f"indicators-{n}-{name}"] for name in fields) for n, row in enumerate(body["rows"], start=start)]


EXPECTED = [
    ("产出指标", "数量指标", "培训次数", "≥10次", "12次", "20.00", "", "", ""),
    ("产出指标", "数量指标", "培训人数", "≥100人", "120人", "15.00", "", "", '超出预期：\n增加了一期"夜校"'),
    ("产出指标", "质量指标", "培训合格率", "≥90%", "95%", "15.00", "", "", ""),
    ("效益指标", "社会效益指标", "群众安全感", "有所提升", "有所提升", "30.00", "", "", ""),
]


def test_rows_with_their_header_row(alice_client, project):
    response = post_paste(alice_client, project, "\r\n".join([PROJECT_HEADER, *ROWS]) + "\r\n")
    assert response.status_code == 200
    body = response.json()
    assert pasted(response) == EXPECTED
    assert (body["start"], body["total_forms"], body["header_added"]) == (0, 4, False)
    assert body["message"] == "已粘贴 4 行，请核对后保存草稿。"
    assert body["warnings"] == []
    # Nothing saved.
    assert project.indicators.count() == 0


def test_rows_without_a_header_row_are_read_by_the_templates_columns(alice_client, project):
    response = post_paste(alice_client, project, "\n".join(ROWS))
    assert response.status_code == 200
    assert pasted(response) == EXPECTED
    assert response.json()["header_added"] is True
    assert response.json()["warnings"] == []


def test_a_new_assessment_reuses_its_empty_rows_and_saving_keeps_every_value(alice_client, project):
    # The page of a new assessment has 5 empty rows (0…4): the page asks for row 0 on.
    page = alice_client.get(reverse("assessments:edit", args=[project.pk]))
    data = page.context["entry"].as_post_data()
    assert data["indicators-TOTAL_FORMS"] == "5"
    response = post_paste(alice_client, project, "\n".join(ROWS), start=0)
    for row in response.json()["rows"]:
        data.update(row)
    saved = alice_client.post(reverse("assessments:edit", args=[project.pk]), data)
    assert saved.status_code == 302
    assert list(project.indicators.order_by("position").values_list("level1", "level2", "name", "target", "actual", "weight", "reason")) == [
        (r[0], r[1], r[2], r[3], r[4], Decimal(r[5]), r[8]) for r in EXPECTED
    ]


def test_a_bad_weight_comes_back_as_typed_and_the_save_names_the_cell(alice_client, project):
    rows = [*ROWS[:2], "\t质量指标\t培训合格率\t≥90%\t95%\tabc\t\t", ROWS[3]]
    response = post_paste(alice_client, project, "\n".join(rows))
    assert pasted(response)[2] == ("产出指标", "质量指标", "培训合格率", "≥90%", "95%", "abc", "", "", "")
    assert response.json()["warnings"] == ["粘贴的第3行“分值”为“abc”：无法识别为数字。已按原文填入，请在表中更正。"]
    data = alice_client.get(reverse("assessments:edit", args=[project.pk])).context["entry"].as_post_data()
    for row in response.json()["rows"]:
        data.update(row)
    refused = alice_client.post(reverse("assessments:edit", args=[project.pk]), data)
    assert refused.status_code == 400
    assert refused.context["errors"] == ["绩效指标第3行「分值」：请输入数字，例如 5 或 4.84。"]
    assert 'value="abc"' in refused.content.decode()
    assert project.indicators.count() == 0


def test_columns_and_rows_the_template_does_not_have_are_named(alice_client, project):
    text = "\n".join([
        PROJECT_HEADER + "\t备注",
        ROWS[0] + "\t自填",
        "合计\t\t\t\t\t20\t\t",
        "注：数据来自年度统计。",
    ])
    response = post_paste(alice_client, project, text)
    assert pasted(response) == [EXPECTED[0]]
    assert response.json()["warnings"] == [
        "第9列“备注”不是本表样的列（本表样的列：一级指标、二级指标、三级指标、指标值、全年实际完成值、分值、得分、"
        "产生差异的原因及改进措施），该列未粘贴。",
        "粘贴的第3、4行不是指标行（如合计、说明），已跳过。",
    ]


def test_oversize_is_refused_with_the_limit_named(alice_client, project):
    response = post_paste(alice_client, project, "\n".join([ROWS[0]] * 201))
    assert response.status_code == 400
    assert response.json() == {"error": "粘贴的内容有 201 行，超过一次最多 200 行的限制，请分批粘贴。"}
    response = post_paste(alice_client, project, "产出指标\t数量指标\t" + "很长的指标名称" * 10_000)
    assert response.status_code == 400
    assert response.json() == {"error": "粘贴的内容过大（超过 200 KB），一次最多粘贴 200 行、200 KB，请分批粘贴。"}
    response = post_paste(alice_client, project, "\t".join(["≥10次"] * 51))
    assert response.json() == {"error": "粘贴的内容有 51 列，超过一次最多 50 列的限制：请只复制绩效指标表的各列。"}
    response = post_paste(alice_client, project, "\n\t\n")
    assert response.json() == {"error": paste.EMPTY}


def test_text_that_is_no_indicator_table_is_refused(alice_client, project):
    response = post_paste(alice_client, project, "张三\t李四\n王五\t赵六")
    assert response.status_code == 400
    assert response.json() == {"error": "未能按本表样识别出绩效指标：请复制按本表样各列（一级指标、二级指标、三级指标、指标值、"
                                        "全年实际完成值、分值、得分、产生差异的原因及改进措施）排列的指标行，可连同表头一起复制。"}


def test_another_units_officer_gets_404_and_a_submitted_assessment_is_refused(client, bob, alice, unit_a, round_2020):
    a = valid_assessment(unit_a, round_2020, "已提交项目", user=alice)
    client.force_login(bob)
    assert post_paste(client, a, "\n".join(ROWS)).status_code == 404
    assert client.get(reverse("assessments:paste", args=[a.pk])).status_code == 405
    client.force_login(alice)
    workflow.perform(alice, a, "submit", "")
    response = post_paste(client, a, "\n".join(ROWS))
    assert response.status_code == 403
    assert response.json() == {"error": "该自评当前状态为“已提交”，不能修改。"}


def test_locked_rows_are_never_written_pasted_rows_come_after_the_saved_ones(alice_client, project):
    Indicator.objects.create(assessment=project, position=1, level1="产出指标", level2="数量指标", name="批复的指标",
                             target="≥10次", approved_target="≥10次", weight=20)
    Indicator.objects.create(assessment=project, position=2, level1="效益指标", level2="社会效益指标", name="已保存的指标",
                             target="有所提升", weight=30)
    # Even when the page asks for row 0, the saved rows (0 and 1) are not addressed.
    response = post_paste(alice_client, project, "\n".join(ROWS[:2]), start=0)
    body = response.json()
    assert (body["start"], body["total_forms"]) == (2, 4)
    assert all(int(name.split("-")[1]) >= 2 for row in body["rows"] for name in row)
    data = EntryForm(with_content(type(project).objects).get(pk=project.pk)).as_post_data()
    for row in body["rows"]:
        data.update(row)
    data["indicators-TOTAL_FORMS"] = "4"
    assert alice_client.post(reverse("assessments:edit", args=[project.pk]), data).status_code == 302
    assert list(project.indicators.order_by("position").values_list("name", "target", "approved_target")) == [
        ("批复的指标", "≥10次", "≥10次"), ("已保存的指标", "有所提升", ""),
        ("培训次数", "≥10次", ""), ("培训人数", "≥100人", ""),
    ]


def test_the_national_template_reads_its_own_labels(alice_client, unit_a, round_2020, alice):
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="national", project_name="全国样式项目", user=alice)
    text = "\n".join([
        "一级指标\t二级指标\t三级指标\t年度指标值\t实际完成值\t分值\t得分\t偏差原因分析及改进措施",
        "产出\t数量\t开展宣传活动\t≥6次\t8次\t10\t10\t",
        "满意度指标\t服务对象满意度\t群众满意度\t≥90%\t93%\t10\t9\t个别群众反映不够及时",
    ])
    response = post_paste(alice_client, a, text)
    assert pasted(response) == [
        ("产出指标", "数量指标", "开展宣传活动", "≥6次", "8次", "10.00", "", "", ""),
        # The sheet's 得分 differs from the rule's: kept as the unit's own score.
        ("满意度指标", "服务对象满意度指标", "群众满意度", "≥90%", "93%", "10.00", "9.00", "", "个别群众反映不够及时"),
    ]
    assert response.json()["warnings"] == [
        "粘贴的第2行第2列：二级指标“数量”按本表样的写法记为“数量指标”。",
        "粘贴的第3行第2列：二级指标“服务对象满意度”按本表样的写法记为“服务对象满意度指标”。",
    ]


def test_a_template_with_separate_operator_and_unit_columns_without_header(alice_client, unit_a, round_2020, alice):
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="provincial-project",
                          project_name="省级格式项目", user=alice)
    text = "产出指标\t数量指标\t培训次数\t≥\t10\t次\t12\t30\t\t\n\t\t培训人数\t≥\t100\t人\t120\t30\t\t"
    response = post_paste(alice_client, a, text)
    fields = ("level1", "level2", "name", "operator", "target", "unit", "actual", "weight", "score", "reason")
    assert pasted(response, fields) == [
        ("产出指标", "数量指标", "培训次数", "≥", "10", "次", "12", "30.00", "", ""),
        ("产出指标", "数量指标", "培训人数", "≥", "100", "人", "120", "30.00", "", ""),
    ]
    assert json.dumps(response.json()["warnings"], ensure_ascii=False) == "[]"
