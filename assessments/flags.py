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
    )
}

CORE_SECTIONS = {
    "department": ("basic_info", "department_performance", "problems", "improvements"),
    # A project table (seed 001) comes without a narrative report of its own.
    "project": (),
}


def compute(view) -> list[str]:
    """Flag codes for an assessment's read model (`readmodel.AssessmentView`)."""
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
    rate = result.funding.rate
    if rate is not None and (rate < Decimal("90") or rate > Decimal("100")):
        codes.append("rate_out")
    if result.weight_total is None or result.weight_total != view.assessment.round.rules.total_weight:
        codes.append("weights_not_100")
    bodies = {s.key: s.body.strip() for s in view.sections}
    if any(not bodies.get(key) for key in CORE_SECTIONS[view.assessment.kind]):
        codes.append("report_empty")
    return codes


def encode(codes: list[str]) -> str:
    return f",{','.join(codes)}," if codes else ""


def decode(value: str) -> list[Flag]:
    return [FLAGS[c] for c in value.strip(",").split(",") if c in FLAGS]
