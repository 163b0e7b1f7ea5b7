"""Self-assessment scoring (自评得分): value parsing, row scores, weight checks, totals and grade.

Plain Python with no Django import, so it is easy to test and to reuse in export and import.
The rules are those of /work/shared/SCORING.md (财预〔2020〕10号). Everything is computed in
`Decimal`; each row score is rounded half-up to 2 decimals and totals add the rounded parts.

The unit's 得分 is the record; the rule-computed score is advice (`suggested`) shown beside it.
A row without a typed 得分 takes the suggestion. A typed 得分 that differs from the suggestion is
a warning for the officer and a risk flag for reviewers; one outside 0…分值 (or outside the band
of the row's 完成情况) is a problem that blocks submitting. Weights, the execution-rate weight and
whether a missing reason blocks or only warns come from the 表样 (`TableRules`); thresholds and
grades from the round (`RuleSet`). Totals and grades exist only when every row is scored.

Choices made where SCORING.md leaves room (kept here so callers know what to expect):

- A bare target number ("50", "100%") is read as ＝, i.e. more-is-better when t > 0.
- ＞ and ＜ score like ≥ and ≤ (the table in SCORING.md treats them alike).
- A quantitative row's `outcome` is derived, never entered: 达成 when the target is met;
  otherwise 部分达成 when the share earned is at least the partial band floor (0.6) and
  未达成 below it. A qualitative row's outcome is the one chosen, else read from the actual
  ("满意"), else from the band of the typed 得分.
- The funding "reason required" test compares the displayed (2-decimal) rate with the
  thresholds, so the message never contradicts the percentage the officer sees; the score
  uses the unrounded ratio.
- Qualitative score bands are checked on the score rounded to 2 decimals.
"""

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

# --- Vocabulary -------------------------------------------------------------------------------

GE, GT, EQ, LT, LE = ">=", ">", "=", "<", "<="
OPERATOR_SYMBOLS = {GE: "≥", GT: "＞", EQ: "＝", LT: "＜", LE: "≤"}

LEVEL1_OUTPUT, LEVEL1_BENEFIT, LEVEL1_SATISFACTION, LEVEL1_COST = "产出指标", "效益指标", "满意度指标", "成本指标"
TAXONOMY: dict[str, tuple[str, ...]] = {
    LEVEL1_OUTPUT: ("数量指标", "质量指标", "时效指标", "成本指标"),
    LEVEL1_BENEFIT: ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"),
    LEVEL1_SATISFACTION: ("服务对象满意度指标",),
    # Newer forms put 成本指标 at 一级; its weight is then shared with 产出指标.
    LEVEL1_COST: ("经济成本指标", "社会成本指标", "生态环境成本指标"),
}

OUTCOME_ACHIEVED, OUTCOME_PARTIAL, OUTCOME_FAILED = "achieved", "partial", "failed"
OUTCOME_LABELS = {
    OUTCOME_ACHIEVED: "达成年度指标",
    OUTCOME_PARTIAL: "部分达成年度指标并具有一定效果",
    OUTCOME_FAILED: "未达成年度指标且效果较差",
}
# Qualitative actual values that units write to mean "achieved" (seen in the seeds).
ACHIEVED_WORDS: frozenset[str] = frozenset(
    {
        "达成预期指标",
        "效果明显",
        "有所帮助",
        "有所推升",
        "满意",
        "符合相关规定",
        "达成",
        "已达成",
        "达成年度指标",
        "完成",
        "已完成",
    }
)

KIND_QUANTITATIVE, KIND_QUALITATIVE = "quantitative", "qualitative"
FLAG_OVER_ACHIEVEMENT = "over_achievement"
FLAG_NOT_ACHIEVED = "not_achieved"

SECTION_FUNDING, SECTION_INDICATORS, SECTION_WEIGHTS = "funding", "indicators", "weights"

_CENT = Decimal("0.01")
_HUNDRED = Decimal("100")
_ZERO = Decimal("0")


@dataclass(frozen=True)
class RuleSet:
    """A round's named scoring thresholds; provinces differ, so none of these are constants.
    (Weights belong to the table template: `TableRules`.)"""

    name: str = "默认规则（财预〔2020〕10号）"
    over_achievement_ratio: Decimal = Decimal("1.30")
    low_rate_threshold: Decimal = Decimal("0.90")
    grade_thresholds: tuple[tuple[str, Decimal], ...] = (
        ("优", Decimal("90")),
        ("良", Decimal("80")),
        ("中", Decimal("60")),
    )
    lowest_grade: str = "差"
    # Qualitative bands as shares of the weight: 达成 [0.8w, w], 部分达成 [0.6w, 0.8w), 未达成 [0, 0.6w).
    achieved_band_floor: Decimal = Decimal("0.80")
    partial_band_floor: Decimal = Decimal("0.60")


DEFAULT_RULES = RuleSet()

DEFAULT_FUNDING_WEIGHT = Decimal("10")


@dataclass(frozen=True)
class TableRules:
    """What a table template decides about scoring (built by `tablespec.TableSpec.table_rules`).

    `level1_groups`: (一级, its weight, the 一级 names whose rows count in it).
    """

    level1_groups: tuple[tuple[str, Decimal, tuple[str, ...]], ...] = (
        (LEVEL1_OUTPUT, Decimal("50"), (LEVEL1_OUTPUT, LEVEL1_COST)),
        (LEVEL1_BENEFIT, Decimal("30"), (LEVEL1_BENEFIT,)),
        (LEVEL1_SATISFACTION, Decimal("10"), (LEVEL1_SATISFACTION,)),
    )
    weights_required: bool = False  # False: a table without any 分值 is allowed and gets no score
    reasons_block: bool = True  # False: a missing reason (over/under-achievement, rate) only warns
    reasons_asked: bool = True  # False: the table has no column for an indicator's reason


DEFAULT_TABLE = TableRules()


@dataclass(frozen=True)
class Problem:
    """One problem (submit-blocking) or warning, with a full Chinese sentence for the officer."""

    section: str  # "funding" | "indicators" | "weights" | "goals" | "report" | "header"
    row: int | None  # 1-based row number within its section, None for section-wide problems
    field: str  # field the problem belongs to ("actual", "reason", "weight", …), "" for the row
    message: str


# --- Numbers and formatting -------------------------------------------------------------------


def _dec(value: Decimal | int | str) -> Decimal:
    # Callers may hand over ints (e.g. literal weights); never go through float.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def quantize(value: Decimal) -> Decimal:
    """Round half-up to 2 decimals (the rounding used on the paper forms)."""
    return _dec(value).quantize(_CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None) -> str:
    """Two-decimal text for amounts, rates and scores: "9.67"; "" for None."""
    if value is None:
        return ""
    rounded = quantize(value)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return f"{rounded:f}"


def fmt_weight(value: Decimal | None) -> str:
    """Compact text for weights: 45 -> "45", 12.5 -> "12.5", 9.67 -> "9.67"; "" for None."""
    if value is None:
        return ""
    return _trim_zeros(fmt(value))


def _trim_zeros(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _plain(value: Decimal) -> str:
    """A number as the officer wrote it, without rounding ("10584.29", "36", "30.64")."""
    text = _trim_zeros(f"{value:f}")
    return "0" if text in ("-0", "") else text


def _percent(numerator: Decimal, denominator: Decimal) -> Decimal:
    return quantize(numerator * _HUNDRED / denominator)


def _scaled(weight: Decimal, numerator: Decimal, denominator: Decimal) -> Decimal:
    # Multiply before dividing so that exact results (e.g. 10 × 5300 ÷ 5300) stay exact.
    return quantize(weight * numerator / denominator)


def _ceil_cent(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_CEILING)


def _floor_cent(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_FLOOR)


# --- Parsing target / actual text -------------------------------------------------------------


@dataclass(frozen=True)
class ParsedValue:
    """A quantitative value written as text: operator, number, unit, and the text as written."""

    text: str
    operator: str | None
    number: Decimal
    unit: str

    @property
    def canonical(self) -> str:
        """Display form with the full-width operator symbol: "≥10次", "＝36万元", "100%"."""
        symbol = OPERATOR_SYMBOLS[self.operator] if self.operator else ""
        return f"{symbol}{_plain(self.number)}{self.unit}"

    @property
    def amount(self) -> str:
        """Number and unit without the operator: "30.64万元"."""
        return f"{_plain(self.number)}{self.unit}"


# Longest spellings first so that ">=" is not read as ">" followed by "=".
_OPERATOR_SPELLINGS: tuple[tuple[str, str], ...] = (
    (">=", GE),
    ("=>", GE),
    ("<=", LE),
    ("=<", LE),
    ("==", EQ),
    ("≥", GE),
    ("≤", LE),
    (">", GT),
    ("<", LT),
    ("=", EQ),
    ("大于等于", GE),
    ("大于或等于", GE),
    ("不低于", GE),
    ("不少于", GE),
    ("不小于", GE),
    ("小于等于", LE),
    ("小于或等于", LE),
    ("不高于", LE),
    ("不超过", LE),
    ("不多于", LE),
    ("不大于", LE),
    ("大于", GT),
    ("高于", GT),
    ("小于", LT),
    ("低于", LT),
    ("等于", EQ),
)
# NFKC folds full-width forms (＞＝％１２) but leaves these alone.
_SYMBOL_FOLDS = str.maketrans({"≧": "≥", "⩾": "≥", "≦": "≤", "⩽": "≤", "−": "-", "\u3000": " "})
_NUMBER_RE = re.compile(r"(?P<number>[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|[-+]?\.[0-9]+)\s*(?P<unit>.*)", re.S)
# Suffixes that carry an operator of their own: "95%以上" means ≥95%, "5天以内" means ≤5天.
_OPERATOR_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("及以上", GE),
    ("以上", GE),
    ("及以下", LE),
    ("以下", LE),
    ("以内", LE),
)
_UNIT_ALIASES = {"百分比": "%"}
_MAX_UNIT_LENGTH = 8
# A "unit" containing punctuation, a space or one of these words is the start of a sentence
# ("2020年底前完成", "95%，群众满意"), so the text is qualitative.
_SENTENCE_CHARACTERS = frozenset(",，.。;；:：!！?？、…\"'“”‘’")
_SENTENCE_WORDS = ("前", "底", "实现", "达到", "确保", "提高", "提升", "降低", "保持", "开展")
_DIGIT_NOT_AFTER_LETTER = re.compile(r"(?<![A-Za-z])[0-9]")  # allows m2, km2; rejects ranges like 10-20


MAX_QUANTITY = Decimal(10) ** 15


def parse_value(text: str | None) -> ParsedValue | None:
    """Parse "≥10次", "=100%", "≤5300元/户", "50" into operator, number and unit.

    Returns None when the text is not quantitative: empty, qualitative ("有所帮助", "满意"),
    or a number followed by free text ("12月底前完成", "95%，效果明显").
    """
    if text is None:
        return None
    return _parse_value(text)


# A text's reading never changes and a ParsedValue is immutable: each text is read once per process
# (a page scores every indicator of a report, each with its 指标值 and 实际完成值: issue 17).
@functools.lru_cache(maxsize=8192)
def _parse_value(text: str) -> ParsedValue | None:
    original = text.strip()
    if not original:
        return None
    normalised = unicodedata.normalize("NFKC", original).translate(_SYMBOL_FOLDS).strip()

    operator, rest = _split_operator(normalised)
    match = _NUMBER_RE.fullmatch(rest)
    if not match:
        return None
    number = Decimal(match["number"].replace(",", ""))
    if abs(number) >= MAX_QUANTITY:
        # Beyond any real indicator, and beyond what 2-decimal arithmetic in Decimal's default
        # 28 digits can hold: read as text (scored by its 完成情况) instead of failing.
        return None
    unit = match["unit"].strip()

    for suffix, implied in _OPERATOR_SUFFIXES:
        if unit.endswith(suffix):
            unit = unit[: -len(suffix)].strip()
            operator = operator or implied
            break
    if not _looks_like_unit(unit):
        return None
    return ParsedValue(text=original, operator=operator, number=number, unit=_UNIT_ALIASES.get(unit, unit))


def operator_of(text: str) -> str | None:
    """The operator a 指标性质 cell names ("≥", ">=", "大于等于" -> GE), or None."""
    folded = unicodedata.normalize("NFKC", text or "").translate(_SYMBOL_FOLDS).strip()
    for spelling, operator in _OPERATOR_SPELLINGS:
        if folded == spelling:
            return operator
    return None


def _split_operator(text: str) -> tuple[str | None, str]:
    for spelling, operator in _OPERATOR_SPELLINGS:
        if text.startswith(spelling):
            return operator, text[len(spelling) :].lstrip()
    return None, text


def _looks_like_unit(unit: str) -> bool:
    if not unit:
        return True
    if len(unit) > _MAX_UNIT_LENGTH:
        return False
    if any(ch.isspace() or ch in _SENTENCE_CHARACTERS for ch in unit):
        return False
    if _DIGIT_NOT_AFTER_LETTER.search(unit) or unit[0] in "-+~～—至到":
        return False
    return not any(word in unit for word in _SENTENCE_WORDS)


# --- 预算执行率 ----------------------------------------------------------------------------------


@dataclass
class FundingInput:
    initial_budget: Decimal | None = None  # 年初预算数 / 年初预算资金总额
    budget: Decimal | None = None  # 全年预算数(A); used for the rate when given
    actual: Decimal | None = None  # 全年执行数 / 实际投入资金额
    reason: str = ""
    weight: Decimal | None = None  # the row's 分值 (from the template); None: the row is not scored
    score: Decimal | None = None  # the unit's 得分; None: the rule-computed score stands
    key: str = "total"
    label: str = "合计"
    reason_column: bool = True  # the table has a column for the reason (else none can be asked for)


@dataclass
class FundingResult:
    rate: Decimal | None  # percentage, 2 decimals ("96.67"); None when not computable
    weight: Decimal | None  # the row's weight when the table is scored
    score: Decimal | None  # the record: the unit's 得分, else the suggestion
    reason_required: bool
    explanation: str
    problems: list[Problem] = field(default_factory=list)
    suggested: Decimal | None = None  # the rule-computed score
    entered: bool = False  # the unit typed the 得分
    warnings: list[Problem] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return self.entered and self.suggested is not None and self.score != self.suggested


def funding_rate(row: FundingInput) -> Decimal | None:
    """The execution rate of a row (全年执行数 ÷ 全年预算数, else 年初预算数), or None."""
    budget = row.budget if row.budget is not None else row.initial_budget
    if budget is None or budget <= 0 or row.actual is None or row.actual < 0:
        return None
    return _percent(row.actual, budget)


def score_funding(
    total: FundingInput, rules: RuleSet = DEFAULT_RULES, *, scored: bool = True, reasons_block: bool = True
) -> FundingResult:
    """Execution rate (执行率) and its score for a row that carries 分值 (the 合计 row).

    rate = 全年执行数 ÷ 全年预算数 (年初预算数 when 全年预算数 is missing);
    score = weight × min(rate, 1), only when `scored` (the form uses weights). The unit's own
    得分, when typed, is the record; it must lie in 0…weight.
    """
    weight = None
    if scored:
        weight = _dec(total.weight if total.weight is not None else DEFAULT_FUNDING_WEIGHT)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if total.budget is not None:
        budget, budget_label = total.budget, "全年预算数"
    else:
        budget, budget_label = total.initial_budget, "年初预算数"
    actual = total.actual

    def problem(field_name: str, message: str, *, block: bool = True) -> None:
        (problems if block else warnings).append(Problem(SECTION_FUNDING, None, field_name, message))

    if budget is None:
        problem("budget", "全年预算数（年初预算数）缺失，无法计算执行率")
    elif budget == 0:
        problem("budget", f"{budget_label}为0，无法计算执行率")
    elif budget < 0:
        problem("budget", f"{budget_label}不能为负数")
    if actual is None:
        problem("actual", "请填写全年执行数（实际投入资金额）")
    elif actual < 0:
        problem("actual", "全年执行数（实际投入资金额）不能为负数")
    if problems:
        result = FundingResult(None, weight, None, False, problems[0].message, problems)
        _take_entered_funding(total, result, problem)
        return result

    rate = _percent(actual, budget)
    low_threshold = quantize(_dec(rules.low_rate_threshold) * _HUNDRED)
    reason_required = total.reason_column and (rate < low_threshold or rate > _HUNDRED)
    explanation = f"执行率 = {_plain(actual)} ÷ {_plain(budget)} = {fmt(rate)}%"

    score = None
    if weight is not None:
        if actual >= budget:
            score = quantize(weight)
            explanation += f"，得分 = {fmt_weight(weight)} × 100% = {fmt(score)}"
            if rate > _HUNDRED:
                explanation += "（执行率超过100%按100%计）"
        else:
            score = _scaled(weight, actual, budget)
            explanation += f"，得分 = {fmt_weight(weight)} × {fmt(rate)}% = {fmt(score)}"
    else:
        explanation += "（未设分值，不计分）"

    if reason_required and not total.reason.strip():
        if rate > _HUNDRED:
            why = f"预算执行率为{fmt(rate)}%，超过100%"
        else:
            why = f"预算执行率为{fmt(rate)}%，低于{fmt_weight(low_threshold)}%"
        problem("reason", f"{why}，请填写产生差异的原因", block=reasons_block)
    result = FundingResult(rate, weight, score, reason_required, explanation, problems, suggested=score, warnings=warnings)
    _take_entered_funding(total, result, problem)
    return result


def _take_entered_funding(row: FundingInput, result: FundingResult, problem) -> None:
    """The unit's typed 得分 of a funding row becomes the record, when it is a valid one."""
    if row.score is None:
        return
    score = quantize(row.score)
    if result.weight is None:
        problem("score", f"{row.label}未设分值，不能填写得分")
        return
    if score < 0 or score > result.weight:
        problem("score", f"{row.label}得分 {fmt(score)} 应在 0.00–{fmt(result.weight)} 之间")
        return
    result.score, result.entered = score, True
    if result.suggested is not None and score != result.suggested:
        problem(
            "score",
            f"{row.label}自评得分 {fmt(score)} 与按执行率计算的 {fmt(result.suggested)} 不同，请核实",
            block=False,
        )


# --- Indicator rows ---------------------------------------------------------------------------


@dataclass
class IndicatorInput:
    level1: str = ""
    level2: str = ""
    name: str = ""  # 三级指标
    target: str = ""  # 指标值 as written
    actual: str = ""  # 实际完成值 as written
    weight: Decimal | None = None
    outcome: str | None = None  # qualitative only; None -> inferred from ACHIEVED_WORDS
    score: Decimal | None = None  # qualitative only; None -> weight when achieved
    reason: str = ""


@dataclass
class IndicatorResult:
    kind: str
    target: ParsedValue | None
    actual: ParsedValue | None
    outcome: str | None
    achieved: bool | None
    ratio: Decimal | None  # actual ÷ target as a percentage, 2 decimals, when the target is not 0
    score: Decimal | None  # the record: the unit's 得分, else the suggestion; None when unscored
    flags: list[str]
    reason_required: bool
    explanation: str  # how the rule scores the row (the advice)
    problems: list[Problem] = field(default_factory=list)
    suggested: Decimal | None = None  # the rule-computed score
    entered: bool = False  # the unit typed the 得分
    warnings: list[Problem] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        """The unit's 得分 is not the rule's: a warning for the officer, a flag for reviewers."""
        return self.entered and self.suggested is not None and self.score != self.suggested


class _Row:
    """Collects the problems (and warnings) of one indicator row, each prefixed with its label."""

    def __init__(self, row: IndicatorInput, row_number: int, reasons_block: bool = True, reasons_asked: bool = True):
        self.number = row_number
        name = " ".join((row.name or "").split())  # names may carry line breaks from merged cells
        self.label = f"第{row_number}行「{name}」" if name else f"第{row_number}行"
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.reasons_block = reasons_block
        self.reasons_asked = reasons_asked

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(SECTION_INDICATORS, self.number, field_name, f"{self.label}：{message}"))

    def warning(self, field_name: str, message: str) -> None:
        self.warnings.append(Problem(SECTION_INDICATORS, self.number, field_name, f"{self.label}：{message}"))

    def missing_reason(self, message: str) -> None:
        """A reason the rules ask for: blocks or warns, as the template says (nothing when the
        template has no column to give it in)."""
        if self.reasons_asked:
            (self.problem if self.reasons_block else self.warning)("reason", message)


def compose_value(operator: str, value: str, unit: str) -> str:
    """The text the scoring reads for a value a template prints in separate cells:
    指标性质 "≥" + 指标值 "10" + 度量单位 "次" -> "≥10次". A value that already carries its unit
    (or is a sentence) is kept as it is; a blank value stays blank."""
    value = (value or "").strip()
    if not value:
        return ""
    operator, unit = (operator or "").strip(), (unit or "").strip()
    if operator in ("定性", "定量"):
        operator = ""
    if unit and parse_value(value) is not None and parse_value(value).unit == "":
        value = f"{value}{unit}"
    if operator and _split_operator(unicodedata.normalize("NFKC", value))[0] is None:
        value = f"{operator}{value}"
    return value


def score_indicator(
    row: IndicatorInput, rules: RuleSet = DEFAULT_RULES, *, row_number: int = 1, reasons_block: bool = True,
    reasons_asked: bool = True,
) -> IndicatorResult:
    """Score one 三级 row: quantitative by the SCORING.md table, qualitative by outcome and band.

    Problems block submitting and name the row; the score is None when the row has no weight or
    cannot be scored (unparseable actual, unit mismatch, missing target, …). The unit's typed
    得分 is the record when valid (`suggested` keeps the rule's).
    """
    checks = _Row(row, row_number, reasons_block, reasons_asked)
    target_text, actual_text = (row.target or "").strip(), (row.actual or "").strip()
    if not (row.name or "").strip():
        checks.problem("name", "请填写三级指标名称")
    if not target_text:
        checks.problem("target", "请填写指标值")
    if not actual_text:
        checks.problem("actual", "请填写实际完成值")
    weight = row.weight
    if weight is not None and weight < 0:
        checks.problem("weight", f"分值不能为负数（当前 {fmt_weight(weight)}）")
        weight = None  # a negative weight scores nothing; the problem blocks submit

    target = parse_value(target_text)
    actual = parse_value(actual_text)
    if not target_text:
        kind = KIND_QUANTITATIVE if actual else KIND_QUALITATIVE
        result = IndicatorResult(kind, None, actual, None, None, None, None, [], False, "指标值未填写，无法计分", checks.problems)
    elif target is not None:
        result = _score_quantitative(row, target, actual, weight, rules, checks)
    else:
        result = _score_qualitative(row, weight, rules, checks)
    if result.kind == KIND_QUANTITATIVE or not target_text:
        _take_entered(row, weight, result, checks)
    result.warnings = checks.warnings
    return result


def _take_entered(row: IndicatorInput, weight: Decimal | None, result: IndicatorResult, checks: _Row) -> None:
    """A typed 得分 on a quantitative row: the record when it lies in 0…分值; a warning when it is
    not what the rule computes (qualitative rows check theirs against their band)."""
    result.suggested = result.score
    if row.score is None:
        return
    score = quantize(row.score)
    if weight is None:
        checks.problem("score", "该行未设分值，不能填写得分")
        return
    if score < 0 or score > weight:
        checks.problem("score", f"得分 {fmt(score)} 应在 0.00–{fmt(weight)} 之间")
        return
    result.score, result.entered = score, True
    if result.suggested is None:
        return
    if score != result.suggested:
        checks.warning(
            "score", f"自评得分 {fmt(score)} 与按评分规则计算的 {fmt(result.suggested)} 不同（{result.explanation}），请核实"
        )


@dataclass
class _Measure:
    """How a quantitative actual compares with its target, independent of the weight."""

    achieved: bool
    numerator: Decimal  # share of the weight earned = numerator ÷ denominator, in [0, 1]
    denominator: Decimal
    more_is_better: bool
    note: str  # the verdict's detail, e.g. "完成 96.84%"
    formula: str  # how the score is computed, "{w}" standing for the weight; "" for full / zero


def _measure(operator: str | None, t: Decimal, a: Decimal, ratio: Decimal | None) -> _Measure:
    one, zero = Decimal(1), Decimal(0)
    if operator in (LE, LT):  # less is better
        if a <= t:
            return _Measure(True, one, one, False, "", "")
        if t <= 0:
            return _Measure(False, zero, one, False, "", "")
        if a >= 2 * t:
            return _Measure(False, zero, one, False, "达到指标值的2倍及以上", "")
        over = _percent(a - t, t)
        formula = f"{{w}} × (1 − ({_plain(a)} − {_plain(t)}) ÷ {_plain(t)})"
        return _Measure(False, 2 * t - a, t, False, f"超出指标值 {fmt(over)}%", formula)

    # ≥, ＞, ＝ and a bare number: more is better, except that ＝0 means "none at all".
    if operator in (EQ, None) and t == 0:
        if a <= 0:
            return _Measure(True, one, one, False, "", "")
        return _Measure(False, zero, one, False, "指标值为0，实际大于0", "")
    if a >= t:
        return _Measure(True, one, one, True, "", "")
    if t <= 0 or a <= 0:
        return _Measure(False, zero, one, True, f"完成 {fmt(ratio)}%" if ratio is not None else "", "")
    return _Measure(False, a, t, True, f"完成 {fmt(ratio)}%", f"{{w}} × {_plain(a)} ÷ {_plain(t)}")


def _score_quantitative(
    row: IndicatorInput,
    target: ParsedValue,
    actual: ParsedValue | None,
    weight: Decimal | None,
    rules: RuleSet,
    checks: _Row,
) -> IndicatorResult:
    def unscored(explanation: str) -> IndicatorResult:
        return IndicatorResult(KIND_QUANTITATIVE, target, actual, None, None, None, None, [], False, explanation, checks.problems)

    actual_text = (row.actual or "").strip()
    if actual is None:
        if actual_text:
            checks.problem(
                "actual",
                f"指标值“{target.text}”为定量指标，实际完成值“{actual_text}”无法识别为数字，"
                f"请填写数字（如“{_plain(target.number)}{target.unit}”）",
            )
            return unscored(f"{target.canonical}，实际完成值无法识别为数字，无法计分")
        return unscored(f"{target.canonical}，实际完成值未填写，无法计分")
    if target.unit and actual.unit and target.unit != actual.unit:
        # Never guess a conversion (万元 vs 元, 人 vs 次): the officer must correct one of them.
        checks.problem("actual", f"实际完成值单位“{actual.unit}”与指标值单位“{target.unit}”不一致")
        return unscored(f"{target.canonical}，实际 {actual.amount}：单位不一致，无法计分")

    t, a = target.number, actual.number
    ratio = _percent(a, t) if t != 0 else None
    measure = _measure(target.operator, t, a, ratio)
    flags: list[str] = []
    over_achieved = (
        measure.achieved
        and measure.more_is_better
        and t > 0
        and a >= _dec(rules.over_achievement_ratio) * t
    )
    if over_achieved:
        flags.append(FLAG_OVER_ACHIEVEMENT)
    if not measure.achieved:
        flags.append(FLAG_NOT_ACHIEVED)

    if measure.achieved:
        outcome = OUTCOME_ACHIEVED
    elif measure.numerator >= _dec(rules.partial_band_floor) * measure.denominator:
        outcome = OUTCOME_PARTIAL
    else:
        outcome = OUTCOME_FAILED

    over_limit = fmt_weight(_dec(rules.over_achievement_ratio) * _HUNDRED)
    if over_achieved:
        verdict = f"达成（完成 {fmt(ratio)}%，超过{over_limit}%，需说明原因）"
    elif measure.achieved:
        verdict = "达成"
    else:
        verdict = f"未达成（{measure.note}）" if measure.note else "未达成"

    score = None
    if weight is None:
        score_text = "未设分值，不计分"
    elif measure.achieved:
        score = quantize(weight)
        score_text = f"得满分 {fmt(score)}"
    else:
        score = _scaled(weight, measure.numerator, measure.denominator)
        if measure.formula:
            score_text = f"得分 = {measure.formula.format(w=fmt_weight(weight))} = {fmt(score)}"
        else:
            score_text = f"得分 {fmt(score)}"
    explanation = f"{target.canonical}，实际 {actual.amount}：{verdict}，{score_text}"

    has_reason = bool((row.reason or "").strip())
    if not measure.achieved and not has_reason:
        checks.missing_reason(f"未达成指标值（{target.canonical}，实际 {actual.amount}），请填写偏差原因分析及改进措施")
    if over_achieved and not has_reason:
        checks.missing_reason(f"实际完成值为指标值的{fmt(ratio)}%（≥{over_limit}%），属超额完成，请说明原因")
    return IndicatorResult(
        kind=KIND_QUANTITATIVE,
        target=target,
        actual=actual,
        outcome=outcome,
        achieved=measure.achieved,
        ratio=ratio,
        score=score,
        flags=flags,
        reason_required=not measure.achieved or over_achieved,
        explanation=explanation,
        problems=checks.problems,
    )


def _normalise_outcome(value: str | None) -> str | None:
    # Accept the Chinese label as well as the code (imports carry the label).
    if not value:
        return None
    value = value.strip()
    for code, label in OUTCOME_LABELS.items():
        if value == label:
            return code
    return value


def _is_achieved_word(text: str) -> bool:
    return text.strip().rstrip("。.！!") in ACHIEVED_WORDS


def score_band(outcome: str, weight: Decimal, rules: RuleSet = DEFAULT_RULES) -> tuple[Decimal, Decimal, bool]:
    """The qualitative score band of an outcome: (low, high, high_inclusive), exact bounds."""
    weight = _dec(weight)
    achieved_floor = _dec(rules.achieved_band_floor) * weight
    partial_floor = _dec(rules.partial_band_floor) * weight
    if outcome == OUTCOME_ACHIEVED:
        return achieved_floor, weight, True
    if outcome == OUTCOME_PARTIAL:
        return partial_floor, achieved_floor, False
    return _ZERO, partial_floor, False


def band_text(outcome: str, weight: Decimal, rules: RuleSet = DEFAULT_RULES) -> str:
    """"得分应在 6.00–7.99 之间": a half-open upper bound is shown as the largest 2-dp score below it."""
    low, high, inclusive = score_band(outcome, weight, rules)
    shown_high = _floor_cent(high) if inclusive else _ceil_cent(high) - _CENT
    return f"得分应在 {fmt(_ceil_cent(low))}–{fmt(shown_high)} 之间"


def band_of(score: Decimal, weight: Decimal, rules: RuleSet = DEFAULT_RULES) -> str:
    """The outcome whose band a score lies in (a 0 weight counts as 达成)."""
    if weight == 0:
        return OUTCOME_ACHIEVED
    for outcome in (OUTCOME_ACHIEVED, OUTCOME_PARTIAL):
        if _in_band(score, outcome, weight, rules):
            return outcome
    return OUTCOME_FAILED


def _in_band(score: Decimal, outcome: str, weight: Decimal, rules: RuleSet) -> bool:
    low, high, inclusive = score_band(outcome, weight, rules)
    return low <= score and (score <= high if inclusive else score < high)


def _score_qualitative(row: IndicatorInput, weight: Decimal | None, rules: RuleSet, checks: _Row) -> IndicatorResult:
    actual_text = (row.actual or "").strip()
    outcome = _normalise_outcome(row.outcome)
    inferred = False
    if outcome is None and actual_text and _is_achieved_word(actual_text):
        outcome, inferred = OUTCOME_ACHIEVED, True
    if outcome is None and row.score is not None and weight is not None and 0 <= row.score <= weight:
        # A published table gives a 得分, not a 完成情况: the band it lies in is the outcome.
        outcome = band_of(quantize(row.score), weight, rules)

    def result(score: Decimal | None, explanation: str) -> IndicatorResult:
        achieved = None if outcome not in OUTCOME_LABELS else outcome == OUTCOME_ACHIEVED
        return IndicatorResult(
            suggested=score,
            entered=score is not None and row.score is not None,
            kind=KIND_QUALITATIVE,
            target=None,
            actual=parse_value(actual_text),
            outcome=outcome if outcome in OUTCOME_LABELS else None,
            achieved=achieved,
            ratio=None,
            score=score,
            flags=[] if achieved is not False else [FLAG_NOT_ACHIEVED],
            reason_required=outcome in (OUTCOME_PARTIAL, OUTCOME_FAILED),
            explanation=explanation,
            problems=checks.problems,
        )

    choices = "／".join(OUTCOME_LABELS.values())
    if outcome is None:
        if actual_text:  # an empty actual is already reported; one problem per cause
            checks.problem("outcome", f"定性指标请选择完成情况（{choices}）")
        return result(None, "定性指标：未选择完成情况，无法计分")
    if outcome not in OUTCOME_LABELS:
        checks.problem("outcome", f"完成情况“{outcome}”无效，请选择（{choices}）")
        return result(None, "定性指标：完成情况无效，无法计分")

    label = OUTCOME_LABELS[outcome]
    if outcome != OUTCOME_ACHIEVED and not (row.reason or "").strip():
        checks.missing_reason(f"{label}，请填写偏差原因分析及改进措施")
    how = f"{label}（按实际完成值“{actual_text}”认定）" if inferred else label
    if weight is None:
        return result(None, f"定性指标：{how}，未设分值，不计分")
    return result(*_qualitative_score(row, outcome, how, weight, rules, checks))


def _qualitative_score(
    row: IndicatorInput, outcome: str, how: str, weight: Decimal, rules: RuleSet, checks: _Row
) -> tuple[Decimal | None, str]:
    label = OUTCOME_LABELS[outcome]
    if weight == 0 and not row.score:
        # A zero-weight row has an empty band for 部分/未达成; it simply scores 0.
        return quantize(_ZERO), f"定性指标：{how}，分值为0，得分 0.00"
    band = band_text(outcome, weight, rules)
    if row.score is None:
        if outcome == OUTCOME_ACHIEVED:
            score = quantize(weight)
            return score, f"定性指标：{how}，得满分 {fmt(score)}"
        checks.problem("score", f"{label}，请填写得分（{band}）")
        return None, f"定性指标：{how}，未填写得分"

    score = quantize(row.score)
    if score < 0:
        checks.problem("score", f"得分不能为负数（当前 {fmt(score)}）")
        return None, f"定性指标：{how}，得分无效"
    if score > weight:
        checks.problem("score", f"得分 {fmt(score)} 超过分值 {fmt_weight(weight)}")
        return None, f"定性指标：{how}，得分超过分值"
    if weight > 0 and not _in_band(score, outcome, weight, rules):
        checks.problem("score", f"{label}，{band}（当前 {fmt(score)}）")
        return None, f"定性指标：{how}，得分 {fmt(score)} 不在区间内"
    return score, f"定性指标：{how}，得分 {fmt(score)}（{band.removeprefix('得分')}）"


# --- Weights ----------------------------------------------------------------------------------


def _normalise_level1(level1: str) -> str:
    # Imported cells carry line breaks ("满意度\n指标") and sometimes drop the "指标" suffix.
    compact = "".join((level1 or "").split())
    if compact not in TAXONOMY and compact + "指标" in TAXONOMY:
        compact += "指标"
    return compact


def check_weights(
    rows: Sequence[IndicatorInput], table: TableRules = DEFAULT_TABLE, funding_weight: Decimal | None = DEFAULT_FUNDING_WEIGHT
) -> list[Problem]:
    """Weight (分值) checks on submit; none when the form uses no weights and the template allows it.

    Every row needs a weight, each 一级 adds up to its weight, and everything adds up to the total.
    """
    if not table.weights_required and not any(row.weight is not None for row in rows):
        return []
    problems: list[Problem] = []
    for number, row in enumerate(rows, start=1):
        if row.weight is None:
            name = " ".join((row.name or "").split())
            suffix = f"（{name}）" if name else ""
            problems.append(Problem(SECTION_WEIGHTS, number, "weight", f"第{number}行未填分值{suffix}"))

    levels = [_normalise_level1(row.level1) for row in rows]
    for name, expected, members in table.level1_groups:
        group = [row.weight or _ZERO for row, level in zip(rows, levels, strict=True) if level in members]
        if not group:
            continue
        total = sum(group, _ZERO)
        if total != expected:
            label = name
            if len(members) > 1 and any(level in members[1:] for level in levels):
                label = f"{name}（含{'、'.join(members[1:])}）"
            problems.append(
                Problem(SECTION_WEIGHTS, None, "weight", f"{label}分值合计 {fmt_weight(total)}，应为 {fmt_weight(expected)}")
            )

    rows_total = sum((row.weight or _ZERO for row in rows), _ZERO)
    funding = _dec(funding_weight or _ZERO)
    grand_total = funding + rows_total
    expected_total = table_total_weight(table, funding_weight)
    if grand_total != expected_total:
        problems.append(
            Problem(
                SECTION_WEIGHTS,
                None,
                "weight",
                f"分值合计 {fmt_weight(grand_total)}（预算执行率 {fmt_weight(funding)} + 绩效指标 "
                f"{fmt_weight(rows_total)}），应为 {fmt_weight(expected_total)}",
            )
        )
    return problems


def level1_sums(rows: Sequence[IndicatorInput], table: TableRules = DEFAULT_TABLE) -> list[tuple[str, Decimal, Decimal]]:
    """(一级, Σ 分值 of its rows, the 一级's 分值) for every weighted 一级: the sums `check_weights`
    compares, shown live beside the table ("产出指标 45 / 50")."""
    levels = [_normalise_level1(row.level1) for row in rows]
    return [
        (name, sum((row.weight or _ZERO for row, level in zip(rows, levels, strict=True) if level in members), _ZERO),
         _dec(expected))
        for name, expected, members in table.level1_groups
    ]


def table_total_weight(table: TableRules = DEFAULT_TABLE, funding_weight: Decimal | None = DEFAULT_FUNDING_WEIGHT) -> Decimal:
    """What all weights add up to: the funding rows' 分值 and every 一级's (100 by default)."""
    return _dec(funding_weight or _ZERO) + sum((_dec(w) for _, w, _ in table.level1_groups), _ZERO)


def spread_weights(rows: Sequence[IndicatorInput], table: TableRules = DEFAULT_TABLE) -> list[Decimal | None]:
    """Default weights spread evenly over the rows of each 一级 (for forms without 分值).

    Each share is rounded to 2 decimals and the last row of a group takes the remainder, so the
    group adds up exactly. Rows whose 一级 has no default weight get None.
    """
    levels = [_normalise_level1(row.level1) for row in rows]
    weights: list[Decimal | None] = [None] * len(rows)
    for _name, expected, members in table.level1_groups:
        indexes = [i for i, level in enumerate(levels) if level in members]
        if not indexes:
            continue
        share = quantize(_dec(expected) / len(indexes))
        for i in indexes[:-1]:
            weights[i] = share
        weights[indexes[-1]] = _dec(expected) - share * (len(indexes) - 1)
    return weights


# --- Totals -----------------------------------------------------------------------------------


def grade_for(total: Decimal | None, rules: RuleSet = DEFAULT_RULES) -> str | None:
    """Grade of a total score: 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, else 差 (thresholds from the rule set)."""
    if total is None:
        return None
    for grade, threshold in sorted(rules.grade_thresholds, key=lambda item: item[1], reverse=True):
        if total >= threshold:
            return grade
    return rules.lowest_grade


@dataclass
class AssessmentResult:
    funding: FundingResult  # the first row that carries 分值 (合计), else the first row
    indicators: list[IndicatorResult]
    scored: bool  # True when the table uses weights
    indicator_total: Decimal | None  # Σ row scores, only when every row is scored
    total: Decimal | None  # funding score + indicator_total, only when everything is scored
    grade: str | None
    weight_total: Decimal | None  # funding weight + Σ row weights
    problems: list[Problem]  # everything that blocks submit: funding, indicators, weights
    warnings: list[Problem] = field(default_factory=list)  # what the officer should look at
    funding_rows: list[FundingResult] = field(default_factory=list)  # every funding row, in order
    unscored: int = 0  # scorable rows (indicators and funding) without a score yet
    funding_score: Decimal | None = None  # Σ scores of the funding rows that carry 分值
    # (一级, Σ its rows' 分值, the template's 分值) of every weighted 一级, while weights are used.
    level1_sums: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks submission."""
        return not self.problems

    @property
    def status(self) -> str:
        """"尚有 3 行未计分" while the table is scored but not complete; "" otherwise."""
        if self.scored and self.unscored:
            return f"尚有 {self.unscored} 行未计分"
        return ""


def assess(
    funding: FundingInput | Sequence[FundingInput],
    indicators: Sequence[IndicatorInput],
    rules: RuleSet = DEFAULT_RULES,
    table: TableRules = DEFAULT_TABLE,
) -> AssessmentResult:
    """Score a whole form: 预算执行率, every indicator row, weight checks, total and grade.

    `funding` is the funding rows in order (a single row is read as the 合计 row with the default
    weight). A form without any weight is allowed when the template allows it: it is checked but
    gets no score, total or grade. Totals and the grade exist only when every scorable row is
    scored; otherwise `unscored` says how many are not, and nothing partial is given as a total.
    """
    if isinstance(funding, FundingInput):
        funding = [replace(funding, weight=funding.weight if funding.weight is not None else DEFAULT_FUNDING_WEIGHT)]
    funding = list(funding)
    scored = table.weights_required or any(row.weight is not None for row in indicators)
    results = [
        score_indicator(row, rules, row_number=n, reasons_block=table.reasons_block, reasons_asked=table.reasons_asked)
        for n, row in enumerate(indicators, start=1)
    ]
    if not funding:
        funding = [FundingInput()]
    # The rows whose execution rate is checked and scored: those that carry 分值, else the first (合计).
    rate_rows = {n for n, row in enumerate(funding) if row.weight is not None} or {0}
    funding_results = []
    for n, row in enumerate(funding):
        if n in rate_rows:
            funding_results.append(
                score_funding(row, rules, scored=scored and row.weight is not None, reasons_block=table.reasons_block)
            )
        else:
            funding_results.append(FundingResult(funding_rate(row), None, None, False, "", warnings=_unweighted_score(row)))
    weighted = [(row, r) for row, r in zip(funding, funding_results, strict=True) if row.weight is not None]
    main = funding_results[min(rate_rows)]
    funding_weight = sum((row.weight for row, _ in weighted), _ZERO) if weighted else None

    indicator_total = total = weight_total = funding_score = None
    unscored = 0
    if scored:
        unscored = sum(1 for r in results if r.score is None) + sum(1 for _, r in weighted if r.score is None)
        weight_total = _dec(funding_weight or _ZERO) + sum((row.weight or _ZERO for row in indicators), _ZERO)
        if not unscored:
            indicator_total = sum((r.score for r in results), _ZERO)
            funding_score = sum((r.score for _, r in weighted), _ZERO)
            total = funding_score + indicator_total

    problems: list[Problem] = []
    warnings: list[Problem] = []
    for n in sorted(rate_rows):
        problems.extend(funding_results[n].problems)
    for r in funding_results:
        warnings.extend(r.warnings)
    for result in results:
        problems.extend(result.problems)
        warnings.extend(result.warnings)
    problems.extend(check_weights(indicators, table, funding_weight))
    return AssessmentResult(
        funding=main,
        indicators=results,
        scored=scored,
        indicator_total=indicator_total,
        total=total,
        grade=grade_for(total, rules),
        weight_total=weight_total,
        problems=problems,
        warnings=warnings,
        funding_rows=funding_results,
        unscored=unscored,
        funding_score=funding_score,
        level1_sums=level1_sums(indicators, table) if scored else [],
    )


def _unweighted_score(row: FundingInput) -> list[Problem]:
    # A row without 分值 shows "－" for its score: a typed one is not kept.
    if row.score is None:
        return []
    return [Problem(SECTION_FUNDING, None, "score", f"{row.label}未设分值，所填得分不计入")]


# --- Review (复核) ------------------------------------------------------------------------------


@dataclass
class ReviewInput:
    actual: str = ""  # 复核完成值, optional
    outcome: str | None = None  # qualitative rows: the reviewer's outcome; None -> the officer's
    score: Decimal | None = None  # 复核得分; None -> computed from the review actual, else the self score
    note: str = ""  # 复核说明, required when the review score is below the self score


@dataclass
class ReviewResult:
    score: Decimal | None  # the review score that counts
    self_score: Decimal | None
    gap: Decimal | None  # review − self
    explanation: str
    problems: list[Problem] = field(default_factory=list)


def score_review(
    row: IndicatorInput,
    self_result: IndicatorResult,
    review: ReviewInput,
    rules: RuleSet = DEFAULT_RULES,
    *,
    row_number: int = 1,
) -> ReviewResult:
    """Check one row's 复核 against the row's weight and band, like the officer's score."""
    checks = _Row(row, row_number)
    weight = row.weight
    self_score = self_result.score
    computed = None
    how = "沿用自评得分"
    review_actual = (review.actual or "").strip()
    if review_actual and self_result.kind == KIND_QUANTITATIVE:
        recheck = score_indicator(
            replace(row, actual=review_actual, reason=row.reason or "复核", score=None), rules, row_number=row_number
        )
        if recheck.actual is None:
            checks.problem("review_actual", f"复核完成值“{review_actual}”无法识别为数值")
        elif self_result.target is not None and recheck.actual.unit and self_result.target.unit and recheck.actual.unit != self_result.target.unit:
            checks.problem(
                "review_actual",
                f"复核完成值单位“{recheck.actual.unit}”与指标值单位“{self_result.target.unit}”不一致",
            )
        elif weight is not None and recheck.score is not None:
            computed = recheck.score
            how = f"按复核完成值 {review_actual} 计算"

    score = review.score
    if score is None:
        score = computed if computed is not None else self_score
    else:
        score = quantize(score)
        how = "复核人填写"
        if weight is None:
            checks.problem("review_score", "该行未设分值，不能填写复核得分")
            score = None
        elif score < 0 or score > weight:
            checks.problem("review_score", f"复核得分 {fmt(score)} 应在 0.00–{fmt(weight)} 之间")
            score = None
        elif self_result.kind == KIND_QUALITATIVE:
            outcome = _normalise_outcome(review.outcome) or self_result.outcome
            if outcome in OUTCOME_LABELS and weight > 0 and not _in_band(score, outcome, weight, rules):
                checks.problem("review_score", f"复核{OUTCOME_LABELS[outcome]}，{band_text(outcome, weight, rules)}（当前 {fmt(score)}）")
                score = None

    gap = score - self_score if score is not None and self_score is not None else None
    if gap is not None and gap < 0 and not (review.note or "").strip():
        checks.problem("review_note", f"复核得分 {fmt(score)} 低于自评得分 {fmt(self_score)}，请填写复核说明")
    if score is None:
        explanation = "未计复核得分"
    elif gap:
        explanation = f"{how}，复核得分 {fmt(score)}（较自评 {'+' if gap > 0 else ''}{fmt(gap)}）"
    else:
        explanation = f"{how}，复核得分 {fmt(score)}"
    return ReviewResult(score, self_score, gap, explanation, checks.problems)


@dataclass
class ReviewTotals:
    rows: list[ReviewResult]
    total: Decimal | None
    grade: str | None
    gap: Decimal | None  # review total − self total
    problems: list[Problem]


def review_assessment(
    result: AssessmentResult,
    indicators: Sequence[IndicatorInput],
    reviews: Sequence[ReviewInput],
    rules: RuleSet = DEFAULT_RULES,
) -> ReviewTotals:
    """The review total: the same 预算执行率 score plus the rounded 复核 scores of every row."""
    rows = [
        score_review(row, self_result, review, rules, row_number=n)
        for n, (row, self_result, review) in enumerate(zip(indicators, result.indicators, reviews, strict=True), start=1)
    ]
    total = None
    if result.scored and result.funding_score is not None and all(r.score is not None for r in rows):
        total = result.funding_score + sum((r.score for r in rows), _ZERO)
    gap = total - result.total if total is not None and result.total is not None else None
    problems = [p for r in rows for p in r.problems]
    return ReviewTotals(rows, total, grade_for(total, rules), gap, problems)
