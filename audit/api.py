"""Events: the audit trail, read-only, scoped to what the caller may see."""

from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.speedups.output import ValuesListMixin
from core.api.schema import errors
from core.api.support import visible_project_or_404
from core.api.support import FilterBackend

from .api_ledger import INCLUSION_PROOF_SCHEMA, inclusion_proof_response, visible_entry_id_or_404
from .filters import AuditEntryFilter
from .models import AuditEntry
from .pagination import AuditCursorPagination
from .serializers import AuditEntrySerializer, EventStatsSerializer


class PassthroughRenderer(renderers.BaseRenderer):
    """Lets `?format=csv|jsonl` pick the export; the view streams the body itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class CSVRenderer(PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class JSONLRenderer(PassthroughRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


def visible_events(request, queryset=None):
    """The caller's rows; a `project` filter naming a project they cannot see is a 404, not an empty list."""
    queryset = AuditEntry.objects.visible_to(request.user) if queryset is None else queryset
    if request.query_params.get("project"):
        visible_project_or_404(request.user, request.query_params["project"])
    return queryset


DAYS = OpenApiParameter("days", int, description="Window in days (1-366, default 7)")


def _days(request, default=7) -> int:
    raw = request.query_params.get("days", default)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"days": ["Must be an integer."]})
    if not 1 <= days <= 366:
        raise serializers.ValidationError({"days": ["Must be between 1 and 366."]})
    return days


@extend_schema_view(
    list=extend_schema(responses={200: AuditEntrySerializer(many=True), **errors(400, 404)}),
    retrieve=extend_schema(responses={200: AuditEntrySerializer, **errors(404)}),
)
class EventViewSet(ValuesListMixin, viewsets.ReadOnlyModelViewSet):
    """Audit rows. No write method exists: the trail is append-only."""

    compiled_default_pages = True  # its default list depends only on request.user (core.api.speedups.list_sql)
    serializer_class = AuditEntrySerializer
    pagination_class = AuditCursorPagination
    filterset_class = AuditEntryFilter
    # No OrderingFilter: the cursor owns the order (-id).
    filter_backends = [FilterBackend]
    queryset = AuditEntry.objects.none()

    def get_queryset(self):
        return visible_events(self.request)

    @extend_schema(parameters=[DAYS], responses={200: AuditEntrySerializer(many=True), **errors(400, 404)})
    @action(detail=False, url_path="failed-transitions")
    def failed_transitions(self, request):
        since = timezone.now() - timedelta(days=_days(request))
        queryset = self.filter_queryset(self.get_queryset()).filter(
            success=False, timestamp__gte=since
        ).exclude(transition="")
        page = self.paginate_queryset(queryset.values(*AuditEntrySerializer.values_lookups()))
        return self.get_paginated_response(AuditEntrySerializer.represent_values(page))

    @extend_schema(
        parameters=[DAYS, OpenApiParameter("project", OpenApiTypes.STR, description="A project's id or slug.")],
        responses={200: EventStatsSerializer, **errors(400, 404)},
    )
    @action(detail=False)
    def stats(self, request):
        days = _days(request)
        since = timezone.now() - timedelta(days=days)
        queryset = self.get_queryset().filter(timestamp__gte=since)
        if request.query_params.get("project"):
            queryset = queryset.filter(project_id=visible_project_or_404(request.user, request.query_params["project"]).pk)
        denied = Q(success=False)
        totals = queryset.aggregate(total=Count("id"), denied=Count("id", filter=denied))
        by_type = dict(queryset.order_by().values_list("event_type").annotate(n=Count("id")))
        by_day = (
            queryset.order_by().annotate(day=TruncDate("timestamp")).values("day")
            .annotate(total=Count("id"), denied=Count("id", filter=denied)).order_by("day")
        )
        return Response({
            "days": days,
            "since": since,
            "total": totals["total"],
            "success": totals["total"] - totals["denied"],
            "denied": totals["denied"],
            "by_event_type": by_type,
            "by_day": [
                {"date": row["day"].isoformat(), "total": row["total"], "success": row["total"] - row["denied"],
                 "denied": row["denied"]}
                for row in by_day
            ],
        })

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"], description="csv (default) or jsonl")],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR,
                   **errors(400, 404)},
    )
    @action(detail=False, renderer_classes=[CSVRenderer, JSONLRenderer, renderers.JSONRenderer])
    def export(self, request):
        """The whole filtered trail, streamed (constant memory), oldest first."""
        from .export import audit_rows_csv, audit_rows_jsonl

        queryset = self.filter_queryset(self.get_queryset()).order_by("id")
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "jsonl"):
            raise serializers.ValidationError({"format": ["Use csv or jsonl."]})
        stream = audit_rows_csv(queryset) if fmt == "csv" else audit_rows_jsonl(queryset)
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
        response = StreamingHttpResponse(stream, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"'
        return response

    @INCLUSION_PROOF_SCHEMA
    @action(detail=True, filterset_class=None, filter_backends=[])
    def proof(self, request, pk=None):
        """Leaf index, inclusion path, canonical bytes and the signed note they verify against."""
        return inclusion_proof_response(visible_entry_id_or_404(self.get_queryset(), pk), request)
