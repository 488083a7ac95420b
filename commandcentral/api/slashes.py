"""API paths without their trailing slash work for every method.

Django's APPEND_SLASH answers a GET with a redirect and cannot keep a POST's body (it raises in DEBUG
and redirects to a GET elsewhere), so `POST /api/v1/projects` lost its payload. Under /api/ a path
that does not resolve but resolves with a slash appended is served as that path, for every method,
without a redirect. Pages keep Django's redirect: a browser follows it.
"""

from django.urls import Resolver404, resolve


class APITrailingSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

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
        return self.get_response(request)
