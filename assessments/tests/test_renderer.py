"""Issue 17, part 5: the form renderer writes Django's plain widgets in Python, byte for byte what
Django's own templates give, and falls back to the templates for anything else."""

import datetime
import re
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from markupsafe import Markup

from assessments.models import Indicator
from portal import renderers

from .test_access_matrix import valid_assessment

HOSTILE = "<b>\"引号\" & 'apos'</b>"


class Html:
    """Not a string, but with __html__: Django's templates escape its str()."""

    def __html__(self):
        return "<i>html</i>"

    def __str__(self):
        return "<i>str</i>"


class EveryWidget(forms.Form):
    text = forms.CharField(initial=HOSTILE, widget=forms.TextInput(attrs={"aria-label": HOSTILE, "data-x": 3,
                                                                               "title": format_lazy("{}", HOSTILE)}))
    number = forms.DecimalField(initial=Decimal("12.3400"))
    hidden = forms.IntegerField(initial=7, widget=forms.HiddenInput)
    empty = forms.CharField(required=False)
    area = forms.CharField(initial=HOSTILE, widget=forms.Textarea(attrs={"rows": 2, "readonly": True, "hidden": False}))
    blank_area = forms.CharField(required=False, widget=forms.Textarea)
    safe = forms.CharField(initial=mark_safe("<i>已标记安全</i>"))
    lazy = forms.CharField(initial=gettext_lazy("This field is required."))
    flag = forms.BooleanField(initial=True)
    off = forms.BooleanField(required=False)
    choice = forms.ChoiceField(choices=[("", "请选择"), ("a\"<", HOSTILE), (3, 4), ("l", format_lazy("{}", HOSTILE)),
                                        ("h", Html()), ("m", Markup("<b>markup</b>")), ("s", mark_safe("<b>safe</b>"))],
                               initial=3)
    odd_attrs = forms.CharField(widget=forms.TextInput(attrs={"data-markup": Markup("<b>"), "data-html": Html(),
                                                              "data-safe": mark_safe("<b>"), "data-call": lambda: "called"}))
    grouped = forms.ChoiceField(choices=[("一级", [("x", "甲"), ("y", "乙")]), ("z", "丙")], initial="y")
    many = forms.MultipleChoiceField(choices=[("1", "一"), ("2", "二")], initial=["1", "2"])
    email = forms.EmailField(initial="a@example.com")
    day = forms.DateField(initial=datetime.date(2026, 12, 6))
    moment = forms.DateTimeField(initial=datetime.datetime(2026, 12, 6, 9, 30))
    radio = forms.ChoiceField(choices=[("1", "一"), ("2", "二")], widget=forms.RadioSelect, initial="2")
    boxes = forms.MultipleChoiceField(choices=[("1", "一")], widget=forms.CheckboxSelectMultiple)
    # Radio buttons and check boxes of every shape: hostile labels and values, groups, a class,
    # no id (auto_id off is the form's; here an explicit id and none), several checked.
    radio_hostile = forms.ChoiceField(choices=[("a\"<", HOSTILE), (3, Html()), ("m", Markup("<b>m</b>")),
                                               ("组", [("x", "甲"), ("y", mark_safe("<i>乙</i>"))])],
                                      widget=forms.RadioSelect(attrs={"class": "form-check \"x\"", "data-n": 2}),
                                      initial="y")
    boxes_many = forms.MultipleChoiceField(choices=[("1", "一"), ("2", HOSTILE), ("分组<", [("3", "三"), ("4", "四")])],
                                           widget=forms.CheckboxSelectMultiple(attrs={"id": "own-id<"}), initial=["2", "4"],
                                           required=False)
    upload = forms.FileField(required=False)


def both(form_class, **kwargs):
    """Each field of the form rendered by Django's template renderer and by the fast one."""
    slow = form_class(renderer=DjangoTemplates(), **kwargs)
    fast = form_class(renderer=renderers.FastRenderer(), **kwargs)
    return [(name, str(slow[name]), str(fast[name])) for name in slow.fields]


def test_the_fast_path_is_taken_for_the_plain_widgets_of_the_pinned_django():
    table = renderers.FastRenderer().fast
    for name in ("input", "text", "number", "hidden", "email", "password", "checkbox", "date", "datetime",
                 "textarea", "select"):
        assert f"django/forms/widgets/{name}.html" in table, name
    for name in ("radio", "checkbox_select"):  # the lists of choices, each written by _input_option
        assert f"django/forms/widgets/{name}.html" in table, name
    # Widgets with templates of their own go through the engine.
    for name in ("clearable_file_input", "multiwidget"):
        assert f"django/forms/widgets/{name}.html" not in table, name


@pytest.mark.parametrize("bound", [False, True], ids=["initial", "bound"])
def test_every_widget_gives_the_same_bytes_as_django_templates(bound):
    data = {"text": HOSTILE, "number": "１２.5x", "hidden": "", "area": "第一行\n<第二行>", "choice": "a\"<",
            "grouped": "z", "many": ["2"], "flag": "on", "day": "2026-13-01", "radio": "1", "radio_hostile": "a\"<",
            "boxes_many": ["1", "3", "nope"]}
    kwargs = {"data": data} if bound else {}
    compared = both(EveryWidget, **kwargs)
    assert len(compared) == len(EveryWidget.base_fields)
    for name, slow, fast in compared:
        assert fast == slow, name
    # The hostile text is escaped the way Django escapes it, not left raw.
    assert "&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27;&lt;/b&gt;" in dict((n, f) for n, _, f in compared)["text"]


def test_radio_buttons_and_check_boxes_are_written_without_the_engine(monkeypatch):
    engine = []
    monkeypatch.setattr(DjangoTemplates, "render", lambda self, name, *args, **kwargs: engine.append(name) or "")
    form = EveryWidget(renderer=renderers.FastRenderer())
    for name in ("radio", "boxes", "radio_hostile", "boxes_many"):
        assert str(form[name]).startswith("<div"), name
    assert engine == []


def test_a_template_that_differs_from_the_known_source_is_rendered_by_the_engine(monkeypatch):
    monkeypatch.setitem(renderers.KNOWN_SOURCES, renderers.TEXTAREA, "something else")
    renderer = renderers.FastRenderer()
    assert renderer.fast == {}
    called = []
    monkeypatch.setattr(renderers, "_textarea", lambda widget: called.append(widget) or "never")
    form = EveryWidget(renderer=renderer)
    assert str(form["area"]) == str(EveryWidget(renderer=DjangoTemplates())["area"])
    assert called == []


def without_token(html):
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


@pytest.mark.django_db
def test_the_edit_page_is_the_same_page_with_either_renderer(alice_client, alice, unit_a, round_2020, settings):
    a = valid_assessment(unit_a, round_2020, "渲染对照", user=alice)
    Indicator.objects.filter(assessment=a, position=1).update(name=HOSTILE, actual="10次 & <更多>")
    url = reverse("assessments:edit", args=[a.pk])
    fast_get = alice_client.get(url)
    # A refused save: errors in cells, everything typed kept.
    entry = fast_get.context["entry"]
    data = {"version": str(a.version), "action": "save"}
    for formset in (entry.funding, entry.goals, entry.indicators, entry.sections):
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                if value not in (None, False):
                    data[form.add_prefix(name)] = value
    data["indicators-0-weight"] = "五十"
    fast_post = alice_client.post(url, data)
    assert fast_post.status_code == 400
    settings.FORM_RENDERER = "django.forms.renderers.DjangoTemplates"
    slow_get = alice_client.get(url)
    slow_post = alice_client.post(url, data)
    assert without_token(fast_get.content.decode()) == without_token(slow_get.content.decode())
    assert without_token(fast_post.content.decode()) == without_token(slow_post.content.decode())
    assert "&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27;&lt;/b&gt;" in fast_get.content.decode()
    assert 'class="has-error"' in fast_post.content.decode()


def test_jinja_templates_treat_a_missing_value_as_django_templates_do():
    """The entry tables are Jinja2 (ADR 0023): a missing row (the empty form's `line`) renders as
    nothing through the same filters, and markup from forms and filters is not escaped twice."""
    from django.template import engines

    env = engines["jinja2"].env
    html = env.from_string(
        "[{{ line.suggested|money }}][{{ line.result.explanation }}][{{ n|money }}][{{ 3|chinese_number }}]"
        "[{{ cell(form['text']) }}][{{ x }}]"
    ).render(line=None, n=Decimal("1.5"), form=EveryWidget(), x=HOSTILE)
    assert html.startswith("[][][1.50][三][<div class=\"\"><input type=\"text\" name=\"text\" value=\"&lt;b&gt;")
    assert html.endswith("[&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27;&lt;/b&gt;]")  # spelled as Django spells it


@pytest.mark.parametrize("value", [
    HOSTILE, "主管部门", "", "a&b", "a<b", "a>b", 'a"b', "a'b", "&amp;", 0, 12, -3, True, False, None,
    Decimal("1.50"), 1.5, mark_safe("<i>safe</i>"), gettext_lazy("未填"),
])
def test_every_value_is_written_by_jinja_as_django_templates_write_it(value):
    """A text or a number with nothing to escape is given as it is (issue 17): every kind of value
    a page writes reads the same from either engine."""
    from django.template import Context, Template, engines

    django_html = Template("[{{ x }}]").render(Context({"x": value}))
    assert engines["jinja2"].env.from_string("[{{ x }}]").render(x=value) == django_html


def test_what_jinja_writes_through_a_macro_or_an_include_is_spelled_as_django_spells_it():
    from django.template import engines

    env = engines["jinja2"].env
    html = env.from_string("{% macro m(x) %}<i title=\"{{ x }}\">{{ x }}</i>{% endmacro %}{{ m(v) }}"
                           "{% include 'includes/page_numbers.html' ignore missing %}").render(v=HOSTILE)
    spelled = "&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27;&lt;/b&gt;"
    assert html.startswith(f'<i title="{spelled}">{spelled}</i>')
    assert "&#34;" not in html and "&#39;" not in html


def test_every_logged_in_page_is_placed_in_the_chrome_jinja_writes(alice_client, alice):
    """base.html's blocks, a page's own or their defaults, go where templates/jinja2/layout.html puts
    them, escaped as Django escapes; the navigation names the user and offers what their roles may
    open; a message is shown once (issue 17, part 5: the chrome is Jinja2's)."""
    from django.contrib import messages
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.template import engines
    from django.test import RequestFactory

    alice.first_name = "<b>爱丽丝</b>"
    alice.save()
    request = RequestFactory().get("/")
    request.user, request._messages = alice, None
    request._messages = CookieStorage(request)
    messages.warning(request, "请先保存。")
    page = engines["django"].from_string(
        '{% extends "base.html" %}{% block title %}标题 <&>{% endblock %}{% block content %}<p id="c">正文</p>{% endblock %}'
    ).render({}, request)
    assert "<title>标题 <&></title>" in page  # a block is the page's own HTML
    assert '<a class="visually-hidden-focusable skip-link" href="#main">跳到主要内容</a>' in page  # a default
    assert '<main class="container-fluid py-3 px-md-4" id="main" tabindex="-1">' in page and '<p id="c">正文</p>\n</main>' in page
    assert '<span class="navbar-text">&lt;b&gt;爱丽丝&lt;/b&gt;</span>' in page
    assert f'<a class="nav-link" href="{reverse("assessments:list")}">我的绩效自评</a>' in page
    assert "审核工作台" not in page
    assert '<div class="alert alert-warning" role="alert">请先保存。</div>' in page
    assert 'name="csrfmiddlewaretoken"' in page and page.startswith("<!doctype html>")


def test_layout_holds_only_parts():
    from django.template import TemplateSyntaxError, engines

    with pytest.raises(TemplateSyntaxError):
        engines["django"].from_string("{% load portal %}{% layout %}<p>x</p>{% part content %}{% endlayout %}")


def test_a_fixed_url_is_reversed_once_and_follows_the_script_prefix():
    from django.urls import set_script_prefix

    from portal.jinja2 import fixed_url

    assert fixed_url("assessments:todo") == reverse("assessments:todo")
    try:
        set_script_prefix("/jx/")
        assert fixed_url("assessments:todo") == reverse("assessments:todo") == "/jx/" + reverse("assessments:todo")[len("/jx/"):]
        assert fixed_url("assessments:todo").startswith("/jx/")
    finally:
        set_script_prefix("/")


def test_a_form_of_hidden_fields_is_written_as_djangos_template_writes_it():
    """A formset's management form (hidden fields only) is written without the engine (issue 17:
    0.4 ms of the 复核 page), the same bytes as Django's div.html; a form with visible fields or
    errors is the template's."""
    from django.forms import formset_factory

    class Row(forms.Form):
        note = forms.CharField()

    class Hidden(forms.Form):
        a = forms.CharField(widget=forms.HiddenInput, initial=HOSTILE)
        b = forms.IntegerField(widget=forms.HiddenInput, initial=3)

    rows = formset_factory(Row, extra=2)
    cases = [rows(prefix="review").management_form,
             rows({"r-TOTAL_FORMS": "1", "r-INITIAL_FORMS": "0"}, prefix="r").management_form,
             Hidden(), Hidden({"a": "x", "b": "4"}), Hidden({"a": "", "b": "x"}), Row(), Row({"note": "说明"})]
    fast, django_renderer = renderers.FastRenderer(), DjangoTemplates()
    assert renderers.DIV in fast.fast
    for form in cases:
        assert form.render(renderer=fast) == form.render(renderer=django_renderer), form
    assert str(cases[0]).startswith('<input type="hidden" name="review-TOTAL_FORMS" value="2"')
