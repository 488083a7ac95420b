"""PostgreSQL: each project's and decision's search document stored in a `search_document` column of
its row, kept by a trigger on every insert and on every update that changes a searched text, and the
GIN index built over that column instead of over the expression (0001's, dropped here).

Why: with the document only an expression, every row a query tested or ranked computed it again
(~0.1–1 ms a decision: the texts parsed and stemmed twice, the JSON walked), so the planner had to be
kept from testing any row but through the GIN index, and ranking the newest 30 matches cost more than
finding them. A stored vector is read, not computed: a member's few visible rows are tested one by
one, ranking is cheap, and no planner setting is changed (docs/search.md, bench/README.md).

A trigger rather than a generated column: PostgreSQL refuses `ALTER COLUMN … TYPE` on any column a
generated column reads, which would trap every later migration of the projects and decisions apps
(a longer title, say); a trigger's function holds no such dependency. The price: a migration that
renames or drops a searched column must replace the function too (every write fails until it does:
search/tests/test_search_postgres.py writes and reads through it).

The expressions are 0001's, read from it (one definition), over the row being written (NEW). The
column is added without a default (no table rewrite), then filled by one UPDATE; the GIN indexes are
built CONCURRENTLY (hence a non-atomic migration). Nothing on SQLite or any other database.
"""

from importlib import import_module

from django.db import migrations

first = import_module("search.migrations.0001_search_indexes")

COLUMN = "search_document"
TABLES = {
    "projects_project": {
        "document": first.PROJECT_DOCUMENT, "columns": ("name", "slug", "description"),
        "index": "search_project_vector_idx", "expression_index": "search_project_document_idx",
    },
    "decisions_decision": {
        "document": first.DECISION_DOCUMENT, "columns": ("title", "question", "context", "rationale", "options", "tags"),
        "index": "search_decision_vector_idx", "expression_index": "search_decision_document_idx",
    },
}


def _function(table: str) -> str:
    return f"{table}_search_document"


def _of_new_row(document: str, columns) -> str:
    for column in columns:
        document = document.replace(f'"{column}"', f'NEW."{column}"')
    return document


def store(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, spec in TABLES.items():
        new = ", ".join(f'NEW."{c}"' for c in spec["columns"])
        old = ", ".join(f'OLD."{c}"' for c in spec["columns"])
        schema_editor.execute(f"""
            ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {COLUMN} tsvector;
            CREATE OR REPLACE FUNCTION {_function(table)}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND ({new}) IS NOT DISTINCT FROM ({old}) AND NEW.{COLUMN} IS NOT NULL THEN
                    RETURN NEW;  -- no searched text changed: the stored document stands
                END IF;
                NEW.{COLUMN} := {_of_new_row(spec["document"], spec["columns"])};
                RETURN NEW;
            END $$;
            DROP TRIGGER IF EXISTS {_function(table)} ON {table};
            CREATE TRIGGER {_function(table)} BEFORE INSERT OR UPDATE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {_function(table)}();
        """)
        schema_editor.execute(f"UPDATE {table} SET {COLUMN} = {spec['document']} WHERE {COLUMN} IS NULL")
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {spec['index']} ON {table} USING gin ({COLUMN})")
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {spec['expression_index']}")
        schema_editor.execute(f"ANALYZE {table}")  # the planner's statistics of the stored words


def unstore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    first.create(apps, schema_editor)  # 0001's expression indexes again (IF NOT EXISTS)
    for table, spec in TABLES.items():
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {spec['index']}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_function(table)} ON {table}; "
                              f"DROP FUNCTION IF EXISTS {_function(table)}(); "
                              f"ALTER TABLE {table} DROP COLUMN IF EXISTS {COLUMN}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("search", "0001_search_indexes")]

    operations = [migrations.RunPython(store, unstore, elidable=False)]
