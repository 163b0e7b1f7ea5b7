from django import template

from .. import columns, scoring

register = template.Library()


@register.filter
def amount(value):
    """An amount in 万元 as typed: two to four decimals ("36.00", "12.345"); blank for None."""
    return columns.amount_text(value) if value is not None and value != "" else ""


@register.filter
def funding_cell(line, column):
    """The `columns.Cell` of a funding row under a template column (分值/得分 "－" where the row
    carries no 分值)."""
    if column.key in ("weight", "score") and not line.carries_weight:
        return columns.Cell("－", "num", None, "text")
    return columns.cell(line, column, "funding")


@register.filter
def indicator_cell(line, column):
    return columns.cell(line, column, "indicators")


@register.filter
def money(value):
    """Two decimals, as on the form: 10949.23; blank for None."""
    return scoring.fmt(value) if value is not None and value != "" else ""


@register.filter
def pct(value):
    return f"{scoring.fmt(value)}%" if value is not None and value != "" else ""


@register.filter
def weight(value):
    return scoring.fmt_weight(value) if value is not None and value != "" else ""


@register.filter
def field(form, name):
    """A form's bound field by name (templates cannot index with a variable)."""
    return form[name]


@register.filter
def has_field(form, name):
    return name in form.fields


@register.filter
def field_label(labels, name):
    return lookup(labels, name)


@register.filter
def lookup(mapping, key):
    """mapping[key], or "" when the mapping or the key is missing."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


CHINESE_NUMBERS = "零一二三四五六七八九十"


@register.filter
def chinese_number(n):
    """1..99 as 一 … 九十九, for report section numbering."""
    n = int(n)
    if n <= 10:
        return CHINESE_NUMBERS[n]
    tens, ones = divmod(n, 10)
    return (CHINESE_NUMBERS[tens] if tens > 1 else "") + "十" + (CHINESE_NUMBERS[ones] if ones else "")


@register.filter
def mask_personal(text):
    """Personal data in a published text masked (issue 12, finding 5); see personal_data.py."""
    from .. import personal_data

    return personal_data.mask(str(text)) if text else text


@register.simple_tag
def personal_data_changes(view):
    """What publishing this read model will mask (for the officer before submitting)."""
    from ..exports import redaction

    return redaction.changes(view)


@register.simple_tag
def person(user, login=""):
    """A person by name with the login in small print (`people.html`)."""
    from .. import people

    return people.html(user, login or "")
