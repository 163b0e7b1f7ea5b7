import time

from django.db import migrations, models


def first_generation(apps, schema_editor):
    apps.get_model("assessments", "PublicGeneration").objects.create(pk=1, value=time.time_ns())


class Migration(migrations.Migration):

    dependencies = [
        ('assessments', '0010_export_heartbeat'),
    ]

    operations = [
        migrations.CreateModel(
            name='PublicGeneration',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.BigIntegerField(verbose_name='版本（纳秒时间戳）')),
            ],
            options={
                'verbose_name': '公开内容版本',
                'verbose_name_plural': '公开内容版本',
            },
        ),
        migrations.RunPython(first_generation, migrations.RunPython.noop),
    ]
