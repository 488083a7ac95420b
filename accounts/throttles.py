"""One login budget per client address, shared by the API, the login page and the admin login."""

from rest_framework.throttling import SimpleRateThrottle


class LoginThrottle(SimpleRateThrottle):
    """`THROTTLE_LOGIN` (default 10/min) per client address, on the shared cache: the same cache key for
    `POST /api/v1/auth/login/` (and refresh, register), `POST /login` and `POST /admin/login/`, so no
    surface is a way around another. The address is the request's one client address
    (commandcentral.request_context.client_ip, which believes a forwarded address only from a listed proxy).
    """

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": getattr(request, "client_ip", None) or "unknown"}
