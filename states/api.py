"""/api/v1/state-machines/ and /api/v1/entity-states/: parse → service or queryset → serialize."""

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from core.api.schema import ERRORS, ErrorSerializer
from core.api.support import visible_project_or_404

from .filters import EntityStateFilter
from .models import ENTITY_ID_PATTERN, ENTITY_TYPE_PATTERN, SERVICE_PATTERN, EntityState
from .permission_matrix import permission_matrix
from .registry import all_definitions, get_definition
from .serializers import (
    FIELD_ERRORS,
    EntityStateRegisterSerializer,
    EntityStateSerializer,
    EntityTransitionRefusedSerializer,
    EntityTransitionSerializer,
    EntityTransitionResultSerializer,
    PermissionMatrixSerializer,
    StateMachineSerializer,
)
from .services import allowed_next_states, entity_register, entity_transition

UNAUTHENTICATED = ERRORS[401]
NOT_FOUND = ERRORS[404]
THROTTLED = ERRORS[429]
BAD_FILTER = OpenApiResponse(FIELD_ERRORS, description='A filter value is malformed: {"field": ["..."]}.')

KEY_PATH = rf"(?P<service>{SERVICE_PATTERN})/(?P<entity_type>{ENTITY_TYPE_PATTERN})/(?P<entity_id>{ENTITY_ID_PATTERN})"
KEY_PARAMETERS = [
    OpenApiParameter("service", str, OpenApiParameter.PATH, pattern=f"^{SERVICE_PATTERN}$",
                     description="The service that owns the entity."),
    OpenApiParameter("entity_type", str, OpenApiParameter.PATH, pattern=f"^{ENTITY_TYPE_PATTERN}$",
                     description="e.g. task, hypothesis, evidence."),
    OpenApiParameter("entity_id", str, OpenApiParameter.PATH, pattern=f"^{ENTITY_ID_PATTERN}$",
                     description="The entity's id in its own service."),
    OpenApiParameter("project", str, OpenApiParameter.QUERY, required=False,
                     description="Id or slug of the entity's project. Keys are unique per project: needed only "
                     "when several projects you can see track the same key (400 otherwise)."),
]


@extend_schema_view(
    list=extend_schema(
        summary="List state machine definitions",
        description="project and decision are derived at run time from CommandCentral's own FSMs; task, "
        "hypothesis and evidence are declared once in code.",
        responses={200: StateMachineSerializer(many=True), 401: UNAUTHENTICATED, 429: THROTTLED},
    ),
    retrieve=extend_schema(
        summary="One state machine definition",
        parameters=[OpenApiParameter("entity_type", str, OpenApiParameter.PATH, pattern=f"^{ENTITY_TYPE_PATTERN}$",
                                    description="e.g. task, project.")],
        responses={200: StateMachineSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND, 429: THROTTLED},
    ),
)
class StateMachineViewSet(viewsets.GenericViewSet):
    serializer_class = StateMachineSerializer
    filter_backends: list = []
    lookup_field = "entity_type"
    lookup_value_regex = ENTITY_TYPE_PATTERN

    def list(self, request):
        page = self.paginate_queryset([definition.as_dict() for definition in all_definitions()])
        return self.get_paginated_response(page)

    def retrieve(self, request, entity_type=None):
        definition = get_definition(entity_type)
        if definition is None:
            raise NotFound(f"No state machine for '{entity_type}'.")
        return Response(definition.as_dict())

    @extend_schema(
        summary="The permission matrix of who may do what",
        description="Generated on each call by evaluating the same predicates the services and the FSM "
        "`permission=` callables use, for each role; nothing in it is written by hand.",
        responses={200: PermissionMatrixSerializer, 401: UNAUTHENTICATED, 429: THROTTLED},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def permissions(self, request):
        return Response(permission_matrix())


def _visible_project_by_id_or_slug(user, value: str):
    try:
        return visible_project_or_404(user, value)
    except Http404:
        raise NotFound("Project not found.") from None


AMBIGUOUS_KEY = OpenApiResponse(FIELD_ERRORS, description='{"project": ["..."]}: several projects you can see '
                                "track this key; give ?project=.")


@extend_schema_view(
    list=extend_schema(
        summary="List tracked entities you can see",
        responses={200: EntityStateSerializer(many=True), 400: BAD_FILTER, 401: UNAUTHENTICATED, 429: THROTTLED},
    ),
)
class EntityStateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Entities of other services under CommandCentral's state machines; visibility follows their project."""

    serializer_class = EntityStateSerializer
    filterset_class = EntityStateFilter
    ordering_fields = ["created_at", "updated_at", "last_transition_at", "entity_id"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return EntityState.objects.visible_to(self.request.user)

    def _entity(self, service, entity_type, entity_id) -> EntityState:
        """The entity with this key you can see; `?project=` (id or slug) picks one when projects share a key."""
        matches = self.get_queryset().filter(service=service, entity_type=entity_type, entity_id=entity_id)
        project = self.request.query_params.get("project")
        if project:
            matches = matches.filter(project=_visible_project_by_id_or_slug(self.request.user, project))
        found = list(matches[:2])
        if not found:
            raise NotFound("No such tracked entity.")
        if len(found) > 1:
            raise ValidationError({"project": ["Several projects you can see track this key; give ?project=<id or slug>."]})
        return found[0]

    @extend_schema(
        summary="Register an entity",
        description="Starts tracking an entity of another service. Its state is `initial_state`, or the "
        "initial state of its type's machine. project and decision are not registrable here (400): "
        "their states belong to CommandCentral's own objects. The registration is audited (entity_created).",
        request=EntityStateRegisterSerializer,
        responses={
            201: EntityStateSerializer,
            400: OpenApiResponse(FIELD_ERRORS, description='Invalid input: {"field": ["..."]} — e.g. an unknown '
                                 "entity type without initial_state, or a state its machine does not have."),
            401: UNAUTHENTICATED,
            429: THROTTLED,
            403: OpenApiResponse(ErrorSerializer, description="A viewer of the project (recorded)."),
            404: OpenApiResponse(FIELD_ERRORS, description='{"project": ["Project not found."]}: no such project, '
                                 "or you may not see it."),
            409: OpenApiResponse(ErrorSerializer, description="This service/entity_type/entity_id is "
                                 "already registered (recorded)."),
        },
    )
    def create(self, request):
        payload = EntityStateRegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        project_id = data.pop("project", None)
        project = None
        if project_id is not None:
            try:
                project = visible_project_or_404(request.user, project_id)
            except Http404:
                raise NotFound({"project": ["Project not found."]}) from None
        entity = entity_register(actor=request.user, project=project, **data)
        location = reverse("api:entity-state-detail", kwargs=self._key(entity))
        return Response(self.get_serializer(entity).data, status=status.HTTP_201_CREATED,
                        headers={"Location": location})

    @staticmethod
    def _key(entity: EntityState) -> dict:
        return {"service": entity.service, "entity_type": entity.entity_type, "entity_id": entity.entity_id}

    @extend_schema(
        summary="One tracked entity",
        parameters=KEY_PARAMETERS,
        responses={200: EntityStateSerializer, 400: AMBIGUOUS_KEY, 401: UNAUTHENTICATED, 404: NOT_FOUND,
                   429: THROTTLED},
    )
    @action(detail=False, methods=["get"], url_path=KEY_PATH, url_name="detail", filter_backends=[],
            pagination_class=None)
    def retrieve_by_key(self, request, service=None, entity_type=None, entity_id=None):
        return Response(self.get_serializer(self._entity(service, entity_type, entity_id)).data)

    @extend_schema(
        summary="Transition a tracked entity",
        description="Moves the entity to `to_state` if its machine allows it from the current state. Every "
        "attempt is audited: transition_success, transition_denied (400/409) or permission_denied (403). "
        "Two concurrent transitions of one entity are serialized: the second sees the first's result.",
        parameters=KEY_PARAMETERS,
        request=EntityTransitionSerializer,
        responses={
            200: EntityTransitionResultSerializer,
            400: OpenApiResponse(FIELD_ERRORS, description='Invalid input {"to_state": ["..."]}, a to_state '
                                 "the machine does not have: {detail, current_state, allowed_transitions}, or "
                                 '{"project": ["..."]} when several projects you can see track this key.'),
            401: UNAUTHENTICATED,
            429: THROTTLED,
            403: OpenApiResponse(ErrorSerializer, description="You can see the entity but may not "
                                 "transition it (a viewer of its project)."),
            404: NOT_FOUND,
            409: OpenApiResponse(EntityTransitionRefusedSerializer, description="Not allowed from the current "
                                 "state; allowed_transitions names the targets that are."),
        },
    )
    @action(detail=False, methods=["post"], url_path=rf"{KEY_PATH}/transition", url_name="transition",
            filter_backends=[], pagination_class=None)
    def transition(self, request, service=None, entity_type=None, entity_id=None):
        entity = self._entity(service, entity_type, entity_id)
        payload = EntityTransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        from_state = entity.current_state
        entry = entity_transition(entity, actor=request.user, **payload.validated_data)
        return Response({
            "success": True,
            "message": f"{entity} moved from {entry.from_state or from_state} to {entity.current_state}.",
            "entity_state": self.get_serializer(entity).data,
            "allowed_next_states": allowed_next_states(entity),
            "audit_id": entry.pk,
        })
