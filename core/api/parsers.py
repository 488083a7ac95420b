"""The API's JSON parser: DRF's, with the input a request body may not carry refused as a 400.

- Nesting deeper than MAX_DEPTH: Python's decoder raises RecursionError at ~1,000 levels (a 500), and
  anything close to that would recurse again in serializers, the audit row and the jsonb column.
- Lone surrogates (`"\\ud800"`): valid JSON escapes, but not Unicode text; PostgreSQL refuses them.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No field of the API nests anywhere near this (settings/metadata are shallow JSON objects).
MAX_DEPTH = 64


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        problem = _problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}.")
        return data


def _problem(data) -> str | None:
    """Why this parsed body is refused, or None; iterative, so it cannot recurse itself."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _is_text(key):
                    return "a key holds a lone surrogate (not Unicode text)"
                stack.append((item, depth + 1))
        elif isinstance(value, str) and not _is_text(value):
            return "a string holds a lone surrogate (not Unicode text)"
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
