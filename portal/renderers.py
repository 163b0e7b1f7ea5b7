"""Form rendering without the template engine for Django's plain widgets (issue 17, part 5).

The officer's 40-row edit page renders about 600 widgets. Through Django's template engine each one
costs a template lookup, a context, an include of ``attrs.html`` and, for a select, an include per
option: half the page's time. ``FastRenderer`` writes the HTML of the widgets whose templates are
Django's own ``input.html``, ``textarea.html`` and ``select.html`` (with ``select_option.html``)
directly, byte for byte what those templates give, and hands every other template to Django's
engine as before.

It only takes the fast path for a template whose source it has checked: at first use it reads each
template through the same engine (so a project override or a changed Django template is seen) and
compares it with the text these functions were written against. A template that differs is
rendered by the engine. ``tests/test_renderer.py`` compares both ways on every widget of the entry
forms and on whole pages, and asserts that the fast path is taken with the pinned Django.
"""

import functools
import html

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.functional import cached_property
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime

INPUT = "django/forms/widgets/input.html"
TEXTAREA = "django/forms/widgets/textarea.html"
SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"
ATTRS = "django/forms/widgets/attrs.html"
MULTIPLE_INPUT = "django/forms/widgets/multiple_input.html"
DIV = "django/forms/div.html"
INPUT_OPTION = "django/forms/widgets/input_option.html"

# The sources the functions below reproduce (Django 5.2's files, trailing newline included).
KNOWN_SOURCES = {
    ATTRS: (
        "{% for name, value in widget.attrs.items %}{% if value is not False %} {{ name }}"
        "{% if value is not True %}=\"{{ value|stringformat:'s' }}\"{% endif %}{% endif %}{% endfor %}"
    ),
    INPUT: (
        '<input type="{{ widget.type }}" name="{{ widget.name }}"{% if widget.value != None %} '
        "value=\"{{ widget.value|stringformat:'s' }}\"{% endif %}{% include \"django/forms/widgets/attrs.html\" %}>\n"
    ),
    TEXTAREA: (
        '<textarea name="{{ widget.name }}"{% include "django/forms/widgets/attrs.html" %}>\n'
        "{% if widget.value %}{{ widget.value }}{% endif %}</textarea>\n"
    ),
    SELECT: (
        '<select name="{{ widget.name }}"{% include "django/forms/widgets/attrs.html" %}>'
        "{% for group_name, group_choices, group_index in widget.optgroups %}{% if group_name %}\n"
        '  <optgroup label="{{ group_name }}">{% endif %}{% for option in group_choices %}\n'
        "  {% include option.template_name with widget=option %}{% endfor %}{% if group_name %}\n"
        "  </optgroup>{% endif %}{% endfor %}\n"
        "</select>\n"
    ),
    OPTION: (
        "<option value=\"{{ widget.value|stringformat:'s' }}\""
        '{% include "django/forms/widgets/attrs.html" %}>{{ widget.label }}</option>\n'
    ),
    MULTIPLE_INPUT: (
        '{% with id=widget.attrs.id %}<div{% if id %} id="{{ id }}"{% endif %}'
        '{% if widget.attrs.class %} class="{{ widget.attrs.class }}"{% endif %}>'
        "{% for group, options, index in widget.optgroups %}{% if group %}\n"
        "  <div><label>{{ group }}</label>{% endif %}{% for option in options %}<div>\n"
        "    {% include option.template_name with widget=option %}</div>{% endfor %}{% if group %}\n"
        "  </div>{% endif %}{% endfor %}\n"
        "</div>{% endwith %}\n"
    ),
    INPUT_OPTION: (
        '{% if widget.wrap_label %}<label{% if widget.attrs.id %} for="{{ widget.attrs.id }}"{% endif %}>'
        '{% endif %}{% include "django/forms/widgets/input.html" %}{% if widget.wrap_label %} {{ widget.label }}'
        "</label>{% endif %}\n"
    ),
    DIV: (
        "{{ errors }}\n{% if errors and not fields %}\n  <div>{% for field in hidden_fields %}{{ field }}{% endfor %}</div>\n"
        "{% endif %}\n{% for field, errors in fields %}\n  <div{% with classes=field.css_classes %}"
        '{% if classes %} class="{{ classes }}"{% endif %}{% endwith %}>\n    {{ field.as_field_group }}\n'
        "    {% if forloop.last %}\n      {% for field in hidden_fields %}{{ field }}{% endfor %}\n    {% endif %}\n"
        "</div>\n{% endfor %}\n{% if not fields and not errors %}\n"
        "  {% for field in hidden_fields %}{{ field }}{% endfor %}\n{% endif %}\n"
    ),
}
# Templates that are only `{% include "django/forms/widgets/input.html" %}` (text, number, hidden, …).
INCLUDE_INPUT = '{% include "django/forms/widgets/input.html" %}\n'
# … only the list of choices (radio buttons, check boxes) or one choice of it.
INCLUDE_MULTIPLE = '{% include "django/forms/widgets/multiple_input.html" %}\n'
INCLUDE_INPUT_OPTION = '{% include "django/forms/widgets/input_option.html" %}\n'


def _text(value):
    """``{{ value }}`` in a Django template: localised, made a str, escaped unless it is marked safe
    (`render_value_in_context` and `conditional_escape`)."""
    if type(value) is not str:
        value = localize(template_localtime(value))
        if not isinstance(value, str):
            value = str(value)
        if hasattr(value, "__html__"):
            return value.__html__()
    return html.escape(value)


def _formatted(value):
    """``{{ value|stringformat:'s' }}``: str(value), kept as it is only if the value was a Django
    safe string (the filter is `is_safe`), else escaped."""
    text = str(value)
    return text if isinstance(value, SafeData) else html.escape(text)


def _attrs(attrs):
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {_text(name)}")
        else:
            parts.append(f' {_text(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget):
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _textarea(widget):
    body = _text(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{body}</textarea>'


def _option(option):
    return f'<option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>\n'


def _select(widget):
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION:
                return None  # a custom option template: let the engine render the whole select
            parts.append(f"\n  {_option(option)}")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _input_option(option):
    """An option template that only includes input_option.html (its newline, then input_option's)."""
    label = option["wrap_label"]
    opening = ""
    if label:
        for_id = option["attrs"].get("id")
        opening = f'<label for="{_text(for_id)}">' if for_id else "<label>"
    closing = f' {_text(option["label"])}</label>' if label else ""
    return f"{opening}{_input(option)}\n{closing}\n\n"


def _multiple(widget, option_templates):
    """multiple_input.html: radio buttons or check boxes, each option written by `_input_option`
    when its template is one that only includes input_option.html (else the engine renders all)."""
    attrs = widget["attrs"]
    parts = ["<div"]
    if attrs.get("id"):
        parts.append(f' id="{_text(attrs["id"])}"')
    if attrs.get("class"):
        parts.append(f' class="{_text(attrs["class"])}"')
    parts.append(">")
    for group, options, _index in widget["optgroups"]:
        if group:
            parts.append(f"\n  <div><label>{_text(group)}</label>")
        for option in options:
            if option["template_name"] not in option_templates:
                return None
            parts.append(f"<div>\n    {_input_option(option)}</div>")
        if group:
            parts.append("\n  </div>")
    parts.append("\n</div>")
    return "".join(parts)


def _calls(widget) -> bool:
    """Whether the template engine would call something (a callable attribute value)."""
    return any(callable(v) for v in widget["attrs"].values()) or any(
        callable(v) for _g, options, _i in widget.get("optgroups", ()) for o in options for v in o["attrs"].values()
    )


class FastRenderer(DjangoTemplates):
    """Django's template renderer, with its plain widgets written in Python (same bytes)."""

    def source(self, template_name):
        try:
            return self.get_template(template_name).template.source
        except Exception:  # not found, or not a Django template: no fast path
            return None

    @cached_property
    def fast(self):
        """Template name → function, for the templates whose source is the one the functions reproduce."""
        if any(self.source(name) != text for name, text in KNOWN_SOURCES.items()):
            return {}
        table = {INPUT: _input, TEXTAREA: _textarea, SELECT: _select, DIV: None}
        from django.forms import widgets

        classes = [cls for cls in vars(widgets).values() if isinstance(cls, type)]
        option_templates = frozenset(
            name for name in {getattr(cls, "option_template_name", None) for cls in classes}
            if name and self.source(name) == INCLUDE_INPUT_OPTION
        )
        for cls in classes:
            name = getattr(cls, "template_name", None)
            if not name or name in table:
                continue
            if self.source(name) == INCLUDE_INPUT:
                table[name] = _input
            elif self.source(name) == INCLUDE_MULTIPLE:
                table[name] = functools.partial(_multiple, option_templates=option_templates)
        return table

    def render(self, template_name, context, request=None):
        if template_name == DIV and DIV in self.fast and not context.get("fields") and not context.get("errors"):
            # A form of hidden fields only, without errors (a formset's management form: 0.4 ms of
            # the 复核 page through the engine): its fields one after another, as the template writes them.
            return "".join(str(field) for field in context["hidden_fields"])
        function = self.fast.get(template_name)
        if function is not None and "widget" in context and not _calls(context["widget"]):
            html = function(context["widget"])
            if html is not None:
                return html
        return super().render(template_name, context, request=request)
