"""The 表样 the portal ships with (docs/adr/0010). Plain data; `tablespec` gives it meaning.

- ``project``: seed 001's 项目支出绩效自评表 (年初预算资金总额 / 实际投入资金额, no 分值 column).
- ``department``: seed 004's 部门整体支出绩效自评表 (全年预算数 / 全年执行数, 资金结构).
- ``national``: the 项目支出绩效自评表 of 财预〔2020〕10号 (年初预算数 / 全年预算数(A) / 全年执行数(B)).
- ``national-department``: the 部门整体支出绩效自评表 in the national style (weights in the 一级
  cells, 分值 before 执行率).
- ``provincial-project``: a provincial variant: 总额 with 财政资金 / 财政专户管理资金 / 单位资金 /
  其他资金, 指标性质 / 指标值 / 度量单位 as separate cells, 绩效指标（90分） with 产出 60 + 效益 30,
  报表编号, 财务负责人, and 评价结论 / 存在问题 / 改进措施 under the table.

The first three reproduce the portal's original layouts exactly (the migration gives every existing
assessment the matching one, and they render as before). A builtin template is never edited in
place: a change here becomes a new version when the portal migrates (`install_builtin`), and
bureaus clone a builtin template to change it.
"""

from decimal import Decimal

from .tablespec import (
    PLACE_BOTTOM,
    REASON_WARN,
    WEIGHTS_REQUIRED,
    WIDTH_FULL,
    WIDTH_LONG,
    Column,
    FundingRowSpec,
    HeaderField,
    Level1Spec,
    SectionSpec,
    TableSpec,
)

STANDARD_SECTIONS = (
    SectionSpec("basic_info", "部门（单位）基本情况", ("基本情况", "概况")),
    SectionSpec("general_budget", "一般公共预算支出情况", ("一般公共预算",)),
    SectionSpec("gov_fund", "政府性基金预算支出情况", ("政府性基金",)),
    SectionSpec("state_capital", "国有资本经营预算支出情况", ("国有资本",)),
    SectionSpec("social_insurance", "社会保险基金预算支出情况", ("社会保险",)),
    SectionSpec("department_performance", "部门整体支出绩效情况", ("整体支出绩效",)),
    SectionSpec("project_performance", "项目支出绩效情况", ("项目支出绩效",)),
    SectionSpec("problems", "存在的问题及原因分析", ("存在的问题", "问题")),
    SectionSpec("improvements", "下一步改进措施", ("改进措施", "改进")),
    SectionSpec("application", "绩效自评结果拟应用和公开情况", ("结果应用", "结果")),
    SectionSpec("other", "其他需要说明的情况", ("其他需要说明", "其他说明")),
)

OUTPUT = Level1Spec("产出指标", Decimal("50"), ("数量指标", "质量指标", "时效指标", "成本指标"))
BENEFIT = Level1Spec("效益指标", Decimal("30"), ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"))
SATISFACTION = Level1Spec("满意度指标", Decimal("10"), ("服务对象满意度指标",))
# Newer forms put 成本指标 at 一级; its rows then count in 产出指标's weight.
COST = Level1Spec("成本指标", None, ("经济成本指标", "社会成本指标", "生态环境成本指标"), shares="产出指标")
DEFAULT_LEVEL1 = (OUTPUT, BENEFIT, SATISFACTION, COST)

PROJECT_HEADER = (
    HeaderField("project_name", "项目名称", required=True),
    HeaderField("leader_and_phone", "项目负责人及电话"),
    HeaderField("supervisor_name", "主管部门"),
    HeaderField("implementer", "实施单位"),
)

PROJECT = TableSpec(
    code="project",
    name="项目支出绩效自评表（年初预算 / 实际投入）",
    kind="project",
    title="项目支出绩效自评表",
    header=PROJECT_HEADER,
    funding_caption="资金情况（万元）",
    funding_label_header="资金来源",
    funding_columns=(
        Column("initial_budget", "年初预算资金总额"),
        Column("actual", "实际投入资金额"),
        Column("rate", "执行率"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "产生差异的原因"),
    ),
    funding_rows=(
        FundingRowSpec("total", "合计", Decimal("10"), ("fiscal", "other"), ("资金总额", "总计", "总额")),
        FundingRowSpec("fiscal", "其中：财政拨款", aliases=("财政拨款", "财政资金")),
        FundingRowSpec("other", "其他资金", aliases=("其它资金",)),
    ),
    goal_labels=("年度目标", "年度总体目标完成情况"),
    indicator_columns=(
        Column("level1", "一级指标"),
        Column("level2", "二级指标"),
        Column("name", "三级指标"),
        Column("target", "指标值"),
        Column("actual", "全年实际完成值"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "产生差异的原因及改进措施"),
    ),
    level1=DEFAULT_LEVEL1,
    report_title="项目绩效自评报告",
    sections=STANDARD_SECTIONS,
    note="南岳区（种子文件 001）的项目支出绩效自评表；未设分值时不计分。",
)

NATIONAL = TableSpec(
    code="national",
    name="项目支出绩效自评表（财预〔2020〕10号 全国模板）",
    kind="project",
    title="项目支出绩效自评表",
    header=PROJECT_HEADER,
    funding_caption="项目资金（万元）",
    funding_label_header="资金来源",
    funding_columns=(
        Column("initial_budget", "年初预算数"),
        Column("budget", "全年预算数（A）"),
        Column("actual", "全年执行数（B）"),
        Column("rate", "执行率"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "偏差原因"),
    ),
    funding_rows=(
        FundingRowSpec("total", "年度资金总额", Decimal("10"), ("fiscal", "carryover", "other"), ("资金总额", "合计", "总计")),
        FundingRowSpec("fiscal", "其中：本年财政拨款", aliases=("财政拨款", "当年财政拨款", "本年财政拨款")),
        FundingRowSpec("carryover", "上年结转资金", aliases=("上年结转",)),
        FundingRowSpec("other", "其他资金", aliases=("其它资金",)),
    ),
    goal_labels=("预期目标", "实际完成情况"),
    indicator_columns=(
        Column("level1", "一级指标"),
        Column("level2", "二级指标"),
        Column("name", "三级指标"),
        Column("target", "年度指标值"),
        Column("actual", "实际完成值"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "偏差原因分析及改进措施"),
    ),
    level1=DEFAULT_LEVEL1,
    report_title="项目绩效自评报告",
    sections=STANDARD_SECTIONS,
    note="财政部《项目支出绩效评价管理办法》（财预〔2020〕10号）附件的项目支出绩效自评表。",
)

DEPARTMENT = TableSpec(
    code="department",
    name="部门整体支出绩效自评表",
    kind="department",
    title="部门整体支出绩效自评表",
    header=(
        HeaderField("unit_name", "部门（单位）", width=WIDTH_FULL),
        HeaderField("duties", "部门职责", width=WIDTH_LONG),
        HeaderField("staff_quota", "人员编制"),
        HeaderField("staff_actual", "实有人数"),
    ),
    funding_caption="整体资金（万元）",
    funding_label_header="项目",
    funding_columns=(
        Column("budget", "全年预算数"),
        Column("actual", "全年执行数"),
        Column("rate", "执行率"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "偏差原因"),
    ),
    funding_rows=(
        FundingRowSpec("total", "合计", Decimal("10"), ("fiscal", "other"), ("资金总额", "总计", "年度资金总额")),
        FundingRowSpec("fiscal", "（1）财政拨款", aliases=("财政拨款",)),
        FundingRowSpec("other", "（2）其他资金", aliases=("其他资金", "其它资金")),
    ),
    structure_caption="资金结构",
    structure_rows=(
        FundingRowSpec("basic", "（1）基本支出", parts=("personnel", "operating"), aliases=("基本支出",)),
        FundingRowSpec("personnel", "其中：人员支出", aliases=("人员支出", "人员经费")),
        FundingRowSpec("operating", "公用支出", aliases=("公用经费",)),
        FundingRowSpec("project", "（2）项目支出", aliases=("项目支出",)),
    ),
    goal_labels=("年初设定目标", "全年完成情况"),
    indicator_columns=(
        Column("level1", "一级指标"),
        Column("level2", "二级指标"),
        Column("name", "三级指标"),
        Column("target", "年度指标值"),
        Column("actual", "实际完成值"),
        Column("weight", "分值", when_weighted=True),
        Column("score", "得分", when_weighted=True),
        Column("reason", "偏差原因分析及改进措施"),
    ),
    level1=DEFAULT_LEVEL1,
    expenses=True,
    report_title="部门整体支出绩效自评报告",
    sections=STANDARD_SECTIONS,
    note="岳麓区（种子文件 004）的部门整体支出绩效自评表及自评报告。",
)

NATIONAL_DEPARTMENT = TableSpec(
    code="national-department",
    name="部门整体支出绩效自评表（财预〔2020〕10号 全国样式）",
    kind="department",
    title="部门整体支出绩效自评表",
    header=(HeaderField("unit_name", "部门（单位）名称", width=WIDTH_FULL),),
    funding_caption="年度资金（万元）",
    funding_label_header="资金来源",
    funding_columns=(
        Column("initial_budget", "年初预算数"),
        Column("budget", "全年预算数（A）"),
        Column("actual", "全年执行数（B）"),
        Column("weight", "分值"),
        Column("rate", "执行率（B/A）"),
        Column("score", "得分"),
    ),
    funding_rows=(
        FundingRowSpec("total", "年度资金总额", Decimal("10"), ("fiscal", "carryover", "other"), ("资金总额", "合计")),
        FundingRowSpec("fiscal", "其中：本年财政拨款", aliases=("财政拨款", "当年财政拨款")),
        FundingRowSpec("carryover", "上年结转资金", aliases=("上年结转",)),
        FundingRowSpec("other", "其他资金", aliases=("其它资金",)),
    ),
    goal_labels=("预期目标", "实际完成情况"),
    indicator_caption_weight=True,
    level1_caption_weight=True,
    indicator_columns=(
        Column("level1", "一级指标"),
        Column("level2", "二级指标"),
        Column("name", "三级指标"),
        Column("target", "年度指标值"),
        Column("actual", "实际完成值"),
        Column("weight", "分值"),
        Column("score", "得分"),
        Column("reason", "偏差原因分析及改进措施"),
    ),
    level1=DEFAULT_LEVEL1,
    report_title="部门整体支出绩效自评报告",
    sections=STANDARD_SECTIONS,
    weights=WEIGHTS_REQUIRED,
    note="按财预〔2020〕10号项目支出绩效自评表的样式编制的部门整体支出绩效自评表：一级指标注明分值，总分100。",
)

PROVINCIAL_PROJECT = TableSpec(
    code="provincial-project",
    name="项目支出绩效自评表（省级格式：指标性质、度量单位分列）",
    kind="project",
    title="项目支出绩效自评表",
    header=(
        HeaderField("project_name", "项目名称", required=True),
        HeaderField("report_number", "报表编号", aliases=("编号",)),
        HeaderField("supervisor_name", "主管部门"),
        HeaderField("implementer", "实施单位"),
        HeaderField("project_leader", "项目负责人", place=PLACE_BOTTOM),
        HeaderField("leader_phone", "联系电话", place=PLACE_BOTTOM),
        HeaderField("finance_leader", "财务负责人", place=PLACE_BOTTOM),
    ),
    funding_caption="项目资金（万元）",
    funding_label_header="资金来源",
    funding_columns=(
        Column("initial_budget", "年初预算"),
        Column("budget", "调整后预算数"),
        Column("actual", "预算执行数"),
        Column("rate", "预算执行率"),
        Column("weight", "权重"),
        Column("score", "得分"),
        Column("reason", "原因"),
    ),
    funding_rows=(
        FundingRowSpec("total", "总额", Decimal("10"), ("fiscal", "special_account", "unit_funds", "other"), ("合计", "资金总额")),
        FundingRowSpec("fiscal", "其中：财政资金", aliases=("财政资金", "财政拨款")),
        FundingRowSpec("special_account", "财政专户管理资金", aliases=("财政专户资金",)),
        FundingRowSpec("unit_funds", "单位资金", aliases=("单位自有资金",)),
        FundingRowSpec("other", "其他资金", aliases=("其它资金",)),
    ),
    goal_labels=("年度目标", "年度总体目标完成情况"),
    indicator_caption_weight=True,
    indicator_columns=(
        Column("level1", "一级指标"),
        Column("level2", "二级指标"),
        Column("name", "三级指标"),
        Column("operator", "指标性质"),
        Column("target", "指标值"),
        Column("unit", "度量单位"),
        Column("actual", "完成值"),
        Column("weight", "权重"),
        Column("score", "得分"),
        Column("reason", "未完成原因分析"),
    ),
    level1=(
        Level1Spec("产出指标", Decimal("60"), OUTPUT.level2),
        Level1Spec("效益指标", Decimal("30"), BENEFIT.level2),
        Level1Spec("成本指标", None, COST.level2, shares="产出指标"),
    ),
    blocks=(
        SectionSpec("conclusion", "评价结论", ("自评结论", "总体评价")),
        SectionSpec("problems", "存在问题", ("存在的问题", "主要问题")),
        SectionSpec("improvements", "改进措施", ("改进意见", "整改措施", "下一步改进措施")),
    ),
    reason_policy=REASON_WARN,
    weights=WEIGHTS_REQUIRED,
    note="外省公开的项目支出绩效自评表格式：资金来源五行、指标性质与度量单位分列、绩效指标90分（产出60、效益30）、表下评价结论。",
)

BUILTIN = (PROJECT, NATIONAL, DEPARTMENT, NATIONAL_DEPARTMENT, PROVINCIAL_PROJECT)
BY_CODE = {spec.code: spec for spec in BUILTIN}
# The templates of the portal's original three layouts: existing assessments get these.
LEGACY_CODES = ("project", "national", "department")
