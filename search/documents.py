"""What PostgreSQL's full-text search reads of a project and of a decision: one weighted tsvector each.

The same expression is written twice on purpose: here, for the queries, and as SQL text in
search/migrations/0001_search_indexes.py, for the GIN indexes (a migration must not import code that
may change after it). PostgreSQL uses an expression index only for a query that repeats its expression
exactly; search/tests/test_search_postgres.py asks EXPLAIN whether it does, so the two copies cannot
drift apart unnoticed.

Each text is indexed twice: stemmed ('english': "decisions" finds "decision") and as written
('simple': the palette's prefix of the word being typed, "decisi" → "decisions", which a stemmed
lexeme cannot match because "decisions" is stored as "decis"). A decision's options and tags are JSON:
only their string values are indexed (jsonb_to_tsvector), not the keys ("label", "pros") every
decision has.

The document is one SQL expression with its columns qualified by the query's alias for the table,
rather than a tree of django.contrib.postgres SearchVector objects: that tree (about a hundred nodes
for a decision) was built, resolved and compiled for the WHERE and again for the rank of every
search, a third of a search's time in Python (bench/search.py). Django's SearchQuery and SearchRank
read it like a SearchVector.
"""

from django.contrib.postgres.search import SearchVectorCombinable, SearchVectorField
from django.db.models import Expression

CONFIGS = ("english", "simple")


def _both(weight: str, *columns: str) -> str:
    text = " || ' ' || ".join(f"""COALESCE({{t}}."{column}", '')""" for column in columns)
    return " || ".join(f"setweight(to_tsvector('{config}'::regconfig, {text}), '{weight}')" for config in CONFIGS)


def _json(weight: str, column: str, config: str) -> str:
    return f"""setweight(jsonb_to_tsvector('{config}'::regconfig, {{t}}."{column}", '["string"]'::jsonb), '{weight}')"""


# name and slug (A), description (B).
PROJECT_DOCUMENT = f"""(({_both("A", "name", "slug")}) || ({_both("B", "description")}))"""
# title (A); question and context (B); rationale, options and tags (C).
DECISION_DOCUMENT = (
    f"""(({_both("A", "title")}) || ({_both("B", "question", "context")}) || ({_both("C", "rationale")})"""
    f""" || {_json("C", "options", "english")} || {_json("C", "options", "simple")} || {_json("C", "tags", "simple")})"""
)


class Document(SearchVectorCombinable, Expression):
    """One of the documents above, over the table of the query it is used in."""

    output_field = SearchVectorField()
    config = None  # what SearchRank and the @@ lookup ask a vector for

    def __init__(self, sql: str):
        super().__init__()
        self.sql = sql

    def as_sql(self, compiler, connection):
        return self.sql.format(t=compiler.quote_name_unless_alias(compiler.query.base_table)), []


def project_document() -> Document:
    return Document(PROJECT_DOCUMENT)


def decision_document() -> Document:
    return Document(DECISION_DOCUMENT)
