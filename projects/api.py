"""Projects, their transitions, team and audit over the REST API."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.pagination import AuditTrailAction
from audit.models import AuditEntry
from core.api.governed import GovernedObjectActions, TransitionRequestSerializer
from core.api.speedups.output import ValuesListMixin
from core.api.support import parse_uuid, visible_project_or_404
from core.api.schema import TRANSITION_ERRORS, errors

from .filters import ProjectFilter
from .models import Membership, Project
from .serializers import (
    MembershipCreateSerializer,
    MembershipSerializer,
    ProjectSerializer,
    ProjectBodySerializer,
    ProjectTransitionResultSerializer,
    ProjectWriteSerializer,
)
from .services import (
    membership_add_person,
    membership_remove,
    project_create,
    project_soft_delete,
    project_update,
)

TRANSITION_SCHEMA = extend_schema(
    request=TransitionRequestSerializer, responses={200: ProjectTransitionResultSerializer, **TRANSITION_ERRORS}
)


@extend_schema_view(
    list=extend_schema(responses={200: ProjectSerializer(many=True), **errors(400)}),
    create=extend_schema(request=ProjectWriteSerializer, responses={201: ProjectBodySerializer, **errors(400)}),
    retrieve=extend_schema(responses={200: ProjectBodySerializer, **errors(404)}),
    update=extend_schema(request=ProjectWriteSerializer, responses={200: ProjectBodySerializer, **errors(400, 403, 404, 409)}),
    partial_update=extend_schema(
        request=ProjectWriteSerializer, responses={200: ProjectBodySerializer, **errors(400, 403, 404, 409)}
    ),
    destroy=extend_schema(responses={204: None, **errors(403, 404, 409)}),
)
class ProjectViewSet(GovernedObjectActions, AuditTrailAction, ValuesListMixin, viewsets.ModelViewSet):
    """Projects you can see (operators: all; others: those they own or are on the team of)."""

    compiled_default_pages = True  # its default list depends only on request.user (core.api.speedups.list_sql)
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ["name", "created_at", "updated_at", "state"]
    ordering = ["-created_at"]
    queryset = Project.objects.none()

    def get_queryset(self):
        return Project.objects.visible_to(self.request.user).select_related("owner").order_by("-created_at")

    def get_object(self):
        project = visible_project_or_404(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, project)
        return project

    def create(self, request):
        payload = ProjectWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        project = project_create(actor=request.user, **payload.validated_data)
        return Response(self.body(project, ProjectSerializer(project).data), status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        project = self.get_object()
        payload = ProjectWriteSerializer(project, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        project = project_update(project=project, actor=request.user, **payload.validated_data)
        return Response(self.body(project, ProjectSerializer(project).data))

    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk=None):
        project_soft_delete(project=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def transition_result(self, project, name, entry, params):
        return {"success": True, "message": f"Project {entry.from_state} → {entry.to_state}.",
                "project": self.body(project, ProjectSerializer(project).data), "audit_id": entry.pk}

    def audit_rows(self, project):
        return AuditEntry.objects.filter(project=project)

    # One operation per transition, so the OpenAPI document names each; all share _transition.
    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return self._transition(request, "activate")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._transition(request, "pause")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(request, "resume")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._transition(request, "complete")

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"])
    def kill(self, request, pk=None):
        return self._transition(request, "kill")

    @extend_schema(methods=["GET"], responses={200: MembershipSerializer(many=True), **errors(404)})
    @extend_schema(methods=["POST"], request=MembershipCreateSerializer,
                   responses={201: MembershipSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["get", "post"], filterset_class=None, pagination_class=None)
    def team(self, request, pk=None):
        project = self.get_object()
        if request.method == "GET":
            memberships = Membership.objects.filter(project=project).select_related("user")
            return Response(MembershipSerializer(memberships, many=True).data)
        payload = MembershipCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = membership_add_person(project=project, actor=request.user, **payload.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **errors(400, 403, 404)},
                   parameters=[OpenApiParameter("user_id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
    @action(detail=True, methods=["delete"], url_path=r"team/(?P<user_id>[^/.]+)", filterset_class=None)
    def team_member(self, request, pk=None, user_id=None):
        project = self.get_object()
        user_pk = parse_uuid(user_id)
        if user_pk is None:
            raise Http404("No such user.")
        membership = get_object_or_404(Membership.objects.select_related("user"), project=project, user_id=user_pk)
        membership_remove(project=project, actor=request.user, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
