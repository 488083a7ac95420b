"""A NUL character in the path or the query string is a 4xx before any view, on the API and the pages.

No id, slug, key or text the site stores or looks up can hold one: PostgreSQL's text types cannot,
and psycopg refuses to send one (a DataError, so a 500), while SQLite would look it up and find
nothing. Every lookup by a client's value (a project by id or slug in a path or in `?project=`, an
entity by its key, a filter's text) would need its own guard; the request is refused here instead,
once, before any URL is resolved:

- a path holding one names nothing: the site's own 404 (commandcentral.error_views), as for any path
  that does not exist, so it tells nothing about what does;
- a query parameter holding one is a 400 naming it, in the shape of a filter's own error:
  `{"search": ["Null characters are not allowed."]}` under /api/, the 400 page saying so elsewhere.

Request bodies need no guard here: DRF's and Django's form fields refuse NUL characters themselves.
"""

from django.core.validators import ProhibitNullCharactersValidator
from django.http import Http404, JsonResponse
from django.shortcuts import render

from core.errors import error_body

NUL = "\x00"
MESSAGE = str(ProhibitNullCharactersValidator.message)  # Django's own words for the same refusal


def _refuse_query_parameter(request, name: str):
    if NUL in name:
        detail = "A query parameter's name holds a null character."
        if request.path.startswith("/api/"):
            return JsonResponse(error_body(400, detail), status=400)
        return render(request, "400.html", {"reason": detail}, status=400)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(400, f"{name}: {MESSAGE}", errors={name: [MESSAGE]}), status=400)
    return render(request, "400.html", {"reason": f"The query parameter '{name}' holds a null character."},
                  status=400)


class NullCharacterMiddleware:
    """404 for a NUL in the path, 400 naming the query parameter that holds one; nothing else is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info:
            raise Http404("No such page.")  # answered by handler404, like any unknown path
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                return _refuse_query_parameter(request, name)
        return self.get_response(request)
