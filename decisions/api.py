"""Decisions, their transitions, audit and Markdown record over the REST API."""

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit.pagination import AuditTrailAction
from audit.models import AuditEntry
from core.api.governed import GovernedObjectActions, TransitionRequestSerializer
from core.api.support import parse_uuid, visible_project_or_404
from core.api.schema import TRANSITION_ERRORS, errors

from .decision_record import decision_record_markdown
from .filters import DecisionFilter
from .models import Decision
from .serializers import (
    DecideRequestSerializer,
    DecisionBodySerializer,
    ReviewPageSerializer,
    ReviewRequestSerializer,
    ReviewSerializer,
    DecisionSerializer,
    DecisionTransitionResultSerializer,
    DecisionUpdateSerializer,
    DecisionWriteSerializer,
)
from .services import decision_create, decision_soft_delete, decision_update, review_create, reviewers_not_on_team


class MarkdownRenderer(renderers.BaseRenderer):
    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def _resolve_links(user, data: dict) -> dict:
    """UUIDs in the body → decisions the caller can see; unknown ones are a 400 naming the field."""
    visible = Decision.objects.visible_to(user)
    if "related_decisions" in data:
        ids = list(dict.fromkeys(data["related_decisions"]))
        found = list(visible.filter(pk__in=ids))
        if len(found) != len(ids):
            raise ValidationError({"related_decisions": ["Unknown decision id(s)."]})
        data["related_decisions"] = found
    if data.get("supersedes") is not None:
        superseded = visible.filter(pk=data["supersedes"]).first()
        if superseded is None:
            raise ValidationError({"supersedes": ["Unknown decision id."]})
        data["supersedes"] = superseded
    if "reviewers" in data:
        ids = list(dict.fromkeys(data["reviewers"]))
        found = list(get_user_model().objects.filter(pk__in=ids))
        if len(found) != len(ids):
            # The same answer as for a person outside the team: it does not tell which ids are users.
            unknown = set(ids) - {user.pk for user in found}
            raise ValidationError({"reviewers": [reviewers_not_on_team(unknown)]})
        data["reviewers"] = found
    return data


@extend_schema_view(
    list=extend_schema(responses={200: DecisionSerializer(many=True), **errors(400, 404)}),
    create=extend_schema(request=DecisionWriteSerializer, responses={201: DecisionBodySerializer, **errors(400, 403, 404, 409)}),
    retrieve=extend_schema(responses={200: DecisionBodySerializer, **errors(404)}),
    update=extend_schema(request=DecisionUpdateSerializer, responses={200: DecisionBodySerializer, **errors(400, 403, 404, 409)}),
    partial_update=extend_schema(
        request=DecisionUpdateSerializer, responses={200: DecisionBodySerializer, **errors(400, 403, 404, 409)}
    ),
    destroy=extend_schema(responses={204: None, **errors(403, 404, 409)}),
)
class DecisionViewSet(GovernedObjectActions, AuditTrailAction, viewsets.ModelViewSet):
    """Decisions of the projects you can see: a question, its options, and what was decided and why."""

    serializer_class = DecisionSerializer
    filterset_class = DecisionFilter
    ordering_fields = ["created_at", "updated_at", "title", "review_by", "state"]
    queryset = Decision.objects.none()

    def get_queryset(self):
        return (
            Decision.objects.visible_to(self.request.user)
            .select_related("project")
            .prefetch_related("related_decisions", "superseded_by", "reviewers")
            .order_by("-created_at")
        )

    def list(self, request, *args, **kwargs):
        project_id = request.query_params.get("project")
        if project_id and parse_uuid(project_id):  # a malformed id is the filter's 400
            visible_project_or_404(request.user, project_id)  # a project the caller cannot see is a 404
        return super().list(request, *args, **kwargs)

    def create(self, request):
        payload = DecisionWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        project = visible_project_or_404(request.user, data.pop("project"))
        decision = decision_create(actor=request.user, project=project, **_resolve_links(request.user, data))
        return Response(self.body(decision, DecisionSerializer(decision).data), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        decision = self.get_object()
        payload = DecisionUpdateSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = _resolve_links(request.user, dict(payload.validated_data))
        decision = self.get_queryset().get(pk=decision_update(decision=decision, actor=request.user, **data).pk)
        return Response(self.body(decision, DecisionSerializer(decision).data))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        decision_soft_delete(decision=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def transition_result(self, decision, name, entry, params):
        fresh = self.get_queryset().get(pk=decision.pk)
        warnings = []
        if name == "decide" and not params.get("rationale", "").strip():
            warnings.append("Decided without a rationale; recording why is strongly recommended.")
        return {
            "success": True,
            "message": f"Decision {entry.from_state} → {entry.to_state}." + (f" {warnings[0]}" if warnings else ""),
            "decision": self.body(fresh, DecisionSerializer(fresh).data),
            "audit_id": entry.pk,
            "warnings": warnings,
        }

    def audit_rows(self, decision):
        return AuditEntry.objects.filter(entity_type="decision", entity_id=str(decision.pk))

    @extend_schema(request=TransitionRequestSerializer, responses={200: DecisionTransitionResultSerializer, **TRANSITION_ERRORS})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return self._transition(request, "activate")

    @extend_schema(request=DecideRequestSerializer, responses={200: DecisionTransitionResultSerializer, **TRANSITION_ERRORS})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        return self._transition(request, "decide", DecideRequestSerializer)

    @extend_schema(request=TransitionRequestSerializer, responses={200: DecisionTransitionResultSerializer, **TRANSITION_ERRORS})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._transition(request, "archive")

    @extend_schema(
        methods=["GET"], summary="A decision's reviews, newest first",
        description="Every verdict given, newest first; a reviewer's latest one counts.",
        responses={200: ReviewPageSerializer, **errors(404)},
    )
    @extend_schema(
        methods=["POST"], summary="Review a decision (its reviewers, while it is active)",
        description="Appends a verdict (approve, object or abstain), with an optional preferred option and "
        "comment; a reviewer's latest verdict counts, and decide needs `required_approvals` approvals and no "
        "standing objection. Audited as `decision.reviewed`. Not a reviewer: 403; not active: 409 (both recorded).",
        request=ReviewRequestSerializer, responses={201: ReviewSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, ordering_fields=None)
    def reviews(self, request, pk=None):
        decision = self.get_object()
        if request.method == "GET":
            reviews = decision.reviews.order_by("-created_at", "-pk")
            page = self.paginate_queryset(reviews)
            return self.get_paginated_response(ReviewSerializer(page, many=True).data)
        payload = ReviewRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        review = review_create(decision=decision, actor=request.user, **payload.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR, **errors(404)})
    def record(self, request, pk=None):
        """Routed only as decisions/{id}/record.md (commandcentral/api/urls.py), without a trailing slash."""
        decision = self.get_object()
        body = decision_record_markdown(decision, base_url=request.build_absolute_uri("/")[:-1])
        return HttpResponse(body, content_type="text/markdown; charset=utf-8")
