"""Risk flags (风险提示) a reviewer can filter and sort by, computed from the read model."""

from dataclasses import dataclass
from decimal import Decimal

from . import scoring


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    tooltip: str


FLAGS = {
    f.code: f
    for f in (
        Flag("all_full", "全部满分", "所有计分指标均为满分，自评可能偏宽。"),
        Flag("actual_is_target", "完成值照抄指标值", "有定量指标的实际完成值与指标值文字完全相同，可能未如实填写实际数。"),
        Flag("over_no_reason", "超额无说明", "有指标实际完成值达到指标值的 130% 以上，但未说明原因。"),
        Flag("satisfaction_100", "满意度≥100%", "满意度指标的实际完成值为 100% 或以上，需核实调查依据。"),
        Flag("rate_out", "执行率异常", "预算执行率低于 90% 或高于 100%。"),
        Flag("weights_not_100", "分值合计非100", "预算执行率与各指标分值合计不等于 100（或未设分值）。"),
        Flag("report_empty", "报告章节空缺", "自评报告的必填章节（基本情况、绩效情况、问题、改进措施）有空缺。"),
        Flag("score_differs", "得分与规则不一致", "有指标或预算执行率的自评得分与按评分规则计算的得分不同（详见各行：自评得分与规则得分），需核实依据。"),
        # Year over year (history.py): need the earlier years of the same indicator (lineage).
        Flag("target_below_last", "指标值低于上年实际", "有定量指标今年的指标值低于上一年度的实际完成值（计量单位相同），目标可能定得偏低。"),
        Flag("target_flat", "指标值三年未变", "有定量指标连续三个年度指标值不变，而实际完成值均超出指标值 30% 以上，目标可能定得偏低。"),
        # Approved 绩效目标 (issue 14): a target changed by a 目标调整 (with its reason).
        Flag("target_adjusted", "目标已调整", "有批复的绩效指标的指标值经“目标调整”改变，审核时请核对批复值、调整后的值和调整理由。"),
        Flag("unit_changed", "计量单位变化", "有定量指标的计量单位与上一年度不同（如“次”改为“个”、“%”改为“万元”），前后年度数值不能直接比较。"),
        # Evidence (issue 13): from the files submitted with the version.
        Flag("full_no_evidence", "满分无佐证", "有满意度指标或数量指标得满分，但该行没有上传任何佐证材料。"),
        Flag("satisfaction_no_survey", "满意度≥100%无调查", "满意度指标的实际完成值为 100% 或以上，但未上传“满意度调查”类佐证材料。"),
    )
}
EVIDENCE_SURVEY = "survey"
QUANTITY_LEVEL2 = "数量指标"
# Targets where a higher number is the more ambitious one (≤ / ＜ targets are ceilings).
MORE_IS_BETTER = (None, scoring.GE, scoring.GT, scoring.EQ)
# "target_flat": the actual beats an unchanged target by 30% or more (fixed, as the tooltip says).
FLAT_OVER_RATIO = Decimal("1.30")

CORE_SECTIONS = {
    "department": ("basic_info", "department_performance", "problems", "improvements"),
    # A project table (seed 001) comes without a narrative report of its own.
    "project": (),
}


def compute(view, history=None, evidence=None) -> list[str]:
    """Flag codes for an assessment's read model (`readmodel.AssessmentView`).

    With `history` (from `history.history(view)`) the year-over-year flags are added too; with
    `evidence` ({indicator key or None: kinds of the files submitted}, `evidence.summary`) the
    evidence flags.
    """
    result = view.result
    codes = []
    scored = [line for line in view.indicators if line.score is not None and line.weight]
    if scored and all(line.score == scoring.quantize(line.weight) for line in scored):
        codes.append("all_full")
    if any(
        line.result.kind == scoring.KIND_QUANTITATIVE and line.actual.strip() == line.target.strip()
        for line in view.indicators
    ):
        codes.append("actual_is_target")
    if any(
        scoring.FLAG_OVER_ACHIEVEMENT in line.result.flags and not line.reason.strip() for line in view.indicators
    ):
        codes.append("over_no_reason")
    if any(
        line.level1 == scoring.LEVEL1_SATISFACTION
        and line.result.actual is not None
        and line.result.actual.unit == "%"
        and line.result.actual.number >= Decimal("100")
        for line in view.indicators
    ):
        codes.append("satisfaction_100")
    if any(line.result.differs for line in view.indicators) or any(r.differs for r in result.funding_rows):
        codes.append("score_differs")
    rate = result.funding.rate
    if rate is not None and (rate < Decimal("90") or rate > Decimal("100")):
        codes.append("rate_out")
    if result.weight_total is None or result.weight_total != view.table.total_weight:
        codes.append("weights_not_100")
    bodies = {s.key: s.body.strip() for s in view.sections}
    if any(key in bodies and not bodies[key] for key in CORE_SECTIONS[view.assessment.kind]):
        codes.append("report_empty")
    if evidence is not None:
        codes += evidence_codes(view, evidence)
    if any(line.target_adjusted for line in view.indicators):
        codes.append("target_adjusted")
    if history is not None:
        codes += history_codes(history, view.assessment.round.rules)
    return codes


def _satisfaction_over_100(line) -> bool:
    return (
        line.level1 == scoring.LEVEL1_SATISFACTION
        and line.result.actual is not None
        and line.result.actual.unit == "%"
        and line.result.actual.number >= Decimal("100")
    )


def evidence_codes(view, evidence: dict) -> list[str]:
    """满分无佐证: a 满意度 or 数量 row at full marks with no file of its own; 满意度≥100%无调查: a
    satisfaction row at 100% or more and no 满意度调查 file (for the row or the whole assessment)."""
    codes = []
    if any(
        (line.level1 == scoring.LEVEL1_SATISFACTION or line.level2 == QUANTITY_LEVEL2)
        and line.score is not None and line.weight
        and line.score == scoring.quantize(line.weight)
        and not evidence.get(line.key)
        for line in view.indicators
    ):
        codes.append("full_no_evidence")
    surveys = {key for key, kinds in evidence.items() if EVIDENCE_SURVEY in kinds}
    if any(_satisfaction_over_100(line) and line.key not in surveys and None not in surveys for line in view.indicators):
        codes.append("satisfaction_no_survey")
    return codes


def history_codes(items, rules: scoring.RuleSet = scoring.DEFAULT_RULES) -> list[str]:
    """Year-over-year flag codes; also sets each `IndicatorHistory.flags` for the pages."""
    for h in items:
        h.flags = [code for code, test in _HISTORY_TESTS if test(h, rules)]
    return [code for code, _ in _HISTORY_TESTS if any(code in h.flags for h in items)]


def _is_cost(h) -> bool:
    """成本指标: spending less than the target is the good direction, so neither a lower target
    nor an actual above the target means the target is too easy."""
    line = h.line
    return line is not None and scoring.LEVEL1_COST in (line.level1, line.level2)


def _target_below_last(h, rules) -> bool:
    if not h.earlier or _is_cost(h):
        return False
    target, last_actual = h.current.target_value, h.earlier[-1].actual_value
    return (
        target is not None
        and last_actual is not None
        and target.operator in MORE_IS_BETTER
        and target.unit == last_actual.unit
        and target.number < last_actual.number
    )


def _target_flat(h, rules) -> bool:
    """The same target three years running while every comparable actual beats it by 30%+."""
    points = h.points[-3:]
    if len(points) < 3 or _is_cost(h):
        return False
    first = points[0].target_value
    if first is None or first.operator not in MORE_IS_BETTER or first.number <= 0:
        return False
    same = (first.operator, first.number, first.unit)
    if any(p.target_value is None or (p.target_value.operator, p.target_value.number, p.target_value.unit) != same
           for p in points):
        return False
    # The current year's actual may not be filled in yet; the years that have one all count.
    actuals = [p.actual_value for p in points if p.actual_value is not None and p.actual_value.unit == first.unit]
    return len(actuals) >= 2 and all(a.number >= first.number * FLAT_OVER_RATIO for a in actuals)


def _unit_changed(h, rules) -> bool:
    if not h.earlier:
        return False
    current, last = h.current, h.earlier[-1]
    pairs = ((current.target_value, last.target_value), (current.actual_value, last.actual_value))
    return any(now is not None and before is not None and now.unit != before.unit for now, before in pairs)


_HISTORY_TESTS = (
    ("target_below_last", _target_below_last),
    ("target_flat", _target_flat),
    ("unit_changed", _unit_changed),
)


def encode(codes: list[str]) -> str:
    return f",{','.join(codes)}," if codes else ""


def decode(value: str) -> list[Flag]:
    return [FLAGS[c] for c in value.strip(",").split(",") if c in FLAGS]


def score_differences(view) -> list[str]:
    """The rows whose 自评得分 differs from the rule's, with both figures, for reviewers."""
    out = [
        f"{r.label or '预算执行率'}：自评 {scoring.fmt(r.score)}，规则 {scoring.fmt(r.suggested)}"
        for r in (line for line in view.funding if line.entered and line.suggested is not None and line.score != line.suggested)
    ]
    for line in view.indicators:
        if line.result.differs:
            name = " ".join((line.name or "").split())
            out.append(f"第{line.number}行「{name}」：自评 {scoring.fmt(line.score)}，规则 {scoring.fmt(line.suggested)}")
    return out
