"""What PostgreSQL's full-text search reads of a project and of a decision: one weighted tsvector each.

These expressions are written twice on purpose: here, for the queries, and as SQL text in
search/migrations/0001_search_indexes.py, for the GIN indexes. PostgreSQL uses an expression index
only for a query that repeats its expression exactly; search/tests/test_search_postgres.py asks EXPLAIN
whether it does, so the two copies cannot drift apart unnoticed.

Each text is indexed twice: stemmed ('english': "decisions" finds "decision") and as written
('simple': the palette's prefix of the word being typed, "decisi" → "decisions", which a stemmed
lexeme cannot match because "decisions" is stored as "decis").
"""

from django.contrib.postgres.search import SearchVector, SearchVectorCombinable, SearchVectorField
from django.db.models import F, Func

CONFIGS = ("english", "simple")


class JsonStringsVector(SearchVectorCombinable, Func):
    """Every string value of a JSON column (a decision's options: ids, labels, descriptions, pros and
    cons; its tags), not the JSON text, whose keys ("label", "pros") would match every decision."""

    function = "jsonb_to_tsvector"
    output_field = SearchVectorField()

    def __init__(self, column: str, *, config: str, weight: str):
        super().__init__(F(column))
        self.config = None  # what CombinedSearchVector reads of its left operand
        # Literals, not parameters: the index expression must be the same text.
        self.template = f"setweight(%(function)s('{config}'::regconfig, %(expressions)s, '[\"string\"]'::jsonb), '{weight}')"


def _both(*columns: str, weight: str):
    vectors = [SearchVector(*columns, config=config, weight=weight) for config in CONFIGS]
    return vectors[0] + vectors[1]


def project_document():
    """name and slug (A), description (B)."""
    return _both("name", "slug", weight="A") + _both("description", weight="B")


def decision_document():
    """title (A); question and context (B); rationale, options and tags (C)."""
    return (
        _both("title", weight="A")
        + _both("question", "context", weight="B")
        + _both("rationale", weight="C")
        + JsonStringsVector("options", config="english", weight="C")
        + JsonStringsVector("options", config="simple", weight="C")
        + JsonStringsVector("tags", config="simple", weight="C")
    )
