"""Site-wide error handlers: JSON under /api/, our own templates everywhere else. Never a traceback."""

import sys

from django.db import DatabaseError
from django.http import JsonResponse
from django.views import defaults

from core.errors import error_body

from .database_outage import database_unavailable_response, database_unreachable


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(400, "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    # A refusal a service made (ActionForbidden) is recorded already; any other 403 is recorded here.
    if not getattr(exception, "audit_row", None):
        from core.recording import AuditEventType, record_event

        try:
            record_event(event_type=AuditEventType.PERMISSION_DENIED, event_name=f"page.{request.method.lower()}",
                         actor=getattr(request, "user", None), success=False,
                         failure_reason=str(exception or "Permission denied.")[:2000],
                         extra={"path": request.path[:500], "method": request.method})
        except DatabaseError:  # the 403 is still answered; the outage has its own log lines
            pass
    if _is_api(request):
        return JsonResponse(error_body(403, "You do not have permission to perform this action."), status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(404, "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Django calls this inside its `except`. A database error that a middleware raised outside any view
    # ends up here, e.g. from django_structlog reading the session's user. It answers 503 too.
    error = sys.exc_info()[1]
    if error is not None and database_unreachable(error):
        return database_unavailable_response(request)
    if _is_api(request):
        return JsonResponse(error_body(500, "Internal server error."), status=500)
    return defaults.server_error(request)
