"""/api/v1/decisions/{id}/comments/, /api/v1/projects/{id}/comments/ and /api/v1/comments/{id}/:
parse → service → serialize."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import can_hide_comments
from core.api.schema import errors, page_of
from core.api.support import LimitOffsetPagination, parse_uuid, visible_project_or_404
from decisions.models import Decision

from .models import Comment
from .serializers import CommentSerializer, CommentUpdateSerializer, CommentWriteSerializer

COMMENT_PAGE = page_of(CommentSerializer, description="A page of comments, oldest first (?limit=, ?offset=).")
from .services import comment_create, comment_delete, comment_set_hidden, comment_update
from .throttles import CommentRateThrottle


def listed(comments):
    return comments.select_related("author").prefetch_related("mentions").order_by("created_at", "id")


def represent(request, comments, *, many=False):
    return CommentSerializer(comments, many=many, context={"shows_hidden": can_hide_comments(request.user)}).data


def visible_decision_or_404(user, decision_id) -> Decision:
    key = parse_uuid(decision_id)
    decision = Decision.objects.visible_to(user).select_related("project").filter(pk=key).first() if key else None
    if decision is None:
        raise Http404("No such decision.")
    return decision


class CommentsView(APIView):
    """The comments on one project or one decision, oldest first; its team writes them."""

    def get_throttles(self):
        extra = [CommentRateThrottle()] if self.request.method == "POST" else []
        return [*super().get_throttles(), *extra]

    def target(self, request, key):
        """(project, decision or None) from the URL; 404 for what the caller cannot see."""
        raise NotImplementedError

    def comments(self, project, decision):
        return Comment.objects.filter(project=project, decision=decision)

    def get(self, request, **kwargs):
        project, decision = self.target(request, *kwargs.values())
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(listed(self.comments(project, decision)), request, view=self)
        return paginator.get_paginated_response(represent(request, page, many=True))

    def post(self, request, **kwargs):
        project, decision = self.target(request, *kwargs.values())
        payload = CommentWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        comment = comment_create(actor=request.user, project=project, decision=decision, **payload.validated_data)
        return Response(represent(request, comment), status=status.HTTP_201_CREATED)


class DecisionCommentsView(CommentsView):
    def target(self, request, decision_id):
        decision = visible_decision_or_404(request.user, decision_id)
        return decision.project, decision

    @extend_schema(summary="List a decision's comments", tags=["comments"],
                   responses={200: COMMENT_PAGE, **errors(404)})
    def get(self, request, decision_id):
        return super().get(request, decision_id=decision_id)

    @extend_schema(summary="Comment on a decision", tags=["comments"], request=CommentWriteSerializer,
                   description="Markdown; `@handle` mentions someone on the project's team (`mentions`); "
                   "handles that reach nobody there are listed in `unresolved_mentions`. Viewers: 403.",
                   responses={201: CommentSerializer, **errors(400, 403, 404)})
    def post(self, request, decision_id):
        return super().post(request, decision_id=decision_id)


class ProjectCommentsView(CommentsView):
    def target(self, request, project_id):
        return visible_project_or_404(request.user, project_id), None

    @extend_schema(summary="List a project's comments (not those on its decisions)", tags=["comments"],
                   responses={200: COMMENT_PAGE, **errors(404)})
    def get(self, request, project_id):
        return super().get(request, project_id=project_id)

    @extend_schema(summary="Comment on a project", tags=["comments"], request=CommentWriteSerializer,
                   description="Markdown; `@handle` mentions someone on the project's team (`mentions`); "
                   "handles that reach nobody there are listed in `unresolved_mentions`. Viewers: 403.",
                   responses={201: CommentSerializer, **errors(400, 403, 404)})
    def post(self, request, project_id):
        return super().post(request, project_id=project_id)


class CommentViewSet(viewsets.GenericViewSet):
    serializer_class = CommentSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, no user
            return Comment.objects.none()
        return Comment.objects.visible_to(self.request.user).select_related("project", "decision", "author")

    def get_object(self):
        key = parse_uuid(self.kwargs["pk"])
        comment = self.get_queryset().filter(pk=key).first() if key else None
        if comment is None:
            raise Http404("No such comment.")
        return comment

    @extend_schema(summary="One comment", tags=["comments"], responses={200: CommentSerializer, **errors(404)})
    def retrieve(self, request, pk=None):
        return Response(represent(request, self.get_object()))

    @extend_schema(summary="Edit a comment (its author) or hide it (an operator)", tags=["comments"],
                   description="`body`: its author rewrites it (the audit trail keeps the text it replaced). "
                   "`hidden`: an operator hides it from everyone but operators, or shows it again.",
                   request=CommentUpdateSerializer, responses={200: CommentSerializer, **errors(400, 403, 404)})
    def partial_update(self, request, pk=None):
        comment = self.get_object()
        payload = CommentUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "hidden" in data:
            comment = comment_set_hidden(comment=comment, actor=request.user, hidden=data["hidden"])
        if "body" in data:
            comment = comment_update(comment=comment, actor=request.user, body=data["body"])
        return Response(represent(request, comment))

    @extend_schema(summary="Delete a comment (its author)", tags=["comments"],
                   description="The audit trail keeps its last text.", responses={204: None, **errors(403, 404)})
    def destroy(self, request, pk=None):
        comment_delete(comment=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
