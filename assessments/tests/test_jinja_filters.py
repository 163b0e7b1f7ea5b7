"""The Jinja2 templates' filters give the Django templates' text (portal/jinja2.py, ADR 0023)."""

import datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

from portal.jinja2 import local_date

UTC = datetime.UTC
VALUES = [
    datetime.date(2026, 1, 5), datetime.date(999, 12, 31), datetime.date(2024, 2, 29),
    datetime.datetime(2026, 6, 30, 15, 59, tzinfo=UTC),  # 23:59 北京时间
    datetime.datetime(2026, 6, 30, 16, 0, tzinfo=UTC),  # 00:00 the next day
    datetime.datetime(2026, 12, 31, 23, 5, 7, 123456, tzinfo=UTC),
    datetime.datetime(2026, 3, 1, 8, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
]


@pytest.mark.parametrize("fmt", ["Y-m-d", "Y-m-d H:i", "n月j日", "Y年n月j日", "Y-m-d H:i:s"])
@pytest.mark.parametrize("value", VALUES, ids=str)
def test_dates_read_as_in_django_templates(value, fmt):
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"
    if not isinstance(value, datetime.datetime) and "H" in fmt:  # a day has no hour: both refuse it
        with pytest.raises(TypeError):
            local_date(value, fmt)
        return
    assert local_date(value, fmt) == Template("{{ value|date:fmt }}").render(Context({"value": value, "fmt": fmt}))


def test_blank_dates_are_blank():
    assert local_date(None, "Y-m-d") == local_date("", "Y-m-d H:i") == ""
    assert local_date(datetime.datetime(2026, 6, 30, 16, 0, tzinfo=UTC), "Y-m-d H:i") == "2026-07-01 00:00"


def test_state_and_kind_read_as_the_models_display():
    from django.template.loader import get_template

    from assessments.models import Assessment

    template = get_template("assessments/entry/list_rows.html", using="jinja2").template
    kind_label, state_label = template.environment.filters["kind_label"], template.environment.filters["state_label"]
    for state in Assessment.State.values:
        assert state_label(state) == Assessment(state=state).get_state_display()
    for kind in Assessment.Kind.values:
        assert kind_label(kind) == Assessment(kind=kind).get_kind_display()
    assert state_label("gone") == Assessment(state="gone").get_state_display() == "gone"


@pytest.mark.parametrize("value", [
    "", "短", "培训次数" * 30, "x" * 119, "x" * 120, "x" * 121, "e\u0301" * 70, "e\u0301" * 130,
    "Cafe\u0301 " * 30, "<b>粗</b>" * 20, 12345, None,
])
@pytest.mark.parametrize("length", [1, 40, 120, "120", "x"])
def test_truncatechars_cuts_as_django_templates_cut(value, length):
    """The Jinja2 filter gives a text no longer than `length` back without Django's walk over its
    characters; every text is Django's result, combining characters and the zh-hans "..." too."""
    from django.utils import translation

    from portal.jinja2 import truncatechars

    with translation.override("zh-hans"):
        expected = Template("{{ value|truncatechars:length }}").render(Context({"value": value, "length": length}))
        ours = truncatechars(value, length)
    assert Template("{{ value }}").render(Context({"value": ours})) == expected
