"""The Jinja2 environment of the few templates where Django's template engine cost too much
(issue 17, part 5; ADR 0023): the entry form's tables, rendered some 40 times a page per row, and
the rows of the longest lists (the dashboard, the 公开登记簿, 我的绩效自评, the public list).

Jinja2 templates live in `templates/jinja2/`. They use the same filters as the Django templates
(one definition each, in `assessments/templatetags/portal.py`), and an undefined name or attribute
renders as nothing, as it does in Django templates, instead of raising."""

import datetime
import functools
import html
import re
import unicodedata

import jinja2
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django.conf import settings
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat
from django.utils.timezone import template_localtime
from jinja2 import ChainableUndefined, Environment, Undefined
from markupsafe import Markup

from assessments.templatetags import portal


def part(template_name: str, context: dict, request=None):
    """A Jinja2 template's HTML for a Django template to place (`{{ rows_html }}`): a function, so
    the part is rendered when the page reaches it, escaped as rendered."""
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    return lambda: mark_safe(render_to_string(template_name, context, request=request, using="jinja2"))


def url(name, *args):
    return reverse(name, args=args)


def fixed_url(name: str) -> str:
    """The URL of a route without arguments, reversed once per process (and script prefix and URL
    configuration): `reverse` takes 10–25 µs, and every page's navigation has ten of them."""
    return _fixed_url(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=512)
def _fixed_url(name: str, prefix: str, urlconf) -> str:
    return reverse(name)


# The formats the long lists use, written directly: Django's formatter costs some 10 µs a value, and
# a 公开登记簿 page shows hundreds of dates (issue 17). Same text as dateformat for any date.
_FAST_FORMATS = {"Y-m-d": "%04d-%02d-%02d", "Y-m-d H:i": "%04d-%02d-%02d %02d:%02d"}


def local_date(value, format_string):
    """Django's `date` filter: a date, or a time in the current time zone, in Django's format letters."""
    if not value:
        return ""
    value = template_localtime(value)
    fast = _FAST_FORMATS.get(format_string)
    if fast is None or not isinstance(value, datetime.date):
        return dateformat.format(value, format_string)
    if format_string == "Y-m-d":
        return fast % (value.year, value.month, value.day)
    if not isinstance(value, datetime.datetime):
        return dateformat.format(value, format_string)
    return fast % (value.year, value.month, value.day, value.hour, value.minute)


def _as_in_django(function):
    """A Django template filter for Jinja2: an undefined value reaches it as "" (Django's default)."""

    def filter_(value, *args):
        return function("" if isinstance(value, Undefined) else value, *args)

    return filter_


_HTML_SPECIAL = re.compile(r"[&<>\"']")


def escape_as_django(value):
    """A value escaped as Django's templates escape it (&quot; and &#x27;, where markupsafe writes
    &#34; and &#39;): what a template's {{ }} writes once `Template.render` has spelled it (the
    stand-ins of a row's stencil are filled with it, `rowforms.RowStencils`)."""
    kind = type(value)
    if kind is str:  # most values: a text with nothing to escape is given as it is (issue 17)
        return Markup(html.escape(value) if _HTML_SPECIAL.search(value) else value)
    if kind is int:
        return Markup(value)
    if hasattr(value, "__html__") or isinstance(value, Undefined):
        return value
    return Markup(html.escape(str(value)))  # django.utils.html.escape


def as_django_spells(written: str) -> str:
    """HTML escaped by Jinja2 (markupsafe: &#34; and &#39;) spelled as Django's templates spell it
    (&quot; and &#x27;): the same characters, so a page reads the same whichever engine wrote a part
    of it. No template of ours writes these references itself, nor a <script> or <style>, where
    references are not read as characters."""
    if "&#3" not in written:
        return written
    return written.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")


class Template(jinja2.Template):
    """Every {{ }} escaped as Django's templates escape it (`escape_as_django`), by markupsafe's
    escaping and one pass over the page written (`as_django_spells`): a `finalize` function called
    for every {{ }} doubled the time a long list took to write (issue 17)."""

    def render(self, *args, **kwargs) -> str:
        return as_django_spells(super().render(*args, **kwargs))


def environment(**options) -> Environment:
    options["undefined"] = ChainableUndefined
    env = Environment(**options)
    env.template_class = Template
    env.globals.update(url=url, fixed_url=fixed_url, static=static, cell=portal.cell)
    filters = {"money": portal.money, "pct": portal.pct, "weight": portal.weight, "amount": portal.amount,
               "chinese_number": portal.chinese_number, "lookup": portal.lookup, "as_crispy_field": as_crispy_field,
               "date": local_date, "add_days": portal.add_days, "person": portal.person,
               "truncatechars": truncatechars, "mask_personal": portal.mask_personal,
               "unit_list": unit_list, "funding_cell": portal.funding_cell, "indicator_cell": portal.indicator_cell}
    env.filters.update({name: _as_in_django(function) for name, function in filters.items()})
    # An assessment's state and kind as get_FOO_display() gives them, from a dict made once (the
    # model's method works out its choices on every call: 100 calls a dashboard page).
    from assessments.models import Assessment

    for name, choices in (("state_label", Assessment.State.choices), ("kind_label", Assessment.Kind.choices)):
        env.filters[name] = functools.partial(_choice_label, dict(choices))
    return env


def truncatechars(value, length):
    """Django's `truncatechars`. A text no longer than `length` is never cut (combining characters
    only shorten what Django counts), so it is given back without Django's walk over its characters
    (23 texts a 复核 page, issue 17); a longer one, or a safe one, is Django's."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        try:
            if len(value) <= int(length):
                return unicodedata.normalize("NFC", value)
        except (TypeError, ValueError):
            pass
    return defaultfilters.truncatechars(value, length)


def unit_list(units) -> Markup:
    """Units by their short names (else their names), escaped, joined by 、: the dashboard lists a few
    hundred late units after a deadline (a loop of the engine cost 2 ms of the page, issue 17)."""
    return Markup("、".join(html.escape(u.short_name or u.name) for u in units))


def _choice_label(labels: dict, value):
    return labels.get(value, value)
