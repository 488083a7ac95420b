"""Throttles keyed on the request's one client address (core.request_context.client_ip: a
forwarded address is believed only from a proxy in TRUSTED_PROXIES), and one login budget shared by
the API, the login page and the admin login."""

from rest_framework import throttling
from rest_framework.throttling import SimpleRateThrottle


class ClientAddressMixin:
    """DRF's own `get_ident` trusts X-Forwarded-For from *any* peer once NUM_PROXIES is set:
    use the address the middleware decided instead, the one the audit rows and the logs carry."""

    def get_ident(self, request):
        return getattr(request, "client_ip", None) or "unknown"


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    pass


def _service_key(request):
    from .models import ServiceKey

    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ServiceKey) else None


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    """`THROTTLE_USER` per signed-in person; a service's calls count per key instead (below)."""

    def get_cache_key(self, request, view):
        if _service_key(request) is not None:
            return None
        return super().get_cache_key(request, view)


class ServiceKeyRateThrottle(SimpleRateThrottle):
    """`THROTTLE_SERVICE` (default 1200/min) per API key: one busy key does not starve the service's
    other keys, and a rotated-in key starts with its own budget."""

    scope = "service"

    def get_cache_key(self, request, view):
        key = _service_key(request)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.prefix}


class LoginThrottle(ClientAddressMixin, SimpleRateThrottle):
    """`THROTTLE_LOGIN` (default 10/min) per client address, on the shared cache: the same cache key for
    `POST /api/v1/auth/login/` (and refresh, register), `POST /login` and `POST /admin/login/`, so no
    surface is a way around another. The address is the request's one client address
    (core.request_context.client_ip, which believes a forwarded address only from a listed proxy).
    """

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class FailedAuthThrottle(ClientAddressMixin, SimpleRateThrottle):
    """`THROTTLE_AUTH_FAILED` (default 30/min) failed API authentications per client address: a bad,
    expired or revoked token, a wrong API key. Without it, keys and tokens could be tried at full speed.

    Only failures count, so a client whose credentials work is never held back by it; once an address
    has used up its budget, its credentials are refused with 429 (and Retry-After) before they are even
    decoded, whether they are right or not, until the oldest failure leaves the window. Used by the
    authenticators (accounts.authentication), not as a view throttle: DRF checks view throttles only
    after authentication, which is exactly the work to be saved.
    """

    scope = "auth_failed"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _failures(self, request) -> list[float]:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [at for at in self.cache.get(self.key, []) if at > self.now - self.duration]
        return self.history

    def refusal_wait(self, request) -> float | None:
        """Seconds until this address may try again, or None while it still has budget. Reads only."""
        if len(self._failures(request)) < self.num_requests:
            return None
        return self.wait()

    def note_failure(self, request) -> bool:
        """Count one failed authentication. True for the failure that used up the budget, once per
        address and window (concurrent failures included): the one attempt worth an audit row."""
        history = self._failures(request)
        history.insert(0, self.now)
        self.cache.set(self.key, history, self.duration)
        return len(history) >= self.num_requests and self.cache.add(f"{self.key}_noted", True, self.duration)


class InvitationThrottle(LoginThrottle):
    """`THROTTLE_INVITATION` (default: THROTTLE_LOGIN's rate) per client address: invitations sent (each
    one a mail) and tries at an invitation's page (each one a guess at a token, or a password set)."""

    scope = "invitation"
