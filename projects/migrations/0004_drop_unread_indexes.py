"""Drop three indexes of the project table that nothing reads, each written on every create:

- deleted_at: project_live_created_idx (deleted_at, -created_at) starts with the same column and serves
  the live projects (`deleted_at IS NULL`, every list); for the deleted ones (`IS NOT NULL`, the admin's
  trash) SQLite's plan was a table scan with or without the single-column index;
- state_changed_by_id and deleted_by_id: nothing lists projects by who last changed or deleted them. Their
  only reader is the check that a user about to be deleted is not referenced (on_delete=PROTECT), which
  now reads the table once; every create and transition wrote a B-tree page for them;
- on PostgreSQL, the varchar_pattern_ops twin Django adds to the indexed state column for LIKE: a state is
  only ever compared whole (`=`, `IN`), which its plain index serves. The slug's twin stays (`startswith`).

Dropped by name rather than through AlterField, which on SQLite rebuilds the whole table, once per field,
for what is a DROP INDEX. The foreign-key constraints stay.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "projects_project"
# The names Django gave them (its index names depend only on the table and the column).
INDEXES = {
    "deleted_at": "projects_project_deleted_at_2809bd26",
    "state_changed_by_id": "projects_project_state_changed_by_id_9a2f695f",
    "deleted_by_id": "projects_project_deleted_by_id_5f6f80e8",
}
# PostgreSQL's varchar_pattern_ops index of the state column.
STATE_LIKE = "projects_project_state_a329c658_like"


def drop_indexes(apps, schema_editor):
    for name in INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(STATE_LIKE)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, name in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX {quote(STATE_LIKE)} ON {quote(TABLE)} ({quote('state')} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_deleted_by"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="project",
                    name="deleted_at",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.AlterField(
                    model_name="project",
                    name="deleted_by",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name="project",
                    name="state_changed_by",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
    ]
