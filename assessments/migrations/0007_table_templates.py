# The 表样 (table templates) of docs/adr/0010: templates, their immutable versions, their
# assignment to rounds; the columns a template may add. The data is moved by 0008, the old
# `layout` column goes in 0009.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

KINDS = [("project", "项目支出"), ("department", "部门整体支出")]


class Migration(migrations.Migration):

    dependencies = [
        ("assessments", "0006_public_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TableTemplate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=40, unique=True, verbose_name="代码")),
                ("name", models.CharField(max_length=100, verbose_name="名称")),
                ("kind", models.CharField(choices=KINDS, max_length=20, verbose_name="类型")),
                ("builtin", models.BooleanField(default=False, help_text="内置表样不可修改，可复制后修改", verbose_name="内置")),
                ("active", models.BooleanField(default=True, help_text="新建自评时可选；已有自评不受影响", verbose_name="可选用")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                ("based_on", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="copies", to="assessments.tabletemplate", verbose_name="复制自")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="创建人")),
            ],
            options={"verbose_name": "表样", "verbose_name_plural": "表样", "ordering": ["kind", "id"]},
        ),
        migrations.CreateModel(
            name="TemplateVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(verbose_name="版本")),
                ("spec", models.JSONField(verbose_name="表样定义")),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="修改说明")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="创建人")),
                ("template", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="versions", to="assessments.tabletemplate", verbose_name="表样")),
            ],
            options={"verbose_name": "表样版本", "verbose_name_plural": "表样版本", "ordering": ["template", "number"]},
        ),
        migrations.AddConstraint(
            model_name="templateversion",
            constraint=models.UniqueConstraint(fields=("template", "number"), name="template_version_once"),
        ),
        migrations.CreateModel(
            name="TemplateAssignment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=KINDS, max_length=20, verbose_name="类型")),
                ("region", models.ForeignKey(blank=True, help_text="留空则适用于全部地区；指定地区时也适用于其下级地区", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="assessments.region", verbose_name="适用地区")),
                ("round", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="template_assignments", to="assessments.round", verbose_name="评价批次")),
                ("template", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="assignments", to="assessments.tabletemplate", verbose_name="表样")),
            ],
            options={"verbose_name": "表样分配", "verbose_name_plural": "表样分配", "ordering": ["round", "kind", "region"]},
        ),
        migrations.AddConstraint(
            model_name="templateassignment",
            constraint=models.UniqueConstraint(fields=("round", "kind", "region"), name="assignment_once_per_region"),
        ),
        migrations.AddConstraint(
            model_name="templateassignment",
            constraint=models.UniqueConstraint(condition=models.Q(("region__isnull", True)), fields=("round", "kind"), name="assignment_once_for_all_regions"),
        ),
        migrations.AddField(
            model_name="assessment",
            name="template_version",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="assessments", to="assessments.templateversion", verbose_name="表样"),
        ),
        migrations.AddField(
            model_name="assessment",
            name="extra",
            field=models.JSONField(blank=True, default=dict, verbose_name="其他表头栏目"),
        ),
        migrations.AddField(
            model_name="fundingrow",
            name="extra",
            field=models.JSONField(blank=True, default=dict, verbose_name="其他栏目"),
        ),
        migrations.AddField(
            model_name="fundingrow",
            name="score",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=6, null=True, verbose_name="得分"),
        ),
        migrations.AddField(
            model_name="indicator",
            name="extra",
            field=models.JSONField(blank=True, default=dict, verbose_name="其他栏目"),
        ),
        migrations.AddField(
            model_name="indicator",
            name="operator",
            field=models.CharField(blank=True, max_length=10, verbose_name="指标性质"),
        ),
        migrations.AddField(
            model_name="indicator",
            name="unit",
            field=models.CharField(blank=True, max_length=30, verbose_name="度量单位"),
        ),
    ]
