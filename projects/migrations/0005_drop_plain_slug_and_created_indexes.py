"""Drop two more indexes of the project table that every create wrote and no live query needs:

- slug: every lookup by slug is of a live project (`deleted_at IS NULL`), which the partial unique index
  project_slug_unique_live serves (SQLite's plan and PostgreSQL's use it); on PostgreSQL the plain index
  also had a varchar_pattern_ops twin for LIKE, and nothing matches slugs by prefix;
- created_at: project_live_created_idx (deleted_at, -created_at) serves every list of live projects, newest
  or oldest first. Only a list that includes deleted projects (the admin's, at most a page of a few
  thousand rows) now sorts instead of walking an index.

Dropped by name, as in 0004: AlterField would rebuild the whole table on SQLite for what is a DROP INDEX.
"""

from django.db import migrations, models

TABLE = "projects_project"
# The names Django gave them (its index names depend only on the table and the column).
INDEXES = {"slug": "projects_project_slug_2d50067a", "created_at": "projects_project_created_at_b0d9c9b8"}
SLUG_LIKE = "projects_project_slug_2d50067a_like"


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for name in INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(SLUG_LIKE)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, name in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX {quote(SLUG_LIKE)} ON {quote(TABLE)} ({quote('slug')} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0004_drop_unread_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="project",
                    name="created_at",
                    field=models.DateTimeField(auto_now_add=True),
                ),
                migrations.AlterField(
                    model_name="project",
                    name="slug",
                    field=models.SlugField(db_index=False, max_length=220),
                ),
            ],
        ),
    ]
