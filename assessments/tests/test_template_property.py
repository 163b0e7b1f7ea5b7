"""Property: for generated 表样 and generated tables, what is typed into the entry form comes
back unchanged after the xlsx export and the import (form → read model → xlsx → import → read
model), and the import recognises the generated template among the built-in ones."""

import string
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessments import builtin_templates, readmodel
from assessments.importing import apply, parser
from assessments.models import Assessment, TableTemplate, TemplateVersion
from assessments.services import create_assessment
from assessments.tablespec import Column, FundingRowSpec, SectionSpec, TableSpec, validate
from assessments.tests.test_templates import comparable, workbook_of

pytestmark = pytest.mark.django_db(transaction=False)

# Labels nobody else uses (not an alias of any known column or row), so that a generated label
# means exactly its column.
LABEL_POOL = [f"{a}{b}" for a in "甲乙丙丁戊己庚辛" for b in ("栏", "项", "目", "类")]
TEXT = st.text(alphabet="平安建设综治经费完成次人户万元群众满意提升工作会议情况说明" + string.digits + "，；（）“”", min_size=1, max_size=24).filter(
    lambda t: not t[0].isdigit() and t.strip() == t and t.strip("。…—-/\\") == t
)
AMOUNT = st.decimals(min_value=0, max_value=99999, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def templates(draw):
    base = draw(st.sampled_from(builtin_templates.BUILTIN))
    labels = iter(draw(st.permutations(LABEL_POOL)))
    # Indicator columns: keep the required ones, maybe drop the reason, maybe add own columns, shuffle.
    columns = [c for c in base.indicator_columns if c.key != "reason" or draw(st.booleans())]
    for n in range(draw(st.integers(0, 2))):
        columns.append(Column(f"own{n}", next(labels), draw(st.sampled_from(["text", "amount", "number"]))))
    order = draw(st.permutations(range(len(columns))))
    columns = [columns[i] for i in order]
    if draw(st.booleans()):
        columns = [c if c.key not in ("name", "target") else Column(c.key, next(labels)) for c in columns]
    funding_rows = list(base.funding_rows)
    if draw(st.booleans()):
        funding_rows.append(FundingRowSpec("extra_row", next(labels)))
    blocks = tuple(SectionSpec(f"block{n}", next(labels)) for n in range(draw(st.integers(0, 2))))
    spec = base.evolve(
        code="generated", name="生成的表样", indicator_columns=tuple(columns), funding_rows=tuple(funding_rows), blocks=blocks,
    )
    assert validate(spec) == [], validate(spec)
    return spec


def value_for(kind: str, draw):
    if kind == "amount":
        return format(draw(AMOUNT).normalize(), "f")
    if kind == "number":
        return format(draw(st.decimals(min_value=0, max_value=999, places=2, allow_nan=False)).normalize(), "f")
    return draw(TEXT)


@st.composite
def tables(draw, spec: TableSpec):
    """POST values for the entry form of a draft made with `spec` (keys without the form prefix)."""
    rows = []
    for name, weight, _members in spec.weight_groups:
        level = spec.level1_spec(name)
        count = draw(st.integers(1, 2))
        shares = [weight / count] * (count - 1)
        shares.append(weight - sum(shares, Decimal(0)))
        for share in shares:
            target = draw(st.integers(1, 500))
            actual = draw(st.integers(target, target * 2 - 1))  # achieved, under 200%: a full score, a reason not needed
            row = {
                "level1": name, "level2": draw(st.sampled_from(level.level2)), "name": draw(TEXT),
                "weight": format(share.quantize(Decimal("0.01")).normalize(), "f"), "reason": draw(TEXT),
            }
            if "operator" in spec.indicator_keys:
                row.update(operator="≥", target=str(target), unit="次", actual=str(actual))
            else:
                row.update(target=f"≥{target}次", actual=f"{actual}次")
            for column in spec.indicator_columns:
                if column.key.startswith("own"):
                    row[column.key] = value_for(column.kind, draw)
            rows.append(row)
    budget = draw(AMOUNT.filter(lambda d: d > 0))
    return {
        "funding": [
            {"initial_budget": format(budget.normalize(), "f"), "budget": format(budget.normalize(), "f"),
             "actual": format(budget.normalize(), "f"), "reason": draw(TEXT)}
            for _ in spec.funding_rows
        ],
        "goal": (draw(TEXT), draw(TEXT)),
        "indicators": rows,
        "texts": [draw(TEXT) for _ in spec.text_sections],
    }


class _Rollback(Exception):
    pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_templates_round_trip_through_xlsx_and_import(data, alice, unit_a, round_2020):
    from assessments.forms import EntryForm

    spec = data.draw(templates())
    table = data.draw(tables(spec))
    try:
        with transaction.atomic():
            template = TableTemplate.objects.create(code=spec.code, name=spec.name, kind=spec.kind)
            version = TemplateVersion.objects.create(template=template, number=1, spec=spec.to_dict())
            name = "生成项目" if spec.is_project else ""
            a = create_assessment(unit=unit_a, round=round_2020, version=version, project_name=name, user=alice)
            a = readmodel.with_content(Assessment.objects).get(pk=a.pk)
            entry = EntryForm(a)
            post = entry.as_post_data()
            for form, values in zip(entry.funding.forms, table["funding"], strict=True):
                for name, value in values.items():
                    if name in form.fields:
                        post[form.add_prefix(name)] = value
            post["goals-0-target"], post["goals-0-achieved"] = table["goal"]
            for n, row in enumerate(table["indicators"]):
                post.update({f"indicators-{n}-{k}": v for k, v in row.items()})
                post[f"indicators-{n}-ORDER"] = str(n + 1)
            post["indicators-TOTAL_FORMS"] = str(len(table["indicators"]))
            for form, text in zip(entry.sections.forms, table["texts"], strict=True):
                post[form.add_prefix("body")] = text
            entry = EntryForm(a, post)
            assert entry.is_valid(), entry.error_list()
            typed = entry.save(a.version)
            assert typed.result.problems == []
            before = comparable(typed)

            workbook = workbook_of(a.pk)
            Assessment.objects.filter(pk=a.pk).delete()
            parsed = parser.parse_workbook(workbook, [spec, *builtin_templates.BUILTIN])
            assert parsed.layout == spec.code
            assert parsed.unmapped == []
            outcome = apply.import_new(user=alice, unit=unit_a, round_=round_2020, layout=spec.code, parsed=parsed)
            assert outcome.errors == []
            assert comparable(readmodel.load(outcome.assessment.pk)) == before
            raise _Rollback
    except _Rollback:
        pass
