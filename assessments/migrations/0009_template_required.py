# The old `layout` column and the weights of the scoring rule sets are gone (0008 moved them into
# the 表样); amounts keep up to four decimals of 万元; row keys come from the template.

import django.db.models.deletion
from django.db import migrations, models

MONEY = {"blank": True, "decimal_places": 4, "max_digits": 18, "null": True}


class Migration(migrations.Migration):

    dependencies = [("assessments", "0008_assign_templates")]

    operations = [
        migrations.RemoveConstraint(model_name="assessment", name="layout_matches_kind"),
        migrations.RemoveField(model_name="assessment", name="layout"),
        migrations.AlterField(
            model_name="assessment",
            name="template_version",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="assessments", to="assessments.templateversion", verbose_name="表样"),
        ),
        migrations.RemoveField(model_name="scoringruleset", name="benefit_weight"),
        migrations.RemoveField(model_name="scoringruleset", name="funding_weight"),
        migrations.RemoveField(model_name="scoringruleset", name="output_weight"),
        migrations.RemoveField(model_name="scoringruleset", name="satisfaction_weight"),
        migrations.AlterField(model_name="fundingrow", name="actual", field=models.DecimalField(verbose_name="全年执行数", **MONEY)),
        migrations.AlterField(model_name="fundingrow", name="budget", field=models.DecimalField(verbose_name="全年预算数", **MONEY)),
        migrations.AlterField(model_name="fundingrow", name="initial_budget", field=models.DecimalField(verbose_name="年初预算数", **MONEY)),
        migrations.AlterField(model_name="fundingrow", name="source", field=models.CharField(max_length=30, verbose_name="资金来源")),
        migrations.AlterField(model_name="indicator", name="level1", field=models.CharField(max_length=30, verbose_name="一级指标")),
        migrations.AlterField(model_name="indicator", name="level2", field=models.CharField(blank=True, max_length=50, verbose_name="二级指标")),
        migrations.AlterField(
            model_name="indicator", name="score",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=6, null=True, verbose_name="得分"),
        ),
        migrations.AlterField(model_name="projectexpense", name="actual", field=models.DecimalField(verbose_name="实际支出", **MONEY)),
        migrations.AlterField(model_name="projectexpense", name="budget", field=models.DecimalField(verbose_name="年初预算", **MONEY)),
        migrations.AlterField(model_name="reportsection", name="key", field=models.CharField(max_length=30, verbose_name="章节")),
        migrations.AlterField(model_name="structurerow", name="actual", field=models.DecimalField(verbose_name="执行数", **MONEY)),
        migrations.AlterField(model_name="structurerow", name="budget", field=models.DecimalField(verbose_name="预算数", **MONEY)),
        migrations.AlterField(model_name="structurerow", name="item", field=models.CharField(max_length=30, verbose_name="支出结构")),
    ]
