import uuid

from django.db import migrations, models
from django.db.models import F


def lineage_from_key(apps, schema_editor):
    # AddField fills every existing row with one and the same default; give each row its own
    # identity instead (its key, which is already unique within its assessment).
    Indicator = apps.get_model("assessments", "Indicator")
    Indicator.objects.update(lineage=F("key"))


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0004_audit_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="indicator",
            name="lineage",
            field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False, verbose_name="指标谱系"),
        ),
        migrations.RunPython(lineage_from_key, migrations.RunPython.noop),
    ]
