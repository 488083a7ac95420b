"""What PostgreSQL's full-text search reads of a project and of a decision: one weighted tsvector each,
stored in the row's `search_document` column.

A trigger computes that column from the row on every insert and on every update of a searched text
(the expression is in search/migrations/0001_search_indexes.py; the column, its trigger and its GIN
index in 0002_stored_documents.py, which says why not a generated column). The models do not declare
it: Django never writes it, only the search queries read it.

Each text is indexed twice: stemmed ('english': "decisions" finds "decision") and as written
('simple': the palette's prefix of the word being typed, "decisi" → "decisions", which a stemmed
lexeme cannot match because "decisions" is stored as "decis"). A decision's options and tags are JSON:
only their string values are indexed (jsonb_to_tsvector), not the keys ("label", "pros") every
decision has. Title/name weighs A; question, context and description B; rationale, options, tags C.

Stored rather than computed in each query: computing a decision's document costs ~0.1–1 ms, so a
query that tested or ranked rows one by one paid that per row (docs/search.md).
"""

from django.contrib.postgres.search import SearchVectorCombinable, SearchVectorField
from django.db.models import Expression

COLUMN = "search_document"


class Document(SearchVectorCombinable, Expression):
    """The stored document of the table of the query it is used in (qualified by the query's alias)."""

    output_field = SearchVectorField()
    config = None  # what SearchRank and the @@ lookup ask a vector for

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(compiler.query.base_table)}.{connection.ops.quote_name(COLUMN)}", []


def project_document() -> Document:
    return Document()


def decision_document() -> Document:
    return Document()
