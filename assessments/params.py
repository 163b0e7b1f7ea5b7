"""Query parameters (and the few posted fields that are not part of a Django form), parsed in
one place.

Each view declares its parameters as a dict of parsers; `read` applies it to ``request.GET`` or
``request.POST``. A parser turns the raw text into a value within its range, or None when the
text is missing or not acceptable. Parsers never raise: odd input is treated as absent. The
cases that used to answer 500 show why the checks are what they are:

- ``"²".isdigit()`` is true but ``int("²")`` fails: integers are ASCII digits only;
- ``99999999999999999999999`` overflows SQLite's and PostgreSQL's integers: ids stay below 2**63,
  years within four digits;
- ``9999-12-31`` plus one day is no date: `Day` answers the date, and `day_start` / `day_end`
  answer None where a bound would leave the calendar (no bound is needed there);
- PostgreSQL refuses NUL characters in text: `Text` removes them.

`canonical` renders accepted values as the one query string that cache keys and links are made
from: unknown parameters, refused values and defaults never reach it.
"""

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

MAX_ID = 2**63 - 1  # BigAutoField, and SQLite's INTEGER
MAX_PAGE = 100_000
_DIGITS = re.compile(r"[0-9]{1,30}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Int:
    """A whole number written in ASCII digits, within [low, high]; `clamp` brings a larger
    number down to `high` instead of refusing it."""

    def __init__(self, low: int = 1, high: int = MAX_ID, *, clamp: bool = False):
        self.low, self.high, self.clamp = low, high, clamp

    def __call__(self, raw: str) -> int | None:
        raw = raw.strip()
        if not _DIGITS.fullmatch(raw):
            return None
        value = int(raw)
        if value > self.high and self.clamp:
            return self.high
        return value if self.low <= value <= self.high else None


class Choice:
    """One of a fixed set of codes."""

    def __init__(self, values):
        self.values = frozenset(values)

    def __call__(self, raw: str) -> str | None:
        raw = raw.strip()
        return raw if raw in self.values else None


class Sort(Choice):
    """A sort key, optionally prefixed with ``-`` for descending."""

    def __call__(self, raw: str) -> str | None:
        raw = raw.strip()
        return raw if raw.removeprefix("-") in self.values else None


class Text:
    """Free text, stripped, without NUL characters, cut to `max_length`; empty is None."""

    def __init__(self, max_length: int = 100):
        self.max_length = max_length

    def __call__(self, raw: str) -> str | None:
        return raw.replace("\x00", "").strip()[: self.max_length].strip() or None


class Day:
    """A date written YYYY-MM-DD."""

    def __call__(self, raw: str) -> date | None:
        raw = raw.strip()
        if not _DAY.fullmatch(raw):
            return None
        try:
            return datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            return None


# Aware datetimes near the ends of the calendar cannot be converted to UTC.
_FIRST_BOUNDED_DAY, _LAST_BOUNDED_DAY = date(1, 1, 2), date(9999, 12, 30)


def day_start(day: date) -> datetime | None:
    """The day's first moment in the current time zone; None (no bound needed) at the calendar's start."""
    if day < _FIRST_BOUNDED_DAY:
        return None
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def day_end(day: date) -> datetime | None:
    """The first moment after the day; None (no bound needed) at the calendar's end."""
    if day > _LAST_BOUNDED_DAY:
        return None
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())


PAGE = Int(1, MAX_PAGE)


def page_range(page) -> list:
    """The page numbers a list shows (includes/page_numbers.html): the first, two either side of
    the current one, the last, with Paginator.ELLIPSIS between."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))


class Params(dict):
    """Accepted values by name (None where absent or refused); `refused` names the parameters
    that were given a value the parser did not accept."""

    refused: frozenset = frozenset()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def given(self, *names) -> dict:
        """The accepted values among `names` (all if none named) that are not None."""
        return {k: v for k, v in self.items() if v is not None and (not names or k in names)}

    def as_form(self) -> dict:
        """Strings for re-filling a filter form: "" where absent."""
        return {k: "" if v is None else str(v) for k, v in self.items()}


def read(data, spec: dict) -> Params:
    """Parse `data` (a QueryDict or dict of strings) with `spec` ({name: parser}); other names are ignored."""
    values, refused = {}, set()
    for name, parse in spec.items():
        raw = data.get(name, "")
        raw = raw if isinstance(raw, str) else ""
        value = parse(raw) if raw else None
        if raw.strip() and value is None:
            refused.add(name)
        values[name] = value
    params = Params(values)
    params.refused = frozenset(refused)
    return params


def pk_link(name: str):
    """pk → the URL of `name` (an <int:pk> route), reversed once per list instead of once per row."""
    marker = 987654321
    before, _, after = reverse(name, args=[marker]).partition(str(marker))
    return lambda pk: f"{before}{int(pk)}{after}"


def canonical(params: dict, *, without=()) -> str:
    """The accepted values as one query string, in the order the view declares them; absent
    values and ``page=1`` left out."""
    items = []
    for name, value in params.items():
        if value is None or name in without or (name == "page" and value == 1):
            continue
        items.append((name, value.isoformat() if isinstance(value, date) else str(value)))
    return urlencode(items)
