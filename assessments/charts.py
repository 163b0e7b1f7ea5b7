"""Chart geometry for server-rendered inline SVG (see docs/adr/0006).

Plain series in, coordinates out: the templates `includes/chart_bars.html` and
`includes/chart_trend.html` only place what is computed here. No JavaScript, no CDN, nothing
for the CSP to block (presentation attributes only), and it prints. Every chart carries the
rows of its table fallback, so the numbers are there for screen readers and on paper.

Coordinates are strings with at most one decimal ("12.5", "40"), so the template never has to
format numbers (and tests can compare exact values).
"""

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from . import scoring

# A small palette that stays apart in greyscale print: blue, orange, green.
COLOURS = ("#0d6efd", "#fd7e14", "#198754")

# Horizontal bar charts: category labels on the left, bars to the right, value after the bar.
LABEL_WIDTH = 150
PLOT_WIDTH = 360
VALUE_WIDTH = 70
BAR_HEIGHT = 14
GROUP_GAP = 10
LEGEND_HEIGHT = 24
AXIS_HEIGHT = 18

# Trend charts (one indicator over the years).
TREND_WIDTH = 300
TREND_HEIGHT = 130
TREND_LEFT = 44
TREND_RIGHT = 14
TREND_TOP = 12
TREND_BOTTOM = 22

_TENTH = Decimal("0.1")
COUNT_UNITS = ("份", "个")


def num(value: Decimal | int) -> str:
    """A coordinate as text with at most one decimal: Decimal("12.50") -> "12.5", 40 -> "40"."""
    text = f"{Decimal(value).quantize(_TENTH, rounding=ROUND_HALF_UP):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is ≥ value (axis maximum); 1 for 0 or less."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(1)
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, Decimal("1.2"), Decimal("1.5"), 2, Decimal("2.5"), 3, 4, 5, 6, 8, 10):
        if magnitude * step >= value:
            return magnitude * step
    return magnitude * 10  # pragma: no cover - the loop always returns


@dataclass
class Series:
    name: str
    values: list[Decimal | None]


@dataclass
class Bar:
    x: str
    y: str
    width: str
    height: str
    fill: str
    series: str
    category: str
    value: Decimal | None
    label: str  # the value as shown ("85.11%", "3"), "—" when missing
    label_x: str
    label_y: str


@dataclass
class Tick:
    x: str
    label: str


@dataclass
class Legend:
    name: str
    fill: str
    x: str
    text_x: str


@dataclass
class Category:
    label: str
    y: str  # baseline of the label text


@dataclass
class BarChart:
    """A grouped horizontal bar chart with its table fallback."""

    title: str
    unit: str  # "%", "分", "万元", "份"; shown in the table header and the value labels
    series: list[Series]
    categories: list[str]
    width: int
    height: int
    maximum: Decimal
    bars: list[Bar]
    ticks: list[Tick]
    legend: list[Legend]
    category_labels: list[Category]
    plot_left: int = LABEL_WIDTH
    plot_top: int = LEGEND_HEIGHT
    plot_bottom: int = 0
    note: str = ""

    @property
    def table_rows(self) -> list[tuple[str, list[str]]]:
        """(category, [value per series]) as the fallback table shows them."""
        return [
            (category, [_label(s.values[n], self.unit) for s in self.series])
            for n, category in enumerate(self.categories)
        ]

    @property
    def summary(self) -> str:
        """A one-line text alternative for the SVG's aria-label."""
        names = "、".join(s.name for s in self.series)
        return f"{self.title}（{names}，共 {len(self.categories)} 项，数据见下表）"

    @property
    def is_empty(self) -> bool:
        return not any(v is not None for s in self.series for v in s.values)


def _label(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in COUNT_UNITS:
        return f"{int(value)}"
    return f"{scoring.fmt(value)}{'%' if unit == '%' else ''}"


def bar_chart(
    title: str,
    categories: list[str],
    series: list[Series],
    *,
    unit: str = "",
    maximum: Decimal | None = None,
    note: str = "",
) -> BarChart:
    """Geometry of a grouped horizontal bar chart: one group per category, one bar per series.

    The axis runs from 0 to `maximum` (default: a round number at or above the largest value);
    a value above it is drawn to the end of the axis and labelled with its true value.
    """
    values = [v for s in series for v in s.values if v is not None]
    top = maximum if maximum is not None else nice_ceiling(max(values, default=Decimal(0)))
    if unit in COUNT_UNITS and maximum is None:
        top = max(Decimal(4), (top / 4).to_integral_value(rounding=ROUND_CEILING) * 4)  # whole-number ticks
    group = len(series) * BAR_HEIGHT + GROUP_GAP
    height = LEGEND_HEIGHT + len(categories) * group + AXIS_HEIGHT
    bars, labels = [], []
    for n, category in enumerate(categories):
        group_top = LEGEND_HEIGHT + n * group + GROUP_GAP // 2
        labels.append(Category(category, num(group_top + len(series) * BAR_HEIGHT / Decimal(2) + 4)))
        for k, s in enumerate(series):
            value = s.values[n]
            shown = max(min(value, top), Decimal(0)) if value is not None else Decimal(0)
            width = Decimal(PLOT_WIDTH) * shown / top
            y = group_top + k * BAR_HEIGHT
            bars.append(
                Bar(
                    x=num(LABEL_WIDTH),
                    y=num(y + 1),
                    width=num(width),
                    height=num(BAR_HEIGHT - 2),
                    fill=COLOURS[k % len(COLOURS)],
                    series=s.name,
                    category=category,
                    value=value,
                    label=_label(value, unit),
                    label_x=num(LABEL_WIDTH + width + 4),
                    label_y=num(y + BAR_HEIGHT - 3),
                )
            )
    ticks = [Tick(num(LABEL_WIDTH + PLOT_WIDTH * q / 4), _tick(top * q / 4)) for q in range(5)]
    legend = [
        Legend(s.name, COLOURS[k % len(COLOURS)], num(LABEL_WIDTH + k * 110), num(LABEL_WIDTH + k * 110 + 16))
        for k, s in enumerate(series)
    ]
    return BarChart(
        title=title, unit=unit, series=series, categories=categories, width=LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height=height, maximum=top, bars=bars, ticks=ticks, legend=legend, category_labels=labels,
        plot_bottom=height - AXIS_HEIGHT, note=note,
    )


def _tick(value: Decimal) -> str:
    return scoring.fmt_weight(value)


# --- Trend of one indicator over the years ----------------------------------------------------


@dataclass
class TrendPoint:
    x: str
    y: str
    value: Decimal
    year: int
    text: str  # as written ("≥10次")


@dataclass
class TrendLine:
    name: str
    colour: str
    dashed: bool
    points: list[TrendPoint]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


@dataclass
class TrendChart:
    title: str
    unit: str
    years: list[tuple[int, str]]  # (year, x) of each axis label
    lines: list[TrendLine]
    maximum: Decimal
    ticks: list[tuple[str, str]] = field(default_factory=list)  # (y, label)
    width: int = TREND_WIDTH
    height: int = TREND_HEIGHT
    left: int = TREND_LEFT
    right: int = TREND_WIDTH - TREND_RIGHT
    top: int = TREND_TOP
    bottom: int = TREND_HEIGHT - TREND_BOTTOM

    @property
    def summary(self) -> str:
        parts = []
        for line in self.lines:
            values = "，".join(f"{p.year}年 {p.text}" for p in line.points)
            parts.append(f"{line.name}：{values}")
        return f"{self.title}。" + "；".join(parts)


def trend_chart(h) -> TrendChart | None:
    """Target and actual of one indicator (`history.IndicatorHistory`) per year, as two lines.

    Only values in the unit of the latest target (or actual) are plotted, so that a change of
    unit does not draw 10次 and 10个 on one scale; None when nothing numeric is left.
    """
    unit = _common_unit(h)
    if unit is None:
        return None
    series = []
    for name, attr, colour, dashed in (("指标值", "target_value", "#6c757d", True), ("实际完成值", "actual_value", COLOURS[0], False)):
        values = [(p, getattr(p, attr)) for p in h.points]
        series.append((name, colour, dashed, [(p, v) for p, v in values if v is not None and v.unit == unit]))
    numbers = [v.number for *_, points in series for _, v in points]
    if not numbers:
        return None
    top = nice_ceiling(max(numbers))
    span_x = Decimal(TREND_WIDTH - TREND_LEFT - TREND_RIGHT)
    span_y = Decimal(TREND_HEIGHT - TREND_TOP - TREND_BOTTOM)
    count = len(h.points)
    xs = {
        p.year: Decimal(TREND_LEFT) + (span_x * n / (count - 1) if count > 1 else span_x / 2)
        for n, p in enumerate(h.points)
    }

    def y_of(value: Decimal) -> Decimal:
        return Decimal(TREND_TOP) + span_y - span_y * max(min(value, top), Decimal(0)) / top

    lines = [
        TrendLine(
            name, colour, dashed,
            [TrendPoint(num(xs[p.year]), num(y_of(v.number)), v.number, p.year, getattr(p, attr_text))
             for p, v in points],
        )
        for (name, colour, dashed, points), attr_text in zip(series, ("target", "actual"), strict=True)
    ]
    lines = [line for line in lines if line.points]
    title = h.line.name or f"{h.line.level1}/{h.line.level2}"
    return TrendChart(
        title=f"{title}（{unit or '数值'}）",
        unit=unit,
        years=[(p.year, num(xs[p.year])) for p in h.points],
        lines=lines,
        maximum=top,
        ticks=[(num(y_of(top * q / 2)), _tick(top * q / 2)) for q in range(3)],
    )


def _common_unit(h) -> str | None:
    for p in reversed(h.points):
        for value in (p.target_value, p.actual_value):
            if value is not None:
                return value.unit
    return None
