"""How every column of a 表样 shows its value: one place for all pages, exports and the diff.

A column's *key* says where its value lives in the read model (`FundingLine`, `IndicatorLine`,
or the line's `extra` for a template's own columns); its *kind* says how the value is written:
as text, as an amount in 万元 (two to four decimals, as typed), a weight ("5", "12.5"), a score
("9.67"), a rate ("96.67%"). The HTML tables, the xlsx writer, the JSON document, the CSV and
the diff all go through `cell()`/`json_value()`; the entry form asks `form_kind()`.

Adding a new *kind* of column touches three files: its name and Chinese label in
tablespec.py (`VALUE_KINDS`, what a template may declare), a `Kind` here (how it shows on the
pages, in the JSON and in the xlsx: cell value, style family, column width) and its form field in
forms.py (`FIELD_FACTORIES`).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from . import scoring
from .tablespec import Column

_CENT = Decimal("0.01")
MAX_AMOUNT_PLACES = 4


def amount_places(value: Decimal) -> int:
    """Decimals an amount is shown with: at least two, up to four when typed so ("12.345")."""
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(max(places, 2), MAX_AMOUNT_PLACES)


def amount_text(value: Decimal | None) -> str:
    """An amount in 万元 as typed: "36.00", "30.64", "12.345", "1.2345"; "" for None."""
    if value is None:
        return ""
    places = amount_places(value)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:f}"


def amount_value(value: Decimal | None) -> Decimal | None:
    """The amount with exactly the decimals it is shown with (for the xlsx cell)."""
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-amount_places(value)), rounding=ROUND_HALF_UP)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _number(value) -> str:
    if value in (None, ""):
        return ""
    try:
        return scoring.fmt_weight(Decimal(str(value)))
    except ArithmeticError:
        return str(value)


def number_value(value):
    """A weight, count or number for a numeric cell: int when whole, Decimal otherwise."""
    if value in (None, ""):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return str(value)


@dataclass(frozen=True)
class Kind:
    name: str
    css: str  # the table cell's class on the pages
    text: callable  # value -> what the page shows
    json: callable  # value -> the JSON document's value
    xlsx_value: callable = _text  # value -> the xlsx cell's value
    xlsx_style: str = "text"  # the xlsx style family: text | amount | rate | number | score
    width: int = 14  # the xlsx column width of a template's own column of this kind


KINDS: dict[str, Kind] = {
    "text": Kind("text", "", _text, lambda v: "" if v is None else v),
    "long_text": Kind("long_text", "pre", _text, lambda v: "" if v is None else v, width=22),
    "amount": Kind("amount", "num", amount_text, lambda v: None if v is None else amount_text(v),
                   amount_value, "amount", 12),
    "number": Kind("number", "num", _number, lambda v: None if v in (None, "") else _number(v), number_value, "number", 9),
    "integer": Kind("integer", "", _text, lambda v: v, number_value, "number", 9),
    "weight": Kind("weight", "num", scoring.fmt_weight, lambda v: None if v is None else scoring.fmt(v),
                   number_value, "number"),
    "score": Kind("score", "num score", scoring.fmt, lambda v: None if v is None else scoring.fmt(v),
                  lambda v: v, "score"),
    "rate": Kind("rate", "num rate", lambda v: "" if v is None else f"{scoring.fmt(v)}%",
                 lambda v: None if v is None else scoring.fmt(v), lambda v: None if v is None else v / Decimal(100), "rate"),
}

FUNDING_KINDS = {
    "initial_budget": "amount", "budget": "amount", "actual": "amount", "rate": "rate", "weight": "weight",
    "score": "score", "reason": "long_text",
}
INDICATOR_KINDS = {
    "level1": "text", "level2": "text", "name": "long_text", "operator": "text", "target": "long_text", "unit": "text",
    "actual": "long_text", "weight": "weight", "score": "score", "reason": "long_text",
}
HEADER_KINDS = {"staff_quota": "integer", "staff_actual": "integer", "duties": "long_text"}


def kind_of(column: Column, table: str) -> Kind:
    known = FUNDING_KINDS if table == "funding" else INDICATOR_KINDS
    return KINDS[known.get(column.key, column.kind)]


def value(line, column: Column):
    """The value of `column` on a read-model line (a template's own columns live in `extra`)."""
    if column.key in FUNDING_KINDS or column.key in INDICATOR_KINDS:
        return getattr(line, column.key)
    return (line.extra or {}).get(column.key)


@dataclass(frozen=True)
class Cell:
    text: str
    css: str
    value: object
    kind: str


def cell(line, column: Column, table: str) -> Cell:
    kind = kind_of(column, table)
    raw = value(line, column)
    if kind.name == "amount" and isinstance(raw, str):
        raw = _decimal(raw)
    return Cell(kind.text(raw), kind.css, raw, kind.name)


def json_value(line, column: Column, table: str):
    kind = kind_of(column, table)
    raw = value(line, column)
    if kind.name == "amount" and isinstance(raw, str):
        raw = _decimal(raw)
    return kind.json(raw)


def visible(columns, weighted: bool) -> list[Column]:
    """The columns a table shows: 分值/得分 marked `when_weighted` only when weights are used."""
    return [c for c in columns if weighted or not c.when_weighted]


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text not in ("", None) else None
    except ArithmeticError:
        return None


@dataclass(frozen=True)
class Segment:
    kind: str  # "label" (总分) | "weight" | "score" | "review" | "blank" | "grade" | "label_grade"
    span: int
    first: int  # index of its first column


def total_segments(cols) -> list[Segment]:
    """The 总分 row under an indicator table: the totals sit under 分值, 得分 (and 复核得分); the
    first run of other columns holds the 总分 label, the last run after the totals holds the grade
    (when the label run is that last run too, it holds both: "label_grade")."""
    keys = [c.key for c in cols]
    totals = ("weight", "score", "review")  # 复核得分 (the xlsx of a reviewed report) holds its total too
    runs: list[list[int]] = []  # runs of columns that hold no total
    segments: list[Segment] = []
    for n, key in enumerate(keys):
        if key in totals:
            segments.append(Segment(key, 1, n))
        elif runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    if not runs:
        return segments
    last_total = max((s.first for s in segments), default=-1)
    trailing = runs[-1] if runs[-1][0] > last_total else None
    for run in runs:
        if run is runs[0]:
            kind = "label_grade" if run is trailing else "label"
        elif run is trailing:
            kind = "grade"
        else:
            kind = "blank"
        segments.append(Segment(kind, len(run), run[0]))
    return sorted(segments, key=lambda s: s.first)
