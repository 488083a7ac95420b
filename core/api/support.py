"""What every API view shares: pagination and the one exception handler."""

import logging
import re
import uuid

from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework import exceptions, pagination, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.access import visible_project, visible_projects
from core.errors import ActionForbidden, Conflict, InvalidInput, error_body
from core.transitions import RequirementsMissing, TransitionNotAvailable, TransitionRefused

logger = logging.getLogger("commandcentral.api")


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, minus its cost when the request names none of the FilterSet's parameters.

    DjangoFilterBackend builds a form class and a bound form on every request, detail and write actions
    included (DRF's get_object filters too): a tenth of a GET /projects/{id}/ (bench/README.md). With none
    of the FilterSet's parameters in the query string and no required filter, every filter would see an
    empty value and leave the queryset as it is, so the queryset is returned as it is.
    """

    _parameters: dict = {}

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        if getattr(view, "action", None) == "list":
            check_query_parameters(request, view, self._parameter_names(filterset_class) or frozenset())
        names = self._parameter_names(filterset_class)
        if names is not None and names.isdisjoint(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)

    @classmethod
    def _parameter_names(cls, filterset_class) -> frozenset | None:
        """Every query parameter the FilterSet's form reads, or None when the shortcut would not be exact."""
        if filterset_class not in cls._parameters:
            form = filterset_class(data=None, queryset=filterset_class._meta.model._default_manager.none()).form
            names = set()
            for name, field in form.fields.items():
                widget = field.widget
                # Range and lookup filters read name_<suffix> parameters through a MultiWidget
                # (django-filter's SuffixedMultiWidget names them itself).
                if hasattr(widget, "suffixed"):
                    names.update(widget.suffixed(name, suffix) for suffix in widget.suffixes)
                elif isinstance(widget, forms.MultiWidget):
                    names.update(name + suffix for suffix in widget.widgets_names)
                else:
                    names.add(name)
            exact = form.prefix is None and not any(field.required for field in form.fields.values())
            cls._parameters[filterset_class] = frozenset(names) if exact else None
        return cls._parameters[filterset_class]


# Parameter names clients of the reference service send, and ours for the same thing.
QUERY_ALIASES = {"project_id": "project", "actor_id": "actor", "type": "event_type"}


def check_query_parameters(request, view, filters: frozenset) -> None:
    """A list's query string may hold only its filters, ordering, paging and `format`: anything else is
    a 400 naming it, not silently ignored (a mistyped filter would return the whole audit trail). The
    reference service's names (QUERY_ALIASES) are accepted for ours and rewritten in place."""
    accepted = set(filters) | {"format"} | set(getattr(view, "extra_query_params", ()))
    for backend in view.filter_backends:
        accepted.add(getattr(backend, "ordering_param", None))
    paginator = getattr(view, "paginator", None)
    for name in ("limit_query_param", "offset_query_param", "cursor_query_param", "page_query_param",
                 "page_size_query_param"):
        accepted.add(getattr(paginator, name, None))
    accepted.discard(None)
    given = set(request.query_params)
    aliased = {alias: target for alias, target in QUERY_ALIASES.items()
               if alias in given and target in accepted and target not in given}
    unknown = sorted(given - accepted - set(aliased))
    if unknown:
        raise ValidationError({
            "detail": f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
            "accepted": sorted(accepted),
        })
    if aliased:
        # Rewritten on the Django request (DRF's `request._request`, as the auth views use it) so that the
        # FilterSet, the visibility check and the paginator's links all read the canonical names.
        query = request._request.GET.copy()
        for alias, target in aliased.items():
            query.setlist(target, query.pop(alias))
        request._request.GET = query


def parse_uuid(value) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (a path or query parameter from a client)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def visible_project_or_404(user, project_id):
    """The project `project_id` (its id, or the slug of a live project) names if `user` may see it;
    otherwise 404, never a hint it exists. For the API and the pages alike: any client-supplied value.
    """
    key = parse_uuid(project_id)
    if key is None and project_id:
        key = _visible_project_key_by_slug(user, str(project_id)[:220])
    try:
        return visible_project(user, key)
    except ObjectDoesNotExist:
        raise Http404("No such project.")


def _visible_project_key_by_slug(user, slug: str):
    """Looked up among the projects `user` may see: a hidden project's slug then costs one query, as a
    free slug does. Found among all live projects, it would go on to be read by key and refused, and the
    time of the 404 would tell an outsider which slugs are taken."""
    return visible_projects(user).filter(slug=slug).values_list("pk", flat=True).first()


def page_parameter(request, name: str, *, default: int, minimum: int, cap: int | None = None) -> int:
    """A whole-number paging parameter (`limit`, `offset`): `default` when absent, a 400 naming it when it
    is not a whole number of at least `minimum` (DRF would quietly use its default: `?limit=abc` would
    read as no limit asked for, while an unknown parameter is refused), and at most `cap` (larger asks
    get the largest page, as documented)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise ValidationError({name: [f"Must be a whole number of at least {minimum}."]})
    return min(int(raw), cap) if cap else int(raw)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 100

    def get_limit(self, request):
        return page_parameter(request, self.limit_query_param, default=self.default_limit, minimum=1, cap=self.max_limit)

    def get_offset(self, request):
        return page_parameter(request, self.offset_query_param, default=0, minimum=0)


def exception_handler(exc, context):
    """Every error the API raises, answered in the one error shape (core.errors.error_body): our domain
    errors, Django's, and DRF's own (whose bodies come in several shapes) alike.

    It is a JSON body also where the operation answers a file (record.md, the ledger's text, an export)
    or no renderer was chosen (?format=nonsense, for which DRF would take the view's first renderer). The
    browsable API keeps its HTML page for a browser."""
    response = _error_response(exc, context)
    request = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if response is not None and request is not None and getattr(renderer, "media_type", None) not in _ERROR_MEDIA_TYPES:
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response


_ERROR_MEDIA_TYPES = {"application/json", "text/html"}


def _error_response(exc, context):
    if isinstance(exc, TransitionRefused):
        extra = {}
        if isinstance(exc, TransitionNotAvailable):
            extra.update(current_state=exc.current_state, allowed_transitions=exc.allowed_transitions)
        if isinstance(exc, RequirementsMissing):
            extra.update(missing=exc.missing)
        return Response(error_body(exc.status, exc.message, code=exc.code, **extra), status=exc.status)
    if isinstance(exc, (ActionForbidden, Conflict)):
        return Response(error_body(exc.status, exc.message, code=exc.code), status=exc.status)
    if isinstance(exc, InvalidInput):
        errors = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(400, exc.message, code=exc.code, errors=errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response(error_body(400, " ".join(exc.messages)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        # SQLite waited its whole busy timeout: ask the client to retry rather than answer 500.
        logger.warning("database busy", exc_info=exc)
        return Response(error_body(503, "The database is busy; retry shortly.", code="database_busy"), status=503,
                        headers={"Retry-After": "2"})
    if isinstance(exc, exceptions.PermissionDenied) and not getattr(exc, "recorded", False):
        _record_forbidden(exc, context)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = drf_error_body(exc, response.status_code)
    return response


class RetryLater(exceptions.APIException):
    """Not there yet, and soon will be (a first checkpoint, a proof): `status_code` with Retry-After (DRF's
    handler sends `wait` as that header)."""

    def __init__(self, detail: str, *, status_code: int, code: str, retry_after: int):
        super().__init__(detail, code)
        self.status_code = status_code
        self.wait = retry_after


# Django's get_object_or_404 says "No <Model> matches the given query.": a model name is not the API's to tell.
_MODEL_NOT_FOUND = re.compile(r"^No \w+ matches the given query\.$")


def drf_error_body(exc, status_code: int) -> dict:
    """One of DRF's errors (or simplejwt's) in the one error shape."""
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(detail)
    if isinstance(detail, dict):
        if "detail" not in detail:  # field messages with another status (a NotFound naming its field)
            return _fields_body(status_code, detail)
        # simplejwt's {"detail", "code", "messages"}: the messages repeat what detail says, token by token
        return error_body(status_code, str(detail["detail"]), code=str(detail.get("code") or "") or None)
    if isinstance(detail, list):
        detail = " ".join(str(item) for item in detail)
    code = getattr(detail, "code", None) or getattr(exc, "default_code", None)
    if (isinstance(exc, (exceptions.NotFound, Http404)) and _MODEL_NOT_FOUND.match(str(detail))) or not str(detail).strip():
        detail = getattr(exc, "default_detail", None) or exceptions.APIException.default_detail
    return error_body(status_code, str(detail), code=code if code not in (None, "error") else None)


def _plain(value):
    """DRF's ErrorDetail strings (and lists and dicts of them) as plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value)


def _validation_body(detail) -> dict:
    """A ValidationError: its field messages under `errors`, a sentence naming the first in `detail`. A
    `detail` key of its own (a refused query string) is the sentence, its other keys what it adds."""
    if isinstance(detail, list):
        return error_body(400, " ".join(str(item) for item in _flat(detail)))
    if "detail" in detail:
        extra = {key: _plain(value) for key, value in detail.items() if key != "detail"}
        return error_body(400, " ".join(_flat(detail["detail"])), **extra)
    return _fields_body(400, detail)


def _fields_body(status_code: int, detail: dict) -> dict:
    errors = {key: _plain(value) if isinstance(value, (list, dict)) else [str(value)] for key, value in detail.items()}
    general = errors.pop("non_field_errors", None)
    if general or not errors:
        sentence = " ".join(_flat(general or []))
    else:
        field, messages = next(iter(errors.items()))
        sentence = f"{field}: {next(iter(_flat(messages)), 'invalid')}"
    return error_body(status_code, sentence, errors=errors or None)


def _flat(value) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in _flat(item)]
    if isinstance(value, list):
        return [text for item in value for text in _flat(item)]
    return [str(value)]


def _record_forbidden(exc, context) -> None:
    """Any other 403 (a DRF permission class said no) is still an audited permission_denied."""
    from core.recording import AuditEventType, record_event

    request = context.get("request")
    view = context.get("view")
    record_event(
        event_type=AuditEventType.PERMISSION_DENIED,
        event_name=f"api.{getattr(view, 'basename', None) or type(view).__name__}.{getattr(view, 'action', None) or request.method.lower()}",
        actor=getattr(request, "user", None),
        success=False,
        failure_reason=str(exc.detail),
        extra={"path": request.path[:500], "method": request.method},
    )
