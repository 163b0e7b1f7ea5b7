"""Year-over-year view of an assessment's indicators, followed by lineage (see docs/adr/0006).

An indicator carried over into next year's assessment keeps its `lineage`; `history(view)`
looks up, in one query, the earlier years' rows of the same unit with the lineages of the
view's indicators, and returns per indicator its target and actual per year, the numbers
parsed by `scoring.parse_value`. It sits beside the read model and takes one as input, so the
officer, reviewer and public pages all show the same thing.
"""

from dataclasses import dataclass, field
from functools import cached_property

from . import personal_data, scoring
from .childrows import Statement, Uuids
from .flags import FLAGS, history_codes
from .models import Assessment, Indicator
from .readmodel import AssessmentView, IndicatorLine

# Earlier years shown beside the current one.
MAX_EARLIER_YEARS = 4

# Inside the portal an earlier assessment counts once handed in. Drafts are not a record of the
# year, and a returned assessment's live rows are the officer's unsubmitted edits.
INTERNAL_STATES = (
    Assessment.State.SUBMITTED,
    Assessment.State.FORWARDED,
    Assessment.State.IN_REVIEW,
    Assessment.State.APPROVED,
    Assessment.State.PUBLISHED,
)


@dataclass(frozen=True)
class YearPoint:
    """One year of one indicator: its target and actual as written, and parsed."""

    year: int
    target: str
    actual: str
    current: bool = False

    @cached_property
    def target_value(self) -> scoring.ParsedValue | None:
        return scoring.parse_value(self.target)

    @cached_property
    def actual_value(self) -> scoring.ParsedValue | None:
        return scoring.parse_value(self.actual)


@dataclass
class IndicatorHistory:
    """An indicator of the current assessment with its earlier years (oldest first)."""

    line: IndicatorLine
    points: list[YearPoint]  # ascending by year; the last one is the current year
    flags: list[str] = field(default_factory=list)  # filled by flags.history_codes

    @property
    def current(self) -> YearPoint:
        return self.points[-1]

    @property
    def earlier(self) -> list[YearPoint]:
        return self.points[:-1]

    @property
    def has_history(self) -> bool:
        return bool(self.earlier)

    @property
    def flag_list(self):
        return [FLAGS[code] for code in self.flags]

    @cached_property
    def chart(self):
        from . import charts

        return charts.trend_chart(self)


def _earlier(public: bool):
    """A statement of the earlier years' rows of a unit's lineages (compiled once per number of
    lineages, issue 17): published and not 涉密 ones for the public, handed-in ones otherwise."""
    def make(unit_id, year, lineages):
        rows = Indicator.objects.filter(assessment__unit_id=unit_id, assessment__round__year__lt=year, lineage__in=lineages)
        if public:
            rows = rows.filter(assessment__state=Assessment.State.PUBLISHED, assessment__confidential=False)
        else:
            rows = rows.filter(assessment__state__in=INTERNAL_STATES)
        return rows.order_by("assessment__round__year", "position", "id").values_list(
            "lineage", "assessment__round__year", "operator", "target", "unit", "actual")

    return Statement(make, int, int, Uuids)


_EARLIER = {public: _earlier(public) for public in (False, True)}


def history(view: AssessmentView, *, public: bool = False) -> list[IndicatorHistory]:
    """Each indicator of `view` with its targets and actuals of earlier years (one query).

    `public=True` takes earlier years only from published, non-confidential (非涉密)
    assessments; otherwise from assessments that were handed in (`INTERNAL_STATES`).
    """
    a = view.assessment
    lineages = {line.lineage for line in view.indicators if line.lineage}
    earlier: dict[str, dict[int, YearPoint]] = {}
    if lineages:
        rows = _EARLIER[public].all(a.unit_id, a.round.year, sorted(lineages))
        for lineage, year, operator, target, unit, actual in rows:
            if public:  # earlier years on a public page: personal data masked as in the report itself
                target, actual = personal_data.mask(target), personal_data.mask(actual)
            # Should a lineage occur twice in one year, the first row (by position) stands.
            point = YearPoint(year, scoring.compose_value(operator, target, unit), scoring.compose_value("", actual, unit))
            earlier.setdefault(str(lineage), {}).setdefault(year, point)
    result = []
    for line in view.indicators:
        years = sorted(earlier.get(line.lineage, {}).values(), key=lambda p: p.year)[-MAX_EARLIER_YEARS:]
        current = YearPoint(a.round.year, line.target_text, line.actual_text, current=True)
        result.append(IndicatorHistory(line, [*years, current]))
    return result


def with_history(items: list[IndicatorHistory]) -> list[IndicatorHistory]:
    """Only the indicators that have at least one earlier year (what the pages show)."""
    return [h for h in items if h.has_history]


def for_page(view: AssessmentView, *, public: bool = False) -> list[IndicatorHistory]:
    """What a page shows: the indicators with earlier years, each with its year-over-year flags."""
    items = history(view, public=public)
    history_codes(items, view.assessment.round.rules)
    return with_history(items)
