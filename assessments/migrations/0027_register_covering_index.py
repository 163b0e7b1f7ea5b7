"""The 公开登记簿's reports read from an index alone (issue 17, part 5), on PostgreSQL.

The register classifies every approved or published report of a round (2,676 in the benchmark's
province) to count them per 主管部门 and to sort one page: read from the table, they lie on some
1,800 pages of it (8 ms a query); read from an index that holds what the register reads of them,
an index-only scan (4 ms, most of it the classification). A covering index (INCLUDE) is
PostgreSQL's: SQLite has none, and declaring it on the model would make Django's checks warn there
(models.W040), so it is created here, for PostgreSQL only.
"""

from django.db import migrations

NAME = "assessment_register_idx"
COLUMNS = "(round_id, state) INCLUDE (id, unit_id, confidential, disclosure, published_at, kind, project_name)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON assessments_assessment {COLUMNS}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):

    dependencies = [("assessments", "0026_department_index")]

    operations = [migrations.RunPython(create, drop)]
