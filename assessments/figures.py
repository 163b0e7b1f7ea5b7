"""The series behind the charts (issue 7, "Pictures"), from the read model or cached columns.

Each function returns `charts.BarChart` objects ready for `includes/chart_bars.html`. Database
work is a fixed number of aggregate queries, whatever the number of submissions: the reviewer
dashboard must cost the same with 10 or 10,000 of them.
"""

from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    FloatField,
    Q,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round

from . import charts, scoring
from .models import Assessment, FundingRow

# The dashboard's charts leave out returned assessments: their live scores are an unsubmitted draft.
CHARTED_STATES = (
    Assessment.State.SUBMITTED,
    Assessment.State.FORWARDED,
    Assessment.State.IN_REVIEW,
    Assessment.State.APPROVED,
    Assessment.State.PUBLISHED,
)
RATE_BANDS = (
    # label, lower bound (inclusive), upper bound (exclusive; None = open), on the rate in percent
    ("低于60%", None, Decimal(60)),
    ("60%–80%", Decimal(60), Decimal(80)),
    ("80%–90%", Decimal(80), Decimal(90)),
    ("90%–100%", Decimal(90), None),  # up to and including 100%
    ("高于100%", None, None),
)
LOWEST_RATES = 10
PUBLIC_UNITS = 30
_MONEY = DecimalField(max_digits=20, decimal_places=4)


def score_bands(rules: scoring.RuleSet) -> list[tuple[str, Decimal | None, Decimal | None]]:
    """(label, lower bound inclusive, upper bound exclusive) per grade, best first: 优（≥90）…差（<60）."""
    bands, upper = [], None
    for grade, floor in rules.grade_thresholds:
        low = scoring.fmt_weight(floor)
        label = f"{grade}（≥{low}）" if upper is None else f"{grade}（{low}–{scoring.fmt_weight(upper)}）"
        bands.append((label, floor, upper))
        upper = floor
    bands.append((f"{rules.lowest_grade}（<{scoring.fmt_weight(upper)}）", None, upper))
    return bands


def _score_q(field: str, low, high) -> Q:
    q = Q(**{f"{field}__isnull": False})
    if low is not None:
        q &= Q(**{f"{field}__gte": low})
    if high is not None:
        q &= Q(**{f"{field}__lt": high})
    return q


def score_distribution(assessments, rules: scoring.RuleSet) -> charts.BarChart:
    """自评总分 vs 复核总分 by grade band, counted over `assessments` (one query)."""
    bands = score_bands(rules)
    qs = assessments.filter(state__in=CHARTED_STATES).order_by()
    aggregates = {}
    for n, (_label, low, high) in enumerate(bands):
        aggregates[f"self_{n}"] = Count("id", filter=_score_q("self_total", low, high))
        aggregates[f"review_{n}"] = Count("id", filter=_score_q("review_total", low, high))
    aggregates["self_none"] = Count("id", filter=Q(self_total__isnull=True))
    aggregates["review_none"] = Count("id", filter=Q(review_total__isnull=True))
    counts = qs.aggregate(**aggregates)
    labels = [label for label, *_ in bands] + ["无总分（未计分 / 未复核）"]
    return charts.bar_chart(
        "自评总分与复核总分分布",
        labels,
        [
            charts.Series("自评总分", [Decimal(counts[f"self_{n}"]) for n in range(len(bands))] + [Decimal(counts["self_none"])]),
            charts.Series("复核总分", [Decimal(counts[f"review_{n}"]) for n in range(len(bands))] + [Decimal(counts["review_none"])]),
        ],
        unit="份",
        note="按等级区间统计本批次已提交的自评份数（不含退回修改中的）。",
    )


def _total_rows(assessments):
    """The 合计 funding rows of `assessments`, with the denominator the execution rate uses."""
    return FundingRow.objects.filter(
        source=FundingRow.TOTAL, assessment__in=assessments.order_by().values("pk")
    ).annotate(den=Coalesce("budget", "initial_budget"))


def rate_distribution(assessments) -> charts.BarChart:
    """Number of assessments per execution-rate band (one query)."""
    # Banded on the rate as the pages show it (rounded to 2 decimals, as scoring does): 300.01 of
    # 300 is shown as 100.00% and must count in 90%–100%, not above 100%.
    computable = Q(den__gt=0, actual__isnull=False)
    rows = _total_rows(assessments.filter(state__in=CHARTED_STATES)).annotate(
        pct=Case(
            When(computable, then=Round(ExpressionWrapper(F("actual") * 100 / F("den"), output_field=_MONEY), 2)),
            default=None, output_field=_MONEY,
        )
    )
    aggregates = {}
    for n, (_label, low, high) in enumerate(RATE_BANDS[:-1]):
        q = computable
        if low is not None:
            q &= Q(pct__gte=low)
        q &= Q(pct__lt=high) if high is not None else Q(pct__lte=100)
        aggregates[f"band_{n}"] = Count("id", filter=q)
    aggregates[f"band_{len(RATE_BANDS) - 1}"] = Count("id", filter=computable & Q(pct__gt=100))
    aggregates["none"] = Count("id", filter=~computable)
    counts = rows.aggregate(**aggregates)
    labels = [label for label, *_ in RATE_BANDS] + ["无法计算"]
    values = [Decimal(counts[f"band_{n}"]) for n in range(len(RATE_BANDS))] + [Decimal(counts["none"])]
    return charts.bar_chart(
        "预算执行率分布", labels, [charts.Series("自评份数", values)], unit="份",
        note="执行率 = 全年执行数 ÷ 全年预算数（未填时用年初预算数）；90%–100% 含 100%。",
    )


def _name(unit_name: str, short_name: str, kind: str, project_name: str) -> str:
    name = short_name or unit_name
    return f"{name} · {project_name}" if kind == Assessment.Kind.PROJECT else name


def _rate(actual: Decimal | None, den: Decimal | None) -> Decimal | None:
    if actual is None or den is None or den <= 0:
        return None
    return scoring.quantize(actual * 100 / den)


def lowest_rates(assessments, limit: int = LOWEST_RATES) -> charts.BarChart:
    """Execution rate of the `limit` assessments (by unit) with the lowest rates (one query)."""
    rows = (
        _total_rows(assessments.filter(state__in=CHARTED_STATES))
        .filter(den__gt=0, actual__isnull=False)
        .annotate(ratio=Cast("actual", FloatField()) / Cast("den", FloatField()))
        .order_by("ratio", "assessment__unit__name", "assessment_id")
        .values_list("assessment__unit__name", "assessment__unit__short_name", "assessment__kind",
                     "assessment__project_name", "actual", "den")[:limit]
    )
    labels, values = [], []
    for unit_name, short_name, kind, project_name, actual, den in rows:
        labels.append(_name(unit_name, short_name, kind, project_name))
        values.append(_rate(actual, den))
    top = max([Decimal(100), *(v for v in values if v is not None)])
    return charts.bar_chart(
        f"执行率最低的{limit}份自评（按单位）", labels, [charts.Series("预算执行率", values)], unit="%",
        maximum=charts.nice_ceiling(top),
    )


def dashboard(assessments, rules: scoring.RuleSet) -> list[charts.BarChart]:
    """The reviewer dashboard's charts for one round: three queries in all."""
    return [score_distribution(assessments, rules), rate_distribution(assessments), lowest_rates(assessments)]


def public_units(published_qs) -> list[charts.BarChart]:
    """Execution rate and total score per unit of a filtered public list (one query).

    At most `PUBLIC_UNITS` reports, in name order; the note says so when there are more.
    """
    # Driven from the filtered reports, joined to their 合计 row: starting from the funding rows
    # made PostgreSQL walk every unit in name order (120 ms on the benchmark's province).
    rows = list(
        published_qs.annotate(
            total_row=FilteredRelation("funding_rows", condition=Q(funding_rows__source=FundingRow.TOTAL)),
            den=Coalesce("total_row__budget", "total_row__initial_budget"),
        )
        .order_by("unit__name", "kind", "project_name", "pk")
        .values_list("unit__name", "unit__short_name", "kind", "project_name", "total_row__actual", "den",
                     "self_total", "review_total")[: PUBLIC_UNITS + 1]
    )
    note = f"仅显示按单位名称排序的前{PUBLIC_UNITS}份报告。" if len(rows) > PUBLIC_UNITS else ""
    rows = rows[:PUBLIC_UNITS]
    if not rows:
        return []
    labels = [_name(u, s, k, p) for u, s, k, p, *_ in rows]
    rates = [_rate(actual, den) for *_, actual, den, _s, _r in rows]
    top = max([Decimal(100), *(v for v in rates if v is not None)])
    return [
        charts.bar_chart("各单位预算执行率", labels, [charts.Series("预算执行率", rates)], unit="%",
                         maximum=charts.nice_ceiling(top), note=note),
        charts.bar_chart(
            "各单位自评总分", labels,
            [charts.Series("自评总分", [r[6] for r in rows]), charts.Series("复核总分", [r[7] for r in rows])],
            unit="分", maximum=Decimal(100), note=note,
        ),
    ]


def funding(view) -> charts.BarChart | None:
    """Budget vs actual per funding source of one report, from the read model (no query)."""
    budget_name = "全年预算数" if "budget" in view.table.funding_keys else "年初预算数"
    lines = [f for f in view.funding if f.actual is not None or (f.budget if f.budget is not None else f.initial_budget) is not None]
    if not lines:
        return None
    return charts.bar_chart(
        "资金情况：预算与执行",
        [f.label for f in lines],
        [
            charts.Series(budget_name, [f.budget if f.budget is not None else f.initial_budget for f in lines]),
            charts.Series("执行数", [f.actual for f in lines]),
        ],
        unit="万元",
        note="预算取全年预算数，未填时取年初预算数。",
    )
