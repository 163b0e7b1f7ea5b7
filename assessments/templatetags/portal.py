from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

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


@register.simple_tag
def cell(field):
    """A form field in a table cell, its errors beneath it (every entry and review table).

    A tag, not an include: the 40-row edit page has some 500 cells, and an include costs a
    template render each (issue 17, part 5)."""
    errors = field.errors
    if errors:
        return format_html('<div class="has-error">{}<div class="invalid-feedback d-block">{}</div></div>',
                           field, mark_safe(" ".join(conditional_escape(e) for e in errors)))
    return mark_safe(f'<div class="">{conditional_escape(field)}</div>')  # format_html's result, without its parsing


@register.simple_tag(takes_context=True)
def jinja(context, template_name, **values):
    """A Jinja2 template (templates/jinja2/) placed in a Django template, with this template's
    context and `values` over it (as `{% include … with … %}`). The parts that pages of both engines
    show (the 评价批次 picker, the page numbers) are declared once, in Jinja2 (issue 17, part 5)."""
    from django.template.loader import render_to_string

    return mark_safe(render_to_string(template_name, {**context.flatten(), **values}, request=context.get("request"),
                                      using="jinja2"))


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
def personal_data_changes(view, known=None):
    """What publishing this read model will mask (for the officer before submitting): `known` when
    the view computed it already (a list, kept in the cache with the assessment), else now."""
    from ..exports import redaction

    return known if isinstance(known, list) else redaction.changes(view)


@register.simple_tag
def person(user, login=""):
    """A person by name with the login in small print (`people.html`)."""
    from .. import people

    return people.html(user, login or "")


@register.filter
def abs_int(value):
    """|n| of an integer (days overdue); anything else unchanged."""
    return abs(value) if isinstance(value, int) else value


@register.filter
def days_until(day):
    """Whole days from today (the portal's time zone) to `day`; negative once it is past."""
    import datetime

    from django.utils import timezone

    return (day - timezone.localdate()).days if isinstance(day, datetime.date) else None


@register.filter
def add_days(value, days):
    """A date `days` later (the 公开 deadline from a 决算批复 date)."""
    import datetime

    if not value:
        return ""
    return value + datetime.timedelta(days=int(days))


@register.inclusion_tag("public/footer.html")
def site_footer():
    """The public pages' government-site footer (settings.PORTAL_SITE_FOOTER): two lines of
    (text, link) items, the empty ones left out."""
    import re

    from django.conf import settings

    f = settings.PORTAL_SITE_FOOTER
    contact = f.get("contact", "")
    if "@" in contact and "/" not in contact:
        contact_item = ("联系我们", f"mailto:{contact}")
    elif contact.startswith(("http://", "https://", "/")):
        contact_item = ("联系我们", contact)
    else:
        contact_item = (f"联系我们：{contact}", "")
    psb_digits = re.sub(r"\D", "", f.get("psb", ""))
    lines = [
        [(f"主办单位：{f['sponsor']}", "") if f.get("sponsor") else None,
         (f"承办单位：{f['organizer']}", "") if f.get("organizer") else None,
         contact_item if contact else None],
        [(f"网站标识码：{f['site_code']}", "") if f.get("site_code") else None,
         (f["icp"], "https://beian.miit.gov.cn/") if f.get("icp") else None,
         (f["psb"], f"https://beian.mps.gov.cn/#/query/webSearch?code={psb_digits}") if f.get("psb") else None],
    ]
    return {"lines": [[item for item in line if item] for line in lines]}


@register.simple_tag(takes_context=True)
def paper_form(context, view, show_explanations=False):
    """The paper form of `view` (a read model), written by its Jinja2 template; the page's
    `row_comments`, where it has them, beside their rows."""
    from assessments import pagecache

    return pagecache.render_paper_form(view, show_explanations, context.get("row_comments"))


class LayoutNode(template.Node):
    """`{% layout %}{% part NAME %}…{% part NAME %}…{% endlayout %}`: each part rendered by Django's
    engine (blocks within them are the page's, as anywhere in a base template), then the page's
    chrome, templates/jinja2/layout.html, written by Jinja2 around them with this template's
    context (issue 17, part 5: Django's engine took about a millisecond a page for the chrome)."""

    def __init__(self, parts: list[tuple[str, template.NodeList]]):
        self.parts = parts
        self.child_nodelists = tuple(f"nodelist_{name}" for name, _ in parts)  # its blocks are found
        for name, nodelist in parts:
            setattr(self, f"nodelist_{name}", nodelist)

    def render(self, context):
        from django.template.loader import render_to_string

        values = {name: mark_safe(nodelist.render(context)) for name, nodelist in self.parts}
        return render_to_string("layout.html", {**context.flatten(), **values}, request=context.get("request"),
                                using="jinja2")


@register.tag
def layout(parser, token):
    parts = []
    nodelist = parser.parse(("part", "endlayout"))
    if any(not (isinstance(node, template.base.TextNode) and not node.s.strip()) for node in nodelist):
        raise template.TemplateSyntaxError("{% layout %} holds only {% part NAME %} sections.")
    while True:
        token = parser.next_token()
        if token.contents == "endlayout":
            break
        bits = token.split_contents()
        if len(bits) != 2:
            raise template.TemplateSyntaxError("{% part %} takes one name.")
        parts.append((bits[1], parser.parse(("part", "endlayout"))))
    return LayoutNode(parts)
