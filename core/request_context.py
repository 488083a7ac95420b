"""Per-request context: the correlation id, the client address, and the auditlog actor.

One source each: `client_ip()` decides the caller's address for the audit trail, throttles and logs;
the correlation id is validated (or generated) once and echoed on every response.
"""

import ipaddress
import re
import uuid
from contextvars import ContextVar

import structlog
from django.conf import settings
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject

from core.errors import error_body
from core.recording import audit_context

CORRELATION_HEADER = "X-Correlation-ID"
_VALID_CID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_correlation_id: ContextVar[str | None] = ContextVar("commandcentral_correlation_id", default=None)


def get_correlation_id() -> str | None:
    """The correlation id of the current request or command (AUDITLOG_CID_GETTER)."""
    return _correlation_id.get()


def set_correlation_id(value: str | None = None) -> str:
    """Use `value` when it is a well-formed id, otherwise a fresh UUID4; returns the id in force."""
    cid = value if value and _VALID_CID.match(value) else str(uuid.uuid4())
    _correlation_id.set(cid)
    structlog.contextvars.bind_contextvars(correlation_id=cid)
    return cid


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _is_trusted(address: str | None) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    for proxy in settings.TRUSTED_PROXIES:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request) -> str | None:
    """REMOTE_ADDR, unless it is a trusted proxy: then the right-most X-Forwarded-For hop we don't trust.

    Invalid values are dropped (None) so they can never reach an inet column.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    if not _is_trusted(remote):
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _valid_ip(hop)
        if address is None:
            return None
        if not _is_trusted(address):
            return address
    return remote


def _refuse_oversized(request):
    """413 before any view: DRF's parsers read the stream directly and never hit Django's body limit."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse(error_body(400, "Invalid Content-Length."), status=400)
    if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return JsonResponse(
            error_body(413, f"Request body too large (limit {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."), status=413
        )
    return None


class RequestContextMiddleware:
    """Sets the correlation id and client address first thing, and echoes the id on every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        structlog.contextvars.clear_contextvars()
        request.correlation_id = set_correlation_id(request.headers.get(CORRELATION_HEADER))
        request.client_ip = client_ip(request)
        structlog.contextvars.bind_contextvars(client_ip=request.client_ip)
        response = _refuse_oversized(request) or self.get_response(request)
        response[CORRELATION_HEADER] = request.correlation_id
        return response


class AuditContextMiddleware:
    """Replaces auditlog's middleware: one audit context per request (core.recording.audit_context).

    Not auditlog's context: its `pre_save` receiver fills remote_addr and the actor after the row was
    hashed, so every row of a request failed its own hash. Ours is read before sealing.
    The actor is lazy: `request.user` is read when a row is written, after DRF authenticated a JWT
    (auditlog's middleware reads it before, logging API changes with no actor: auditlog #711).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        actor = SimpleLazyObject(lambda: getattr(request, "user", None))
        with audit_context(actor=actor, remote_addr=getattr(request, "client_ip", None)):
            return self.get_response(request)
