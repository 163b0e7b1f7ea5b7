"""Issue 17, part 5 (ADR 0027): an unbound row rendered through `rowforms` (a real form for the first
row of each shape, light ones after it) is byte for byte the row its own form renders, for every
built-in 表样 and for each with its own columns of every kind an indicator column may hold."""

import contextlib
import dataclasses
from decimal import Decimal

import pytest
from django import forms
from django.template import engines
from django.template.loader import render_to_string

from assessments import readmodel, rowforms
from assessments.builtin_templates import BUILTIN
from assessments.forms import EntryForm, IndicatorForm
from assessments.models import Assessment, Indicator, IndicatorReview, TableTemplate, TemplateVersion
from assessments.rowforms import LightRow, RowForms, RowStencils
from assessments.scoring import Problem
from assessments.services import create_assessment
from assessments.tablespec import Column
from assessments.views import entry as entry_views
from portal.jinja2 import escape_as_django


@contextlib.contextmanager
def count_widget_renders():
    counted = {"n": 0}
    original = forms.Widget.render

    def render(self, *args, **kwargs):
        counted["n"] += 1
        return original(self, *args, **kwargs)

    forms.Widget.render = render
    try:
        yield counted
    finally:
        forms.Widget.render = original

HOSTILE = "<b>\"引号\" & 'apos' {0}{name}%s</b>"
OWN_COLUMNS = (Column("own_text", "甲栏", "text"), Column("own_long", "乙栏", "long_text"),
               Column("own_amount", "丙栏", "amount"), Column("own_number", "丁栏", "number"))


def _spec(code, own):
    spec = next(s for s in BUILTIN if s.code == code)
    if own:
        spec = spec.evolve(code=f"{code}-own", name="自有列表样", indicator_columns=(*spec.indicator_columns, *OWN_COLUMNS))
    return spec


def _assessment(alice, unit_a, round_2020, spec):
    template = TableTemplate.objects.create(code=spec.code + "-t", name=spec.name, kind=spec.kind)
    version = TemplateVersion.objects.create(template=template, number=1, spec=spec.to_dict())
    a = create_assessment(unit=unit_a, round=round_2020, version=version,
                          project_name="逐行渲染" if spec.is_project else "", user=alice)
    level1 = spec.level1_names
    rows = []
    for n in range(12):
        rows.append(Indicator(
            assessment=a, position=n + 1, level1=level1[n % len(level1)] if n != 5 else "不在表样中的一级",
            level2=HOSTILE if n == 3 else "数量指标", name=f"第{n}项{HOSTILE if n % 4 == 0 else ''}",
            operator="≥" if n % 2 else "", target="" if n == 7 else f"≥{n}次", unit="次", actual=f"{n}次\n第二行",
            weight=Decimal("12.50") if n % 3 else None, score=Decimal("7.125") if n % 2 else None,
            outcome=("", "achieved", "partial", "not_achieved")[n % 4], reason=HOSTILE if n % 5 == 0 else "",
            extra={"own_text": HOSTILE, "own_long": "多行\n说明", "own_amount": "12.3456", "own_number": "7.5"} if n % 2 else {},
        ))
    rows[8].approved_target = "≥8次"  # an approved row: its fields are locked
    Indicator.objects.bulk_create(rows)
    return readmodel.with_content(Assessment.objects).get(pk=a.pk)


def _row_html(form, table):
    context = {"form": form, "line": None, "table": table, "attempted": False, "row_comments": {},
               **entry_views._row_layout(table)}
    return render_to_string("assessments/entry/indicator_row.html", context, using="jinja2")


@pytest.mark.parametrize("own", [False, True], ids=["own-columns-none", "own-columns-every-kind"])
@pytest.mark.parametrize("code", [spec.code for spec in BUILTIN])
def test_light_rows_are_the_rows_their_forms_render(alice, unit_a, round_2020, code, own):
    a = _assessment(alice, unit_a, round_2020, _spec(code, own))
    formset = EntryForm.indicator_formset(a, extra=3)
    expected = [_row_html(formset.forms[i], a.table) for i in range(formset.total_form_count())]
    rows = RowForms(EntryForm.indicator_formset(a, extra=3))
    forms = [rows.form(i) for i in range(formset.total_form_count())]
    with count_widget_renders() as rendered:
        assert [_row_html(form, a.table) for form in forms] == expected
    # The light rows' cells were written from stencils: a widget is rendered for the real forms'
    # cells, and once per stencil (with and without a value, per choice of a select).
    light = [form for form in forms if isinstance(form, LightRow)]
    cells = [cell for form in light for cell in form.prototype._light_cells.values()]
    stencils = sum(len(cell.stencils) for cell in {id(c): c for c in cells}.values())
    real_cells = sum(len(form.fields) for form in forms if not isinstance(form, LightRow))
    assert rendered["n"] <= real_cells + stencils
    assert stencils < len(light) * len(IndicatorForm.base_fields)
    # Most rows were light: one real form per 一级 of stored rows (and the odd one), the approved
    # row, and one empty row.
    real = [form for form in forms if not isinstance(form, LightRow)]
    assert len(real) == len(set(a.table.level1_names[:4])) + 1 + 1 + 1
    assert isinstance(forms[8], IndicatorForm) and forms[8].locked
    assert "≥8次" in expected[8] and 'name="indicators-11-reason"' in expected[11]
    if own:
        assert 'name="indicators-1-own_amount"' in expected[1] and "12.3456" in expected[1]


def test_a_row_of_a_formset_without_shapes_is_light_after_the_first(alice, unit_a, round_2020):
    """A form class without `row_shape` has one shape: every row after the first is light."""
    a = _assessment(alice, unit_a, round_2020, _spec("project", False))
    formset = EntryForm.indicator_formset(a)
    rows = RowForms(formset)
    rows.shape = None
    assert not isinstance(rows.form(0), LightRow)
    assert isinstance(rows.form(8), LightRow)  # even the approved row: nothing tells it apart


class EchoingInput(forms.TextInput):
    """A widget whose HTML shows its name twice and its value in a title: no stencil fits it."""

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        return html.replace("<input", f'<input data-for="{name}" title="{value}"')


class PlainSelect(forms.Select):
    """Its own `get_context`: kept per value, never given a value slot."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, value, attrs)


@pytest.mark.parametrize("widget", [EchoingInput, PlainSelect], ids=["rendered-every-row", "kept-per-value"])
def test_a_widget_a_stencil_does_not_fit_is_rendered_as_its_form_renders_it(alice, unit_a, round_2020, widget, monkeypatch):
    a = _assessment(alice, unit_a, round_2020, _spec("project", False))
    field = IndicatorForm.base_fields["level2"] if widget is EchoingInput else IndicatorForm.base_fields["outcome"]
    choices = getattr(field.widget, "choices", ())
    # An attribute with braces: a stencil is a format string, its own text must stay as it is.
    monkeypatch.setattr(field, "widget", widget(attrs={**field.widget.attrs, "data-pattern": "{0}}{"}))
    field.widget.choices = choices
    Indicator.objects.filter(assessment=a, position=2).update(level2="{0}{1}{name}")
    a = readmodel.with_content(Assessment.objects).get(pk=a.pk)
    formset = EntryForm.indicator_formset(a)
    expected = [_row_html(formset.forms[i], a.table) for i in range(formset.total_form_count())]
    rows = RowForms(EntryForm.indicator_formset(a))
    forms_ = [rows.form(i) for i in range(formset.total_form_count())]
    assert [_row_html(form, a.table) for form in forms_] == expected
    assert "{0}{1}{name}" in expected[1] and 'data-pattern="{0}}{"' in expected[1]
    cell = next(form for form in forms_ if isinstance(form, LightRow)).cell(field_name := (
        "level2" if widget is EchoingInput else "outcome"))
    assert not cell.value_slot
    if widget is EchoingInput:
        assert all(stencil == "" for stencil in cell.stencils.values())  # each row rendered by its widget
    else:
        assert cell.stencils and all(cell.stencils.values()), field_name


def test_a_value_kept_per_value_is_kept_per_spelling():
    """A widget without a value slot keeps a stencil per value: Decimal("5.0") and Decimal("5.00")
    are equal but print apart, so each is its own stencil."""
    from types import SimpleNamespace

    from assessments.rowforms import Cell

    class OwnContextInput(forms.TextInput):  # its own get_context: no value slot
        def get_context(self, name, value, attrs):
            return super().get_context(name, value, attrs)

    class Form(forms.Form):
        amount = forms.DecimalField(widget=OwnContextInput(attrs={"aria-label": "金额"}))

    prototype = Form(prefix="rows-0")
    cell = Cell("amount", prototype.fields["amount"], prototype.fields["amount"].widget, {}, prototype)
    assert not cell.value_slot
    row = SimpleNamespace(escaped_prefix="rows-1", escaped_row="第2行")
    first = cell.stencil(row, Decimal("5.0"))
    second = cell.stencil(row, Decimal("5.00"))
    assert 'value="5.0"' in first and 'value="5.00"' in second
    assert second == prototype.fields["amount"].widget.render(
        "rows-1-amount", Decimal("5.00"), {"aria-label": "第2行 amount", "id": "id_rows-1-amount"})


# --- A light row written from a stencil (ADR 0031) -------------------------------------------------


def _row_with_line(form, table, line):
    context = {"form": form, "line": line, "table": table, "attempted": False, "row_comments": {},
               **entry_views._row_layout(table)}
    return render_to_string("assessments/entry/indicator_row.html", context, using="jinja2")


def _stencils(table, counted):
    def render(form, line):
        counted["n"] += 1
        return _row_with_line(form, table, line)

    return RowStencils(render, escape_as_django)


def _varied(lines):
    """The read model's lines, with what a row can show varied: a 得分 typed apart from the rule's,
    hostile explanations, one and two problems and warnings."""
    def problems(*messages):
        return [Problem("indicators", None, "", m) for m in messages]

    for i, line in enumerate(lines):
        result = line.result
        if i % 3 == 0:
            result = dataclasses.replace(result, entered=True, suggested=Decimal("3.50"), score=Decimal("4.00"))
        if i % 4 == 1:
            result = dataclasses.replace(result, explanation=HOSTILE, problems=problems(HOSTILE),
                                         warnings=problems("“预警”", HOSTILE))
        if i % 4 == 2:
            result = dataclasses.replace(result, problems=problems("缺少<实际值>", "\"偏差\"原因"))
        lines[i] = dataclasses.replace(line, result=result)
    return lines


@pytest.mark.parametrize("own", [False, True], ids=["own-columns-none", "own-columns-every-kind"])
@pytest.mark.parametrize("code", [spec.code for spec in BUILTIN])
def test_light_rows_written_from_a_stencil_are_the_rows_the_template_renders(alice, unit_a, round_2020, code, own):
    a = _assessment(alice, unit_a, round_2020, _spec(code, own))
    lines = _varied(readmodel.build(a).indicators)
    rows = RowForms(EntryForm.indicator_formset(a, extra=3))
    total = rows.formset.total_form_count()
    # The first row of each shape too is light (`light_first`): only the approved row is a real form.
    pairs = [(rows.form(i, light_first=True), lines[i] if i < len(lines) else None) for i in range(total)]
    assert [i for i, (form, _) in enumerate(pairs) if not isinstance(form, LightRow)] == [8]
    formset = EntryForm.indicator_formset(a, extra=3)
    expected = [_row_with_line(formset.forms[i], a.table, lines[i] if i < len(lines) else None) for i in range(total)]
    counted = {"n": 0}
    stencils = _stencils(a.table, counted)
    written = [stencils.html(form, line) for form, line in pairs]
    assert [html if html is not None else _row_with_line(form, a.table, line)
            for (form, line), html in zip(pairs, written, strict=True)] == expected
    # Every light row was written, from one rendering per shape of row and of line; real forms were
    # left to the template.
    light = [(form, line) for form, line in pairs if isinstance(form, LightRow)]
    assert all((html is not None) == isinstance(form, LightRow) for (form, _), html in zip(pairs, written, strict=True))

    def shape(line):
        return None if line is None else (line.result.differs, len(line.result.problems), len(line.result.warnings))

    assert counted["n"] == len({(id(form.prototype), shape(line)) for form, line in light}) < len(light)
    shown = "".join(html for html in written if html)
    assert "与规则计算不同" in shown and "3.50" in shown and "缺少&lt;实际值&gt;" in shown and "&quot;偏差&quot;原因" in shown
    assert "&lt;b&gt;&quot;引号&quot; &amp; &#x27;apos&#x27;" in shown  # Django's escapes, as every {{ }}
    assert any(line is None for _, line in light)


def test_a_template_that_reads_more_of_a_row_than_its_stand_ins_gets_no_stencil(alice, unit_a, round_2020):
    """A stencil stands in for the row's prefix and fields and, of its line, for what `_ProbeLine`
    has: a template reading anything else of the row or its line (an instance, another value of the
    line) is rendered row by row."""
    a = _assessment(alice, unit_a, round_2020, _spec("project", False))
    lines = readmodel.build(a).indicators
    rows = RowForms(EntryForm.indicator_formset(a))
    light = next(i for i in range(len(lines)) if isinstance(rows.form(i), LightRow))
    form, line = rows.form(light), lines[light]

    def jinja(source):  # in Jinja2 (the row templates' engine) a missing attribute renders as nothing
        template = engines["jinja2"].from_string(source)
        return lambda f, ln: template.render({"form": f, "line": ln})

    for source in ("{{ form.prefix }}{{ form.instance.key }}", "{{ form.prefix }}{{ line.target }}",
                   "{{ line.result.score }}", "{% for p in line.result.problems %}{{ p.code }}{% endfor %}x",
                   "{% if line.level1 %}x{% endif %}"):
        assert RowStencils(jinja(source), escape_as_django).html(form, line) is None, source
    assert RowStencils(lambda f, ln: f"{f.prefix}{f.instance}", escape_as_django).html(form, line) is None
    written = RowStencils(jinja('<i data-p="{{ form.prefix }}">{{ line.suggested_text }}</i>{{ form["name"] }}'),
                          escape_as_django).html(form, line)
    assert written == f'<i data-p="{form.prefix}">{line.suggested_text}</i>{form["name"].__html__()}'
    real = RowForms(EntryForm.indicator_formset(a)).form(0)  # the first of its shape: a real form
    assert not isinstance(real, LightRow) and RowStencils(lambda f, ln: "", escape_as_django).html(real, lines[0]) is None


def test_a_row_with_a_review_note_is_rendered_with_it(alice, unit_a, round_2020):
    """The stencil has no stand-in for a returned review's note: such a row is rendered by the template."""
    a = _assessment(alice, unit_a, round_2020, _spec("project", False))
    lines = readmodel.build(a).indicators
    rows = RowForms(EntryForm.indicator_formset(a))
    light = [i for i in range(len(lines)) if isinstance(rows.form(i), LightRow)]
    noted = lines[light[-1]]  # a row that would be written from a stencil
    note = IndicatorReview(indicator_key=noted.key, note="请补充<佐证>", score=Decimal("2.50"))
    html = "".join(entry_views._cached_indicator_rows(a, readmodel.build(a), extra_rows=0,
                                                      row_comments={str(noted.key): note}))
    assert html.count("复核意见：") == 1 and "复核意见：请补充&lt;佐证&gt;（复核得分 2.50）" in html


def _second(version, unit, round_2020, user, level1):
    """Another assessment of the same 表样 version, with other values in rows of the same 一级."""
    b = create_assessment(unit=unit, round=round_2020, version=version, project_name="另一个项目", user=user)
    Indicator.objects.bulk_create(
        Indicator(assessment=b, position=n + 1, level1=level1[(n + 1) % len(level1)], level2=f"第二份{HOSTILE}",
                  name=f"另一项{n}", operator="≤" if n % 2 else "", target=f"≤{n}天", unit="天", actual=f"{n}天",
                  weight=Decimal("5") if n % 2 else Decimal("7.5"), score=None if n % 3 else Decimal("1.25"),
                  outcome=("achieved", "", "partial")[n % 3], reason=f"原因{n}",
                  extra={"own_text": f"乙{HOSTILE}", "own_amount": "1"} if n % 2 == 0 else {})
        for n in range(7)
    )
    return readmodel.with_content(Assessment.objects).get(pk=b.pk)


@pytest.mark.parametrize("own", [False, True], ids=["own-columns-none", "own-columns-every-kind"])
@pytest.mark.parametrize("code", [spec.code for spec in BUILTIN])
def test_another_assessment_of_the_same_version_is_written_from_the_kept_prototypes(
        alice, bob, unit_a, unit_b, round_2020, code, own):
    """The prototypes of stored rows are kept in the process under the 表样 version (`rowforms.KITS`):
    the edit page of another assessment of that version builds no form for rows of a shape seen
    before, and its rows are still the rows its own whole form renders; another version of the same
    表样 has prototypes of its own."""
    a = _assessment(alice, unit_a, round_2020, _spec(code, own))
    entry_views._cached_indicator_rows(a, readmodel.build(a), extra_rows=0, row_comments={})
    kept = len(rowforms.KITS.kept)
    assert kept == len(set(a.table.level1_names[:4])) + 1  # a prototype per 一级 (and the odd one)
    b = _second(a.template_version, unit_b, round_2020, bob, a.table.level1_names)
    view = readmodel.build(b)
    whole = entry_views._tables_html(EntryForm(b, extra_indicators=2), view, attempted=False, row_comments={})
    built = []
    real_init = IndicatorForm.__init__

    def counting(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self.prefix)

    IndicatorForm.__init__ = counting
    try:
        rows = entry_views._cached_indicator_rows(b, view, extra_rows=2, row_comments={})
    finally:
        IndicatorForm.__init__ = real_init
    assert built == ["indicators-7"]  # the empty rows' prototype: an empty row's is not kept
    assert entry_views._tables_html(EntryForm(b, extra_indicators=2), view, attempted=False, row_comments={},
                                    indicator_rows=rows) == whole
    assert "另一项6" in "".join(rows) and len(rowforms.KITS.kept) == kept
    # A new version of the 表样 (its declaration changed): prototypes of its own, never the old ones.
    spec = a.table.evolve(indicator_columns=tuple(
        dataclasses.replace(c, label=f"{c.label}（新）") for c in a.table.indicator_columns))
    version = TemplateVersion.objects.create(template=a.template_version.template, number=2, spec=spec.to_dict())
    Assessment.objects.filter(pk=b.pk).update(template_version=version)
    b = readmodel.with_content(Assessment.objects).get(pk=b.pk)
    view = readmodel.build(b)
    rows = entry_views._cached_indicator_rows(b, view, extra_rows=0, row_comments={})
    assert len(rowforms.KITS.kept) > kept
    assert "".join(rows).count("（新）") >= 7 * len(spec.indicator_columns)
    assert entry_views._tables_html(EntryForm(b), view, attempted=False, row_comments={}, indicator_rows=rows) == \
        entry_views._tables_html(EntryForm(b), view, attempted=False, row_comments={})
