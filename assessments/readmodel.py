"""One plain read model of an assessment, with its computed scores.

The entry page, the read-only page, the submission snapshot (and later the public HTML, xlsx
and JSON) are all built from `build()`, so they cannot disagree.
"""

import copy
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch

from . import scoring
from .layouts import STRUCTURE_ITEMS, STRUCTURE_LABELS, Layout, layout_for
from .models import Assessment, FundingRow, Goal, Indicator, ProjectExpense, ReportSection, StructureRow


@dataclass
class FundingLine:
    source: str
    label: str
    initial_budget: Decimal | None
    budget: Decimal | None
    actual: Decimal | None
    reason: str
    rate: Decimal | None
    weight: Decimal | None = None
    score: Decimal | None = None
    explanation: str = ""

    @property
    def is_total(self) -> bool:
        return self.source == FundingRow.Source.TOTAL


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

    @property
    def score(self) -> Decimal | None:
        return self.result.score

    @property
    def outcome_label(self) -> str:
        return scoring.OUTCOME_LABELS.get(self.result.outcome or "", "")


@dataclass
class SectionLine:
    key: str
    number: int
    title: str
    body: str


@dataclass
class AssessmentView:
    assessment: Assessment
    layout: Layout
    funding: list[FundingLine]
    structure: list[StructureLine]
    goals: list[Goal]
    project_expenses: list[ProjectExpense]
    indicators: list[IndicatorLine]
    sections: list[SectionLine]
    result: scoring.AssessmentResult
    problems_by_row: dict[int, list[scoring.Problem]] = field(default_factory=dict)

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

    def to_dict(self) -> dict:
        """A JSON-ready dict; amounts and scores as two-decimal strings or None."""
        a = self.assessment
        return {
            "id": a.pk,
            "kind": a.kind,
            "layout": a.layout,
            "year": a.round.year,
            "unit": {"name": a.unit.name, "region": a.unit.region.full_name},
            "title": a.title,
            "header": {
                "project_name": a.project_name,
                "project_leader": a.project_leader,
                "leader_phone": a.leader_phone,
                "leader_phone_is_office": a.leader_phone_is_office,
                "supervisor": a.supervisor_name,
                "implementer": a.implementer,
                "confidential": a.confidential,
                "duties": a.duties,
                "staff_quota": a.staff_quota,
                "staff_actual": a.staff_actual,
            },
            "funding": [
                {
                    "source": f.source,
                    "initial_budget": _money(f.initial_budget),
                    "budget": _money(f.budget),
                    "actual": _money(f.actual),
                    "rate": _money(f.rate),
                    "weight": _money(f.weight),
                    "score": _money(f.score),
                    "reason": f.reason,
                }
                for f in self.funding
            ],
            "structure": [
                {"item": s.item, "budget": _money(s.budget), "actual": _money(s.actual)} for s in self.structure
            ],
            "project_expenses": [
                {
                    "name": p.name,
                    "budget": _money(p.budget),
                    "actual": _money(p.actual),
                    "note": p.note,
                    "confidential": p.confidential,
                }
                for p in self.project_expenses
            ],
            "goals": [{"target": g.target, "achieved": g.achieved} for g in self.goals],
            "indicators": [
                {
                    "key": i.key,
                    "lineage": i.lineage,
                    "level1": i.level1,
                    "level2": i.level2,
                    "name": i.name,
                    "target": i.target,
                    "actual": i.actual,
                    "weight": _money(i.weight),
                    "outcome": i.result.outcome,
                    "score": _money(i.score),
                    "reason": i.reason,
                }
                for i in self.indicators
            ],
            "total_score": _money(self.total),
            "grade": self.grade,
            "report": [{"key": s.key, "title": s.title, "body": s.body} for s in self.sections],
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else scoring.fmt(value)


def with_content(queryset):
    """Fetch everything `build()` reads in a fixed number of queries."""
    return queryset.select_related("unit__region__parent__parent", "round__rule_set").prefetch_related(
        Prefetch("funding_rows", queryset=FundingRow.objects.order_by("id")),
        Prefetch("structure_rows", queryset=StructureRow.objects.order_by("id")),
        Prefetch("goals", queryset=Goal.objects.order_by("position", "id")),
        Prefetch("project_expenses", queryset=ProjectExpense.objects.order_by("position", "id")),
        Prefetch("indicators", queryset=Indicator.objects.order_by("position", "id")),
        Prefetch("report_sections", queryset=ReportSection.objects.order_by("id")),
    )


def load(pk: int) -> "AssessmentView":
    return build(with_content(Assessment.objects).get(pk=pk))


def evaluate(assessment: Assessment, funding_rows, indicators) -> scoring.AssessmentResult:
    """Score an assessment from (possibly unsaved) funding rows and indicators."""
    total = next((f for f in funding_rows if f.source == FundingRow.Source.TOTAL), None)
    funding_input = scoring.FundingInput(
        initial_budget=total.initial_budget if total else None,
        budget=total.budget if total else None,
        actual=total.actual if total else None,
        reason=total.reason if total else "",
    )
    return scoring.assess(funding_input, [i.to_input() for i in indicators], assessment.round.rules)


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
    layout = layout_for(assessment.layout)
    funding_rows = list(assessment.funding_rows.all()) if funding_rows is None else list(funding_rows)
    indicators = list(assessment.indicators.all()) if indicators is None else list(indicators)
    structure_rows = assessment.structure_rows.all() if structure_rows is None else structure_rows
    goals = list(assessment.goals.all()) if goals is None else list(goals)
    sections = assessment.report_sections.all() if sections is None else sections
    if assessment.kind != Assessment.Kind.DEPARTMENT:
        expenses = []
    elif expenses is None:
        expenses = list(assessment.project_expenses.all())
    result = evaluate(assessment, funding_rows, indicators)

    by_source = {f.source: f for f in funding_rows}
    funding = []
    for source in layout.sources:
        row = by_source.get(source)
        line = FundingLine(
            source=source,
            label=layout.source_labels[source],
            initial_budget=row.initial_budget if row else None,
            budget=row.budget if row else None,
            actual=row.actual if row else None,
            reason=row.reason if row else "",
            rate=None,
        )
        if source == FundingRow.Source.TOTAL:
            line.rate = result.funding.rate
            line.weight = result.funding.weight
            line.score = result.funding.score
            line.explanation = result.funding.explanation
        else:
            line.rate = scoring.score_funding(
                scoring.FundingInput(line.initial_budget, line.budget, line.actual), scored=False
            ).rate
        funding.append(line)

    structure = []
    if layout.has_structure:
        by_item = {s.item: s for s in structure_rows}
        for item in STRUCTURE_ITEMS:
            row = by_item.get(item)
            structure.append(
                StructureLine(item, STRUCTURE_LABELS[item], row.budget if row else None, row.actual if row else None)
            )

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
        )
        for n, (ind, row_result) in enumerate(zip(indicators, result.indicators, strict=True), start=1)
    ]
    _set_spans(lines)

    by_key = {s.key: s for s in sections}
    sections = []
    for number, (key, label) in enumerate(ReportSection.Key.choices, start=1):
        section = by_key.get(key)
        sections.append(SectionLine(key, number, (section.title if section else "") or label, section.body if section else ""))

    problems_by_row: dict[int, list[scoring.Problem]] = {}
    for problem in result.problems:
        if problem.section == "indicators" and problem.row:
            problems_by_row.setdefault(problem.row, []).append(problem)

    return AssessmentView(
        assessment=assessment,
        layout=layout,
        funding=funding,
        structure=structure,
        goals=goals,
        project_expenses=list(expenses),
        indicators=lines,
        sections=sections,
        result=result,
        problems_by_row=problems_by_row,
    )


def from_snapshot(assessment: Assessment, data: dict) -> AssessmentView:
    """The read model of a submission as it was submitted (see `AssessmentView.to_dict`)."""
    a = copy.copy(assessment)
    header = data.get("header", {})
    for name, attr in HEADER_FIELDS.items():
        if name in header:
            setattr(a, attr, header[name])
    return build(
        a,
        funding_rows=[
            FundingRow(source=f["source"], initial_budget=_dec(f["initial_budget"]), budget=_dec(f["budget"]),
                       actual=_dec(f["actual"]), reason=f.get("reason", ""))
            for f in data.get("funding", [])
        ],
        indicators=[
            # Snapshots taken before lineages existed (migration 0005) fall back to the key,
            # which is what the migration gave those rows as their lineage.
            Indicator(key=uuid.UUID(i["key"]), lineage=uuid.UUID(i.get("lineage") or i["key"]), level1=i["level1"], level2=i["level2"], name=i["name"], target=i["target"],
                      actual=i["actual"], weight=_dec(i["weight"]), outcome=i.get("outcome") or "",
                      score=_dec(i["score"]), reason=i.get("reason", ""))
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
        sections=[ReportSection(key=r["key"], title=r["title"], body=r["body"]) for r in data.get("report", [])],
    )


HEADER_FIELDS = {
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


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


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
