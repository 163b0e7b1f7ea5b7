"""The three table layouts an assessment can use, and which columns each shows.

Seed 001 (项目支出, 年初预算资金总额 / 实际投入资金额 / 产生差异的原因), seed 004 (部门整体支出,
全年预算数 / 全年执行数 / 执行率 / 分值 / 得分) and the national template of 财预〔2020〕10号
(年初预算数 / 全年预算数(A) / 全年执行数(B) / 分值 / 执行率(B/A) / 得分). One model holds them
all; forms, pages and exports ask this module what to show.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    code: str
    table_title: str
    funding_caption: str
    sources: tuple[str, ...]
    source_labels: dict[str, str]
    columns: tuple[str, ...]            # funding columns the form shows, in order
    column_labels: dict[str, str]
    has_structure: bool
    goal_labels: tuple[str, str]
    indicator_target_label: str
    indicator_actual_label: str
    indicator_reason_label: str


PROJECT = Layout(
    code="project",
    table_title="项目支出绩效自评表",
    funding_caption="资金情况（万元）",
    sources=("total", "fiscal", "other"),
    source_labels={"total": "合计", "fiscal": "其中：财政拨款", "other": "其他资金"},
    columns=("initial_budget", "actual", "reason"),
    column_labels={"initial_budget": "年初预算资金总额", "actual": "实际投入资金额", "reason": "产生差异的原因"},
    has_structure=False,
    goal_labels=("年度目标", "年度总体目标完成情况"),
    indicator_target_label="指标值",
    indicator_actual_label="全年实际完成值",
    indicator_reason_label="产生差异的原因及改进措施",
)

NATIONAL = Layout(
    code="national",
    table_title="项目支出绩效自评表",
    funding_caption="项目资金（万元）",
    sources=("total", "fiscal", "carryover", "other"),
    source_labels={"total": "年度资金总额", "fiscal": "其中：本年财政拨款", "carryover": "上年结转资金", "other": "其他资金"},
    columns=("initial_budget", "budget", "actual", "reason"),
    column_labels={
        "initial_budget": "年初预算数",
        "budget": "全年预算数（A）",
        "actual": "全年执行数（B）",
        "reason": "偏差原因",
    },
    has_structure=False,
    goal_labels=("预期目标", "实际完成情况"),
    indicator_target_label="年度指标值",
    indicator_actual_label="实际完成值",
    indicator_reason_label="偏差原因分析及改进措施",
)

DEPARTMENT = Layout(
    code="department",
    table_title="部门整体支出绩效自评表",
    funding_caption="整体资金（万元）",
    sources=("total", "fiscal", "other"),
    source_labels={"total": "合计", "fiscal": "（1）财政拨款", "other": "（2）其他资金"},
    columns=("budget", "actual", "reason"),
    column_labels={"budget": "全年预算数", "actual": "全年执行数", "reason": "偏差原因"},
    has_structure=True,
    goal_labels=("年初设定目标", "全年完成情况"),
    indicator_target_label="年度指标值",
    indicator_actual_label="实际完成值",
    indicator_reason_label="偏差原因分析及改进措施",
)

LAYOUTS = {layout.code: layout for layout in (PROJECT, NATIONAL, DEPARTMENT)}

STRUCTURE_ITEMS = ("basic", "personnel", "operating", "project")
STRUCTURE_LABELS = {
    "basic": "（1）基本支出",
    "personnel": "其中：人员支出",
    "operating": "公用支出",
    "project": "（2）项目支出",
}


def layout_for(code: str) -> Layout:
    return LAYOUTS[code]
