"""Issue 17, part 5 (ADR 0027): an unbound row rendered through `rowforms` (a real form for the first
row of each shape, light ones after it) is byte for byte the row its own form renders, for every
built-in 表样 and for each with its own columns of every kind an indicator column may hold."""

from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from assessments import readmodel
from assessments.builtin_templates import BUILTIN
from assessments.forms import EntryForm, IndicatorForm
from assessments.models import Assessment, Indicator, TableTemplate, TemplateVersion
from assessments.rowforms import LightRow, RowForms
from assessments.services import create_assessment
from assessments.tablespec import Column
from assessments.views import entry as entry_views

HOSTILE = "<b>\"引号\" & 'apos'</b>"
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
    assert [_row_html(form, a.table) for form in forms] == expected
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
