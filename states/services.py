"""Every write to entity states: registration, and their transition action.

`entity_transition` runs `EntityTransition` through the one engine (`core.transitions.run`):
the state change and its transition_success row commit together; a refusal is recorded after the
rollback. Callers load the entity through `EntityState.objects.visible_to(actor)` first (hidden → 404).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from core.access import can_register_without_project, can_track_entity
from core.errors import ActionForbidden, Conflict, InvalidInput
from core.recording import (
    AuditEventType,
    audited_write,
    record_event,
    record_permission_denied,
    user_or_none,
)
from core.transitions import (
    TransitionAction,
    TransitionForbidden,
    TransitionNotAvailable,
    TransitionRefused,
    run,
)

from .models import (
    EntityState,
    validate_entity_id,
    validate_entity_type,
    validate_service,
    validate_state,
)
from .registry import MODEL_GOVERNED, StateMachine, get_definition

TRANSITION = "transition"


# --- Refusals (mapped by core.api.support.exception_handler) -----------------------------


class EntityTransitionForbidden(TransitionForbidden):
    """403: the caller can see the entity but may not move it (e.g. a viewer of its project)."""

    def __init__(self, entity: EntityState):
        TransitionRefused.__init__(
            self, entity, TRANSITION, "Only operators, the project owner and members can transition this entity."
        )


class EntityTransitionNotAvailable(TransitionNotAvailable):
    """409 with `allowed_transitions`: the target states reachable from the current one.

    `allowed_transitions` is None for an entity type without a state machine (any other state is allowed).
    """

    def __init__(self, entity: EntityState, to_state: str, allowed: list[str] | None):
        if allowed == []:
            message = f"{entity} is in the terminal state '{entity.current_state}'; it cannot change."
        elif allowed is None:
            message = f"{entity} is already '{to_state}'."
        else:
            message = (
                f"{entity} cannot go from '{entity.current_state}' to '{to_state}'; "
                f"allowed: {', '.join(allowed)}."
            )
        super().__init__(entity, TRANSITION, allowed, message)


class UnknownEntityState(TransitionNotAvailable):
    """400: `to_state` is not a state of the entity type's machine at all."""

    status = 400
    reason_code = "unknown_state"

    def __init__(self, entity: EntityState, to_state: str, definition: StateMachine):
        super().__init__(
            entity,
            TRANSITION,
            definition.allowed_targets(entity.current_state),
            f"'{to_state}' is not a state of {entity.entity_type} (states: {', '.join(definition.states)}).",
        )


class EntityAlreadyRegistered(Conflict):
    """409: (service, entity_type, entity_id) is tracked already."""


# --- Reads the surfaces share ---------------------------------------------------------------------


def allowed_next_states(entity: EntityState) -> list[str] | None:
    """Targets the entity's machine allows from its current state; None when its type has no machine."""
    definition = get_definition(entity.entity_type)
    return None if definition is None else definition.allowed_targets(entity.current_state)


def _key_extra(*, service: str, entity_type: str, entity_id: str) -> dict:
    return {"service": service, "tracked_entity_type": entity_type, "tracked_entity_id": entity_id}


def _entity_extra(entity: EntityState) -> dict:
    return _key_extra(service=entity.service, entity_type=entity.entity_type, entity_id=entity.entity_id)


def _checked(field: str, validator, value):
    try:
        validator(value)
    except ValidationError as error:
        raise InvalidInput(error.messages[0], field=field) from error
    return value


# --- Registration ---------------------------------------------------------------------------------


def _validate_registration(service: str, entity_type: str, entity_id: str, metadata) -> None:
    """400 (`InvalidInput`) for a malformed key, a model-governed type or metadata that is not an object."""
    _checked("service", validate_service, service)
    _checked("entity_type", validate_entity_type, entity_type)
    _checked("entity_id", validate_entity_id, entity_id)
    if entity_type in MODEL_GOVERNED:
        raise InvalidInput(
            f"{entity_type.capitalize()} states are governed by CommandCentral's own {entity_type}s; "
            f"use the {entity_type} endpoints, not entity-states.",
            field="entity_type",
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("Metadata must be a JSON object.", field="metadata")


def entity_register(
    *,
    actor,
    service: str,
    entity_type: str,
    entity_id: str,
    project=None,
    initial_state: str | None = None,
    metadata: dict | None = None,
) -> EntityState:
    """Start tracking an entity of another service; its state is `initial_state` or its machine's initial one.

    400 for an entity type governed by its own model, an unknown type without `initial_state`, or a
    state its machine does not have, or no `project` from anyone but an operator; 403 (recorded) for a
    viewer of `project`; 409 (recorded) when the key is tracked already *in that project*: keys are
    unique per project, so nobody can take or probe another project's keys. The caller resolves
    `project` through `Project.objects.visible_to(actor)`.
    """
    _validate_registration(service, entity_type, entity_id, metadata)
    if project is None and not can_register_without_project(actor):
        raise InvalidInput("Give the project this entity belongs to (one you may contribute to); only "
                           "operators register entities without a project.", field="project")
    initial_state = _initial_state(entity_type, initial_state)
    entity = EntityState(
        service=service,
        entity_type=entity_type,
        entity_id=entity_id,
        project=project,
        current_state=initial_state,
        metadata=metadata or {},
        registered_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if project is not None and not can_track_entity(entity, actor):
        message = "Only operators, the project owner and members can register entities in this project."
        # Recorded before any atomic block: inside one it would roll back with the refusal.
        record_permission_denied(
            actor=actor, obj=project, event_name=f"{entity_type}.register", reason=message,
            transition="register", to_state=initial_state, extra=_entity_extra(entity),
        )
        raise ActionForbidden(message)
    try:
        with audited_write(actor):
            entity.save()  # django-auditlog writes the entity_created row, with the correlation id
    except IntegrityError:
        # The unique constraint is the one arbiter, also between two concurrent registrations.
        existing = EntityState.objects.filter(
            project=project, service=service, entity_type=entity_type, entity_id=entity_id).first()
        if existing is None:
            raise
        _refuse_duplicate(existing, actor=actor, to_state=initial_state, project=project)
    return entity


def _initial_state(entity_type: str, requested: str | None) -> str:
    definition = get_definition(entity_type)
    if not requested:
        if definition is None:
            raise InvalidInput(
                f"'{entity_type}' has no registered state machine; give its initial_state.", field="initial_state"
            )
        return definition.initial_state
    _checked("initial_state", validate_state, requested)
    if definition is not None and requested not in definition.states:
        raise InvalidInput(
            f"'{requested}' is not a state of {entity_type} (states: {', '.join(definition.states)}).",
            field="initial_state",
        )
    return requested


def _refuse_duplicate(existing: EntityState, *, actor, to_state: str, project) -> None:
    message = f"{existing} is already registered."
    record_event(
        event_type=AuditEventType.TRANSITION_DENIED,
        event_name=f"{existing.entity_type}.register",
        actor=actor,
        obj=existing,
        success=False,
        transition="register",
        from_state=existing.current_state,
        to_state=to_state,
        failure_reason=message,
        extra={
            "reason": "duplicate",
            "requested_project": str(project.pk) if project is not None else None,
            **_entity_extra(existing),
        },
    )
    raise EntityAlreadyRegistered(message)


# --- The transition -------------------------------------------------------------------------------


def _ensure_target_allowed(entity: EntityState, to_state: str) -> None:
    """400 unknown state, 409 not reachable from the current state."""
    definition = get_definition(entity.entity_type)
    if definition is None:
        # No machine for this type (registered with an explicit initial state): any other state goes.
        if to_state == entity.current_state:
            raise EntityTransitionNotAvailable(entity, to_state, None)
        return
    if to_state not in definition.states:
        raise UnknownEntityState(entity, to_state, definition)
    allowed = definition.allowed_targets(entity.current_state)
    if to_state not in allowed:
        raise EntityTransitionNotAvailable(entity, to_state, allowed)


class EntityTransition(TransitionAction):
    """Move a tracked entity to `to_state` under its type's machine (or freely, for a type without one)."""

    name = TRANSITION

    def __init__(self, entity: EntityState, to_state: str, *, actor, rationale: str = ""):
        super().__init__(entity, actor=actor, rationale=rationale, extra=_entity_extra(entity))
        self.target = to_state
        self.metric_model = "entity_state"
        # Types without a machine are free-form names from other services: one label, not one per name.
        self.metric_name = entity.entity_type if get_definition(entity.entity_type) is not None else "untyped"

    @property
    def event_name(self) -> str:
        return f"{self.obj.entity_type}.{TRANSITION}"

    def precheck(self) -> None:
        if not can_track_entity(self.obj, self.actor):
            raise EntityTransitionForbidden(self.obj)

    def lock(self) -> EntityState:
        """On PostgreSQL the loser of a race waits, then sees the winner's state (→ 409)."""
        return EntityState.objects.select_for_update().get(pk=self.obj.pk)

    def state_of(self, entity) -> str:
        return entity.current_state

    def check(self, current) -> None:
        _ensure_target_allowed(current, self.target)

    def apply(self, current) -> None:
        current.last_transition_from = current.current_state
        current.current_state = self.target
        current.last_transition_at = timezone.now()
        current.last_transition_by = user_or_none(self.actor)

    def to_state(self, current=None) -> str:
        return self.target

    def refusal_extra(self, refused) -> dict:
        return {"reason": refused.reason_code, **_entity_extra(self.obj)}

    def after_refusal(self) -> None:
        self.obj.refresh_from_db()


def entity_transition(entity: EntityState, to_state: str, *, actor, rationale: str = ""):
    """Move `entity` to `to_state` as `actor`; returns the transition_success audit row.

    Refusals, each recorded: 403 (permission_denied row) · 400 unknown state · 409 not allowed from
    the current state (transition_denied rows). `entity` is refreshed either way.
    """
    return run(EntityTransition(entity, to_state, actor=actor, rationale=rationale))
