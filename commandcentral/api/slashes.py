"""API paths without their trailing slash work for every method.

Django's APPEND_SLASH answers a GET with a redirect and cannot keep a POST's body (it raises in DEBUG
and redirects to a GET elsewhere), so `POST /api/v1/projects` lost its payload. Under /api/ a path
that does not resolve but resolves with a slash appended is served as that path, for every method,
without a redirect. Pages keep Django's redirect: a browser follows it.

It also keeps an unknown API path a JSON 404 under DEBUG: there Django answers a path that resolves to
nothing with its HTML debug page instead of calling handler404, and an API client would get HTML.
"""

from django.conf import settings
from django.urls import Resolver404, resolve

from commandcentral.error_views import page_not_found


class APITrailingSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.debug = settings.DEBUG

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/") and not path.endswith("/"):
            try:
                resolve(path)
            except Resolver404:
                try:
                    resolve(path + "/")
                except Resolver404:
                    pass
                else:
                    request.path_info = path + "/"
                    request.path = request.path + "/"
        response = self.get_response(request)
        if (self.debug and response.status_code == 404 and path.startswith("/api/")
                and getattr(response, "accepted_renderer", None) is None  # not an answer of the API's own views
                and response.get("Content-Type", "").startswith("text/html")):
            return page_not_found(request)
        return response
