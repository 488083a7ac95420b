"""The indexes search reads on PostgreSQL (SQLite searches without them: docs/search.md).

- GIN indexes over the weighted tsvector of a project and of a decision. (0002 stores that tsvector
  in a column of each row, computed by a trigger from the expressions below, indexes the column and
  drops these two indexes: the expressions here stay the one definition of the documents.)
- A B-tree over a ledger leaf's hash: a hash, or a prefix of at least 8 hex digits, is a range scan
  instead of reading every leaf (~8 ms at 50,000 leaves on the bench machine, so ~150 ms at a million).

Built CONCURRENTLY, so a deployment with a large trail keeps sealing and writing meanwhile (hence a
non-atomic migration). Nothing on SQLite or any other database.
"""

from django.db import migrations


def _both(columns: str, weight: str) -> str:
    return " || ".join(
        f"setweight(to_tsvector('{config}'::regconfig, {columns}), '{weight}')" for config in ("english", "simple")
    )


def _json(column: str, config: str, weight: str) -> str:
    return f"""setweight(jsonb_to_tsvector('{config}'::regconfig, "{column}", '["string"]'::jsonb), '{weight}')"""


def _text(*columns: str) -> str:
    return " || ' ' || ".join(f"""COALESCE("{column}", '')""" for column in columns)


PROJECT_DOCUMENT = f"""(({_both(_text("name", "slug"), "A")}) || ({_both(_text("description"), "B")}))"""
DECISION_DOCUMENT = (
    f"""(((((({_both(_text("title"), "A")}) || ({_both(_text("question", "context"), "B")})) || """
    f"""({_both(_text("rationale"), "C")})) || {_json("options", "english", "C")}) || """
    f"""{_json("options", "simple", "C")}) || {_json("tags", "simple", "C")})"""
)

INDEXES = {
    "search_project_document_idx": f"projects_project USING gin (({PROJECT_DOCUMENT}))",
    "search_decision_document_idx": f"decisions_decision USING gin (({DECISION_DOCUMENT}))",
    "search_ledger_leaf_hash_idx": "audit_ledgerleaf (leaf_hash)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("projects", "0003_deleted_by"),
        ("decisions", "0003_reviews"),
        ("audit", "0012_witnesses"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
