"""/api/v1/notifications/ (yours), …/read/, …/preferences/ and /api/v1/projects/{id}/watch/:
parse → service → serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.generics import GenericAPIView
from rest_framework.views import APIView

from core.api.schema import errors
from core.api.support import LimitOffsetPagination, check_query_parameters, visible_project_or_404

from . import selectors, services
from .serializers import (
    MarkReadResultSerializer,
    MarkReadSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    WatchSerializer,
)

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _unread_param(request, view) -> bool:
    """?unread=true|false; any other query parameter but paging is a 400 naming it (the API's one rule)."""
    check_query_parameters(request, view, frozenset({"unread"}))
    value = request.query_params.get("unread", "").strip().lower()
    if value in ("", *FALSE):
        return False
    if value in TRUE:
        return True
    raise ValidationError({"unread": ["Must be true or false."]})


class NotificationListView(GenericAPIView):
    serializer_class = NotificationSerializer
    pagination_class = LimitOffsetPagination
    filter_backends: list = []

    @extend_schema(summary="List your notifications", tags=["notifications"],
                   description="Newest first; only your own. `unread=true`: only those not read yet.",
                   parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread ones.")],
                   responses={200: NotificationSerializer(many=True), **errors(400)})
    def get(self, request):
        unread = _unread_param(request, self)
        page = self.paginate_queryset(selectors.for_user(request.user, unread=unread))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)


class MarkReadView(APIView):
    @extend_schema(summary="Mark your notifications read", tags=["notifications"],
                   description="`ids`: those of yours to mark read; leave it out to mark all. Ids that are not "
                   "yours are left alone. Not audited: it is your own reading state.",
                   request=MarkReadSerializer, responses={200: MarkReadResultSerializer, **errors(400)})
    def post(self, request):
        payload = MarkReadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        marked = services.mark_read(user=request.user, ids=payload.validated_data.get("ids"))
        return Response({"marked": marked, "unread": selectors.unread_count(request.user)})


class PreferencesView(APIView):
    @extend_schema(summary="Your notification mail preference", tags=["notifications"],
                   responses={200: PreferencesSerializer})
    def get(self, request):
        return Response({"email": request.user.notifications})

    @extend_schema(summary="Change your notification mail preference", tags=["notifications"],
                   description="Audited as user.updated, like the same choice on the account page.",
                   request=PreferencesSerializer, responses={200: PreferencesSerializer, **errors(400)})
    def patch(self, request):
        payload = PreferencesSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = services.set_email_preference(user=request.user, email=payload.validated_data["email"])
        return Response({"email": user.notifications})


class WatchView(APIView):
    """Follow a project you can see (id or slug; any other is a 404): its transitions and decided
    decisions become your notifications. Watch and unwatch are idempotent and audited."""

    def _answer(self, project, watching: bool):
        return Response({"project": str(project.pk), "watching": watching})

    @extend_schema(summary="Whether you watch a project", tags=["notifications"],
                   responses={200: WatchSerializer, **errors(404)})
    def get(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        return self._answer(project, services.is_watching(project, request.user))

    @extend_schema(summary="Watch a project", tags=["notifications"], request=None,
                   description="Its transitions and decided decisions reach you. Idempotent; audited as watch.created.",
                   responses={200: WatchSerializer, **errors(404)})
    def post(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        services.watch(project=project, actor=request.user)
        return self._answer(project, True)

    @extend_schema(summary="Stop watching a project", tags=["notifications"], request=None,
                   description="Idempotent; audited as watch.deleted.", responses={200: WatchSerializer, **errors(404)})
    def delete(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        services.unwatch(project=project, actor=request.user)
        return self._answer(project, False)
