"""PostgreSQL: each project's and decision's search document stored in a column of its row (generated
by PostgreSQL from the row, as 0001's index expression, on every write), and the GIN index built over
that column instead of over the expression.

Why: with the document only an expression, every row a query tests or ranks computed it again
(~0.1–1 ms a decision: the texts parsed and stemmed twice, the JSON walked), so the planner had to be
kept from testing any row but through the GIN index, and ranking the newest 30 matches cost more than
finding them. A stored vector is read, not computed: a member's visible rows can be tested one by one
and ranking is cheap, with no planner setting changed (docs/search.md, bench/README.md).

Adding a generated column rewrites the table once (under its lock: seconds for 10,000 rows). The
expressions are 0001's, read from it: one definition. The GIN indexes are built CONCURRENTLY (hence a
non-atomic migration); the expression indexes of 0001 are dropped once the new ones exist. Nothing on
SQLite or any other database.
"""

from importlib import import_module

from django.db import migrations

first = import_module("search.migrations.0001_search_indexes")

COLUMN = "search_document"
TABLES = {
    "projects_project": (first.PROJECT_DOCUMENT, "search_project_vector_idx", "search_project_document_idx"),
    "decisions_decision": (first.DECISION_DOCUMENT, "search_decision_vector_idx", "search_decision_document_idx"),
}


def store(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, (document, index, expression_index) in TABLES.items():
        schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
                              f"GENERATED ALWAYS AS ({document}) STORED")
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {table} USING gin ({COLUMN})")
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {expression_index}")
        schema_editor.execute(f"ANALYZE {table}")  # the planner's statistics of the new column's words


def unstore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    first.create(apps, schema_editor)  # 0001's expression indexes again (IF NOT EXISTS)
    for table, (_, index, _) in TABLES.items():
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index}")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {COLUMN}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("search", "0001_search_indexes")]

    operations = [migrations.RunPython(store, unstore, elidable=False)]
