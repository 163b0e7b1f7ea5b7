"""Helpers for the season tests (issue 14): a 绩效目标申报表 workbook, one sheet per project."""

import io

import openpyxl

from assessments.models import TableTemplate, TemplateAssignment

TARGET_ROWS = [
    # 一级, 二级, 三级, 指标值, 分值: the national 表样's 产出 50, 效益 30, 满意度 10 (+ 10 for 预算执行率)
    ("产出指标", "数量指标", "开展平安建设宣传活动次数", "≥10次", "30"),
    ("产出指标", "质量指标", "矛盾纠纷调处成功率", "≥90%", "20"),
    ("效益指标", "社会效益指标", "群众安全感提升", "有所提升", "30"),
    ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "10"),
]


def target_sheet(ws, *, year, project, implementer, supervisor="", rows=TARGET_ROWS, goal="全年开展平安建设宣传，维护社会稳定。"):
    ws.append([f"{year}年度项目支出绩效目标申报表"])
    ws.append(["项目名称", project])
    ws.append(["主管部门", supervisor])
    ws.append(["实施单位", implementer])
    ws.append(["年度目标", goal])
    ws.append(["一级指标", "二级指标", "三级指标", "指标值", "分值"])
    for row in rows:
        ws.append(list(row))


def target_workbook(sheets: list[dict], year=2020) -> bytes:
    """sheets: [{"title", "project", "implementer", "rows"?}] → .xlsx bytes."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(sheet["title"])
        target_sheet(ws, year=year, project=sheet["project"], implementer=sheet["implementer"],
                     rows=sheet.get("rows", TARGET_ROWS))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def use_national_project_template(round_):
    """The round's 项目支出 assessments use the national 表样 (it has 分值)."""
    TemplateAssignment.objects.create(round=round_, kind="project", template=TableTemplate.objects.get(code="national"))
