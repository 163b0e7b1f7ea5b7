# Every existing assessment gets the version 1 of the built-in 表样 matching its old layout, so it
# renders, scores and exports exactly as before (checked by assessments/tests/test_template_migration.py).
#
# - Rounds whose scoring rule set had weights other than 10/50/30/10 (weights now belong to the
#   template): their assessments get a copy of the template carrying those weights.
# - A 得分 typed on a quantitative row (or a row without 指标值) was ignored by the old rules and
#   never shown; the unit's 得分 is now the record, so such a stale value is cleared, and the row
#   keeps the score it was published with.

from decimal import Decimal

from django.db import migrations

DEFAULT_WEIGHTS = (Decimal("10"), Decimal("50"), Decimal("30"), Decimal("10"))
BATCH = 2000


def forwards(apps, schema_editor):
    from assessments import builtin_templates, scoring

    TableTemplate = apps.get_model("assessments", "TableTemplate")
    TemplateVersion = apps.get_model("assessments", "TemplateVersion")
    Assessment = apps.get_model("assessments", "Assessment")
    Indicator = apps.get_model("assessments", "Indicator")
    ScoringRuleSet = apps.get_model("assessments", "ScoringRuleSet")

    versions = {}
    for spec in builtin_templates.BUILTIN:
        template = TableTemplate.objects.create(code=spec.code, name=spec.name, kind=spec.kind, builtin=True)
        versions[spec.code] = TemplateVersion.objects.create(template=template, number=1, spec=spec.to_dict(), note="内置表样")

    for rule_set in ScoringRuleSet.objects.order_by("pk"):
        weights = (rule_set.funding_weight, rule_set.output_weight, rule_set.benefit_weight, rule_set.satisfaction_weight)
        if weights == DEFAULT_WEIGHTS:
            continue
        for code in builtin_templates.LEGACY_CODES:
            rows = Assessment.objects.filter(round__rule_set=rule_set, layout=code)
            if not rows.exists():
                continue
            spec = _with_weights(builtin_templates.BY_CODE[code], weights, builtin_templates)
            spec = spec.evolve(code=f"{code}-{rule_set.pk}", name=f"{spec.name}（{rule_set.name}）"[:100])
            template = TableTemplate.objects.create(code=spec.code, name=spec.name, kind=spec.kind, builtin=False)
            version = TemplateVersion.objects.create(
                template=template, number=1, spec=spec.to_dict(), note=f"由评分规则“{rule_set.name}”的分值生成"
            )
            rows.update(template_version=version)

    for code in builtin_templates.LEGACY_CODES:
        Assessment.objects.filter(layout=code, template_version__isnull=True).update(template_version=versions[code])

    stale = []
    rows = Indicator.objects.filter(score__isnull=False).values_list("pk", "target").iterator(chunk_size=BATCH)
    for pk, target in rows:
        if not (target or "").strip() or scoring.parse_value(target) is not None:
            stale.append(pk)
    for start in range(0, len(stale), BATCH):
        Indicator.objects.filter(pk__in=stale[start : start + BATCH]).update(score=None)


def _with_weights(spec, weights, builtin):
    funding, output, benefit, satisfaction = weights
    by_name = {"产出指标": output, "效益指标": benefit, "满意度指标": satisfaction}
    rows = tuple(row if row.weight is None else _replace(row, weight=funding) for row in spec.funding_rows)
    level1 = tuple(
        _replace(level, weight=by_name[level.name]) if level.name in by_name else level for level in spec.level1
    )
    return spec.evolve(funding_rows=rows, level1=level1)


def _replace(obj, **changes):
    from dataclasses import replace

    return replace(obj, **changes)


class Migration(migrations.Migration):

    dependencies = [("assessments", "0007_table_templates")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
