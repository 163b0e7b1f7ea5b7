from django.conf import settings
from django.db import migrations, models

# Public search is `icontains` on Publication.search_text, which PostgreSQL runs as
# UPPER(search_text) LIKE UPPER('%…%'). A trigram GIN index on that expression lets a rare term
# (a unit's name) skip the sequential scan. pg_trgm is a trusted extension: the database owner may
# create it. SQLite has no such index; its databases are small.
TRIGRAM_INDEX = "assessments_publication_search_trgm"


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON assessments_publication "
        "USING gin (UPPER(search_text) gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0005_indicator_lineage"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                models.OrderBy(models.F("published_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("confidential", False), ("state", "published")),
                name="assessment_public_idx",
            ),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
