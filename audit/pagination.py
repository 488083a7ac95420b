"""Cursor pages of audit rows: the events API, and the nested audit endpoints other apps' APIs serve
(projects/{id}/audit/, decisions/{id}/audit/) without importing this app's API module."""

from drf_spectacular.utils import extend_schema
from rest_framework import pagination
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError

from core.api.schema import errors
from core.api.support import page_parameter

from .serializers import AuditEntryCursorPageSerializer, AuditEntrySerializer


class AuditCursorPagination(pagination.CursorPagination):
    """Newest first on the integer id: deep pages stay as fast as the first."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100

    def get_page_size(self, request):
        return page_parameter(request, self.page_size_query_param, default=self.page_size, minimum=1,
                              cap=self.max_page_size)

    def decode_cursor(self, request):
        """DRF's cursor, whose position must be an id here. A cursor that does not decode, or whose
        position is not an integer (`p=abc`, which reached the query as a ValueError: a 500), is a 400
        naming the parameter."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            try:
                int(cursor.position)
            except (TypeError, ValueError):
                raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        return cursor


def paginated_events(request, queryset):
    """A cursor page of audit rows for a nested endpoint (projects/{id}/audit/, decisions/{id}/audit/).

    No view is handed to the paginator, so the parent viewset's ordering cannot override `-id`.
    """
    paginator = AuditCursorPagination()
    page = paginator.paginate_queryset(queryset.values(*AuditEntrySerializer.values_lookups()), request)
    return paginator.get_paginated_response(AuditEntrySerializer.represent_values(page))


class AuditTrailAction:
    """The `audit` action of a governed object's viewset (projects/{id}/audit/, decisions/{id}/audit/):
    a cursor page of the rows its `audit_rows(obj)` selects."""

    def audit_rows(self, obj):
        raise NotImplementedError

    # No docstring on the action: drf-spectacular would take it as the operation's description.
    @extend_schema(responses={200: AuditEntryCursorPageSerializer, **errors(404)})
    @action(detail=True, methods=["get"], filterset_class=None)
    def audit(self, request, pk=None):
        return paginated_events(request, self.audit_rows(self.get_object()))
