"""One plain read model of an assessment, with its computed scores.

The entry page, the read-only page, the submission snapshot, the public HTML, xlsx and JSON are
all built from `build()`, so they cannot disagree. Its shape follows the assessment's 表样 (the
`TableSpec` of its template version): the funding rows, the 资金结构 rows, the texts and every
label are the template's; the values are the assessment's.
"""

import copy
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from . import childrows, columns, scoring
from .document import document
from .models import Assessment, FundingRow, Goal, Indicator, ProjectExpense, ReportSection, StructureRow
from .tablespec import PLACE_BOTTOM, PLACE_TOP, HeaderField, TableSpec


@dataclass
class FundingLine:
    source: str
    label: str
    initial_budget: Decimal | None
    budget: Decimal | None
    actual: Decimal | None
    reason: str
    rate: Decimal | None
    weight: Decimal | None = None  # the row carries 分值 (the template's) when the table is scored
    score: Decimal | None = None  # the record: the unit's 得分, else the rule's
    explanation: str = ""
    suggested: Decimal | None = None  # the rule-computed score
    entered: bool = False
    extra: dict = field(default_factory=dict)
    carries_weight: bool = False  # the template gives this row 分值 (shown "－" otherwise)

    @property
    def is_total(self) -> bool:
        """The row shows 分值/得分 (the 合计 row of the original layouts)."""
        return self.carries_weight


@dataclass
class StructureLine:
    item: str
    label: str
    budget: Decimal | None
    actual: Decimal | None


@dataclass
class IndicatorLine:
    number: int
    key: str
    level1: str
    level2: str
    name: str
    target: str
    actual: str
    weight: Decimal | None
    outcome: str
    reason: str
    result: scoring.IndicatorResult
    level1_span: int = 1
    level2_span: int = 1
    indicator: Indicator | None = None
    lineage: str = ""  # identity across years (`Indicator.lineage`); see history.py
    operator: str = ""  # 指标性质, where the template prints it apart
    unit: str = ""  # 度量单位, where the template prints it apart
    extra: dict = field(default_factory=dict)
    level1_caption: str = ""  # "产出指标（50分）" where the template shows weights in the 一级 cell
    approved_target: str = ""  # the 指标值 as approved (issue 14); empty: not from approved targets

    @property
    def target_adjusted(self) -> bool:
        """An approved 指标值 changed by a 目标调整."""
        return bool(self.approved_target) and self.target_text != self.approved_target

    @property
    def score(self) -> Decimal | None:
        return self.result.score

    @property
    def suggested(self) -> Decimal | None:
        return self.result.suggested

    @property
    def suggested_text(self) -> str:
        """The rule-computed score as the entry table shows it ("9.67"; "" for none)."""
        return scoring.fmt(self.suggested)

    @property
    def outcome_label(self) -> str:
        return scoring.OUTCOME_LABELS.get(self.result.outcome or "", "")

    @property
    def target_text(self) -> str:
        """指标值 as one text ("≥10次"), whatever cells the template prints it in."""
        return scoring.compose_value(self.operator, self.target, self.unit)

    @property
    def actual_text(self) -> str:
        return scoring.compose_value("", self.actual, self.unit)


@dataclass
class SectionLine:
    key: str
    number: int
    title: str
    body: str
    block: bool = False  # printed under the table (评价结论 …) rather than in the report


@dataclass
class HeaderLine:
    field: HeaderField
    text: str

    @property
    def label(self) -> str:
        return self.field.label


@dataclass
class AssessmentView:
    assessment: Assessment
    table: TableSpec
    funding: list[FundingLine]
    structure: list[StructureLine]
    goals: list[Goal]
    project_expenses: list[ProjectExpense]
    indicators: list[IndicatorLine]
    sections: list[SectionLine]
    result: scoring.AssessmentResult
    problems_by_row: dict[int, list[scoring.Problem]] = field(default_factory=dict)
    warnings_by_row: dict[int, list[scoring.Problem]] = field(default_factory=dict)
    blocks: list[SectionLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal | None:
        return self.result.total

    @property
    def grade(self) -> str | None:
        return self.result.grade

    @property
    def has_report(self) -> bool:
        return any(s.body.strip() for s in self.sections)

    @property
    def weights_used(self) -> bool:
        return self.result.scored

    @property
    def version(self):
        return self.assessment.template_version

    # The template's columns as this table shows them (分值/得分 only when weights are used).

    @property
    def funding_columns(self):
        return columns.visible(self.table.funding_columns, self.weights_used)

    @property
    def funding_amount_columns(self):
        """The funding columns that come before 执行率 etc. (the amounts and the template's own)."""
        return [c for c in self.funding_columns if c.key not in ("rate", "weight", "score", "reason")]

    @property
    def indicator_columns(self):
        return columns.visible(self.table.indicator_columns, self.weights_used)

    @property
    def total_row(self) -> list[columns.Segment]:
        return columns.total_segments(self.indicator_columns)

    @property
    def header(self) -> list[HeaderLine]:
        return self._header(PLACE_TOP)

    @property
    def footer(self) -> list[HeaderLine]:
        return self._header(PLACE_BOTTOM)

    def _header(self, place: str) -> list[HeaderLine]:
        return [HeaderLine(f, header_text(self.assessment, f.key)) for f in self.table.header_fields(place)]

    @property
    def header_rows(self) -> list[list[HeaderLine]]:
        """The header block as printed: half-width fields two to a row, full and long ones alone."""
        rows: list[list[HeaderLine]] = []
        pending: list[HeaderLine] = []
        for line in self.header:
            if line.field.width == "half":
                pending.append(line)
                if len(pending) == 2:
                    rows.append(pending)
                    pending = []
                continue
            if pending:
                rows.append(pending)
                pending = []
            rows.append([line])
        if pending:
            rows.append(pending)
        return rows

    @property
    def texts(self) -> list[SectionLine]:
        return self.blocks + self.sections

    def to_dict(self) -> dict:
        """The JSON document of the assessment (the one shape: see document.py)."""
        return document(self)


def header_text(a: Assessment, key: str) -> str:
    """What the header cell of field `key` shows."""
    if key == "leader_and_phone":
        return " ".join(part for part in (a.project_leader, a.leader_phone) if part)
    if key == "unit_name":
        return a.unit.name
    if key in ("staff_quota", "staff_actual"):
        value = getattr(a, key)
        return "" if value is None else str(value)
    if hasattr(a, key) and key in HEADER_ATTRS.values():
        return getattr(a, key) or ""
    return str((a.extra or {}).get(key, "") or "")


# The rows of an assessment `build()` reads, each table in its order.
INDICATOR_ROWS = childrows.Relation(Assessment, "indicators", ("position", "id"))
CONTENT = (
    childrows.Relation(Assessment, "funding_rows", ("id",)),
    childrows.Relation(Assessment, "structure_rows", ("id",)),
    childrows.Relation(Assessment, "goals", ("position", "id")),
    childrows.Relation(Assessment, "project_expenses", ("position", "id")),
    INDICATOR_ROWS,
    childrows.Relation(Assessment, "report_sections", ("id",)),
)


# What an assessment refers to that `build()` reads (the 填报任务, issue 14: the officer's pages show
# its deadline), fetched with it.
CONTENT_REFERENCES = ("unit__region__parent__parent", "round__rule_set", "template_version__template", "task")


def with_content(queryset):
    """Fetch everything `build()` reads in a fixed number of queries: the assessment with what it
    refers to, then each table of its rows (`childrows`: statements compiled once per process)."""
    return childrows.with_rows(queryset.select_related(*CONTENT_REFERENCES), CONTENT)


_BY_PK = childrows.ByPk(lambda: Assessment.objects.select_related(*CONTENT_REFERENCES))


def load_content(pk: int, relations: tuple = CONTENT) -> Assessment:
    """`with_content(Assessment.objects).get(pk=pk)` (Assessment.DoesNotExist where there is none),
    read by statements compiled once per process (`childrows.ByPk`): the assessment, then each
    table of its rows (or only those of `relations`, for a page that shows no more), all sent together
    (`childrows.read_with`)."""
    assessment = childrows.read_with(_BY_PK, pk, relations)
    if assessment is None:
        raise Assessment.DoesNotExist(f"No assessment {pk}.")
    return assessment


def load(pk: int) -> "AssessmentView":
    return build(load_content(pk))


def funding_inputs(spec: TableSpec, funding_rows) -> list[scoring.FundingInput]:
    """The template's funding rows with the assessment's values, for the scoring."""
    by_source = {f.source: f for f in funding_rows}
    has_reason = "reason" in spec.funding_keys
    inputs = []
    for row_spec in spec.funding_rows:
        row = by_source.get(row_spec.key)
        inputs.append(
            scoring.FundingInput(
                initial_budget=row.initial_budget if row else None,
                budget=row.budget if row else None,
                actual=row.actual if row else None,
                reason=row.reason if row else "",
                weight=row_spec.weight,
                score=row.score if row else None,
                key=row_spec.key,
                label=row_spec.label,
                reason_column=has_reason,
            )
        )
    return inputs


def evaluate(assessment: Assessment, funding_rows, indicators) -> scoring.AssessmentResult:
    """Score an assessment from (possibly unsaved) funding rows and indicators."""
    spec = assessment.table
    return scoring.assess(
        funding_inputs(spec, funding_rows), [i.to_input() for i in indicators], assessment.round.rules, spec.table_rules
    )


def build(
    assessment: Assessment,
    *,
    funding_rows=None,
    indicators=None,
    structure_rows=None,
    goals=None,
    expenses=None,
    sections=None,
) -> AssessmentView:
    """Build the read model; pass unsaved rows to preview what is being typed, or to show a snapshot."""
    spec = assessment.table
    funding_rows = list(assessment.funding_rows.all()) if funding_rows is None else list(funding_rows)
    indicators = list(assessment.indicators.all()) if indicators is None else list(indicators)
    structure_rows = assessment.structure_rows.all() if structure_rows is None else structure_rows
    goals = list(assessment.goals.all()) if goals is None else list(goals)
    sections = assessment.report_sections.all() if sections is None else sections
    if not spec.expenses:
        expenses = []
    elif expenses is None:
        expenses = list(assessment.project_expenses.all())
    result = evaluate(assessment, funding_rows, indicators)

    by_source = {f.source: f for f in funding_rows}
    funding = []
    for row_spec, row_result in zip(spec.funding_rows, result.funding_rows, strict=True):
        row = by_source.get(row_spec.key)
        line = FundingLine(
            source=row_spec.key,
            label=row_spec.label,
            initial_budget=row.initial_budget if row else None,
            budget=row.budget if row else None,
            actual=row.actual if row else None,
            reason=row.reason if row else "",
            rate=row_result.rate,
            extra=dict(row.extra) if row and row.extra else {},
            carries_weight=row_spec.weight is not None,
        )
        if row_spec.weight is not None:
            line.weight = row_result.weight
            line.score = row_result.score
            line.suggested = row_result.suggested
            line.entered = row_result.entered
            line.explanation = row_result.explanation
        funding.append(line)
    result.warnings.extend(_sum_warnings(spec, funding, spec.funding_rows, spec.funding_caption, "funding"))

    structure = []
    if spec.structure_rows:
        by_item = {s.item: s for s in structure_rows}
        for row_spec in spec.structure_rows:
            row = by_item.get(row_spec.key)
            structure.append(StructureLine(row_spec.key, row_spec.label, row.budget if row else None, row.actual if row else None))
        result.warnings.extend(_sum_warnings(spec, structure, spec.structure_rows, spec.structure_caption, "structure"))

    lines = [
        IndicatorLine(
            number=n,
            key=str(ind.key),
            level1=ind.level1,
            level2=ind.level2,
            name=ind.name,
            target=ind.target,
            actual=ind.actual,
            weight=ind.weight,
            outcome=ind.outcome,
            reason=ind.reason,
            result=row_result,
            indicator=ind,
            lineage=str(ind.lineage) if ind.lineage else str(ind.key),
            operator=ind.operator,
            unit=ind.unit,
            extra=dict(ind.extra) if ind.extra else {},
            level1_caption=spec.level1_caption(ind.level1),
            approved_target=ind.approved_target,
        )
        for n, (ind, row_result) in enumerate(zip(indicators, result.indicators, strict=True), start=1)
    ]
    _set_spans(lines)
    result.warnings.extend(_level2_warnings(spec, lines))

    by_key = {s.key: s for s in sections}
    blocks = [_section_line(by_key, s, n, block=True) for n, s in enumerate(spec.blocks, start=1)]
    report = [_section_line(by_key, s, n) for n, s in enumerate(spec.sections, start=1)]

    problems_by_row: dict[int, list[scoring.Problem]] = {}
    for problem in result.problems:
        if problem.section == "indicators" and problem.row:
            problems_by_row.setdefault(problem.row, []).append(problem)
    warnings_by_row: dict[int, list[scoring.Problem]] = {}
    for warning in result.warnings:
        if warning.section == "indicators" and warning.row:
            warnings_by_row.setdefault(warning.row, []).append(warning)

    return AssessmentView(
        assessment=assessment,
        table=spec,
        funding=funding,
        structure=structure,
        goals=goals,
        project_expenses=list(expenses),
        indicators=lines,
        sections=report,
        result=result,
        problems_by_row=problems_by_row,
        warnings_by_row=warnings_by_row,
        blocks=blocks,
    )


def _level2_warnings(spec: TableSpec, lines: list[IndicatorLine]) -> list[scoring.Problem]:
    """二级 values the template does not suggest for their 一级: kept as written, with a warning."""
    suggestions = spec.level2_suggestions
    warnings = []
    for line in lines:
        choices = suggestions.get(line.level1, ())
        if line.level2 and choices and line.level2 not in choices:
            name = " ".join((line.name or "").split())
            label = f"第{line.number}行「{name}」" if name else f"第{line.number}行"
            warnings.append(scoring.Problem(
                "indicators", line.number, "level2",
                f"{label}：二级指标“{line.level2}”不在本表样对“{line.level1}”的建议中（{'、'.join(choices)}），已按原文保留",
            ))
    return warnings


def _section_line(by_key, section_spec, number, *, block=False) -> SectionLine:
    section = by_key.get(section_spec.key)
    title = (section.title if section else "") or section_spec.title
    return SectionLine(section_spec.key, number, title, section.body if section else "", block)


AMOUNT_LABELS = {"initial_budget": "年初预算数", "budget": "全年预算数", "actual": "全年执行数"}


def _sum_warnings(spec: TableSpec, lines, row_specs, caption: str, table: str) -> list[scoring.Problem]:
    """Rows the template says add up to another row (合计 = 财政拨款 + 其他资金) and do not: a
    warning naming the rows. A blank part counts as 0; a blank whole is not checked."""
    by_key = {line.source if table == "funding" else line.item: line for line in lines}
    labels = {r.key: r.label for r in row_specs}
    if table == "funding":
        names = [c.key for c in spec.funding_columns if c.key in AMOUNT_LABELS]
        column_labels = {c.key: c.label for c in spec.funding_columns}
    else:
        names = ["budget", "actual"]
        column_labels = {"budget": spec.structure_labels[1], "actual": spec.structure_labels[2]}
    warnings = []
    for row_spec in row_specs:
        if not row_spec.parts:
            continue
        whole = by_key.get(row_spec.key)
        parts = [by_key.get(p) for p in row_spec.parts]
        for name in names:
            total = getattr(whole, name, None) if whole else None
            values = [getattr(p, name, None) if p else None for p in parts]
            if total is None or all(v is None for v in values):
                continue
            added = sum((v for v in values if v is not None), Decimal(0))
            if added != total:
                terms = " + ".join(
                    f"{labels[key]} {columns.amount_text(v or Decimal(0))}" for key, v in zip(row_spec.parts, values, strict=True)
                )
                warnings.append(
                    scoring.Problem(
                        table, None, name,
                        f"{_caption(caption)}：{labels[row_spec.key]}的{column_labels.get(name, AMOUNT_LABELS[name])} "
                        f"{columns.amount_text(total)} 不等于 {terms} = {columns.amount_text(added)}，请核对",
                    )
                )
    return warnings


def _caption(caption: str) -> str:
    return caption.split("（")[0]


# --- Snapshots --------------------------------------------------------------------------------

# Header keys of the JSON document -> the assessment's attributes.
HEADER_ATTRS = {
    "project_name": "project_name",
    "project_leader": "project_leader",
    "leader_phone": "leader_phone",
    "leader_phone_is_office": "leader_phone_is_office",
    "supervisor": "supervisor_name",
    "implementer": "implementer",
    "confidential": "confidential",
    "duties": "duties",
    "staff_quota": "staff_quota",
    "staff_actual": "staff_actual",
}


def from_snapshot(assessment: Assessment, data: dict) -> AssessmentView:
    """The read model of a submission as it was submitted (a `document()` as stored; documents
    written before the 表样 existed read the same way)."""
    a = copy.copy(assessment)
    header = data.get("header", {})
    for name, attr in HEADER_ATTRS.items():
        if name in header:
            setattr(a, attr, header[name])
    if "extra" in header:
        a.extra = dict(header["extra"])
    return build(
        a,
        funding_rows=[
            FundingRow(source=f["source"], initial_budget=_dec(f.get("initial_budget")), budget=_dec(f.get("budget")),
                       actual=_dec(f.get("actual")), reason=f.get("reason", ""), score=_dec(f.get("score_entered")),
                       extra=f.get("extra") or {})
            for f in data.get("funding", [])
        ],
        indicators=[
            # Snapshots taken before lineages existed (migration 0005) fall back to the key,
            # which is what the migration gave those rows as their lineage.
            Indicator(key=uuid.UUID(i["key"]), lineage=uuid.UUID(i.get("lineage") or i["key"]), level1=i["level1"],
                      level2=i["level2"], name=i["name"], operator=i.get("operator", ""), target=i["target"],
                      unit=i.get("unit", ""), actual=i["actual"], weight=_dec(i["weight"]), outcome=i.get("outcome") or "",
                      score=_entered_score(i), reason=i.get("reason", ""), extra=i.get("extra") or {},
                      approved_target=i.get("approved_target") or "")
            for i in data.get("indicators", [])
        ],
        structure_rows=[
            StructureRow(item=s["item"], budget=_dec(s.get("budget")), actual=_dec(s.get("actual")))
            for s in data.get("structure", [])
        ],
        goals=[Goal(target=g["target"], achieved=g["achieved"]) for g in data.get("goals", [])],
        expenses=[
            ProjectExpense(name=p["name"], budget=_dec(p["budget"]), actual=_dec(p["actual"]), note=p.get("note", ""),
                           confidential=p.get("confidential", False))
            for p in data.get("project_expenses", [])
        ],
        sections=[
            ReportSection(key=r["key"], title=r["title"], body=r["body"]) for r in data.get("blocks", []) + data.get("report", [])
        ],
    )


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def _entered_score(row: dict) -> Decimal | None:
    """The unit's typed 得分 of a stored row. Documents from before the 表样 kept only the score
    shown, which the unit had typed only on qualitative rows (quantitative ones were computed)."""
    if "score_entered" in row:
        return _dec(row["score_entered"])
    target = (row.get("target") or "").strip()
    return _dec(row.get("score")) if target and scoring.parse_value(target) is None else None


def _set_spans(lines: list[IndicatorLine]) -> None:
    """Row spans for 一级/二级 cells, as on the paper form (0 = covered by the row above)."""
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j].level1 == lines[i].level1:
            j += 1
        lines[i].level1_span = j - i
        for k in range(i + 1, j):
            lines[k].level1_span = 0
        m = i
        while m < j:
            n = m
            while n < j and lines[n].level2 == lines[m].level2:
                n += 1
            lines[m].level2_span = n - m
            for k in range(m + 1, n):
                lines[k].level2_span = 0
            m = n
        i = j
