"""Registration and transition rules at the service level (the API tests cover the HTTP shapes)."""

import pytest

from audit.models import AuditEntry, AuditEventType
from core.errors import ActionForbidden, InvalidInput
from states.models import EntityState
from states.services import (
    EntityAlreadyRegistered,
    EntityTransitionForbidden,
    EntityTransitionNotAvailable,
    UnknownEntityState,
    entity_register,
    entity_transition,
)
from states.tests.factories import EntityStateFactory


def _register(actor, **fields):
    return entity_register(actor=actor, **{"service": "task-runner", "entity_type": "task", "entity_id": "T-1",
                                          **fields})


def test_member_registers_a_task_in_its_initial_state_with_an_entity_created_row(project, member):
    entity = _register(member, project=project, metadata={"title": "Write docs"})

    assert (entity.current_state, entity.registered_by, entity.project) == ("backlog", member, project)
    created = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_id=str(entity.pk))
    assert (created.entity_type, created.actor, created.project_id) == ("entity_state", member, project.pk)


def test_registering_with_an_explicit_state_of_the_machine_keeps_it(project, owner):
    assert _register(owner, project=project, initial_state="review").current_state == "review"


def test_a_state_the_machine_does_not_have_is_refused(project, owner):
    with pytest.raises(InvalidInput) as refused:
        _register(owner, project=project, initial_state="shipped")
    assert refused.value.field == "initial_state"
    assert "backlog" in refused.value.message
    assert not EntityState.objects.exists()


def test_unknown_type_needs_an_initial_state(project, member):
    with pytest.raises(InvalidInput) as refused:
        _register(member, project=project, entity_type="canvas")
    assert refused.value.field == "initial_state"


@pytest.mark.parametrize("entity_type", ["project", "decision"])
def test_model_governed_types_are_not_registrable(entity_type, project, operator):
    with pytest.raises(InvalidInput) as refused:
        _register(operator, project=project, entity_type=entity_type)
    assert refused.value.field == "entity_type"


def test_unknown_type_moves_freely_but_not_to_its_own_state(project, member):
    canvas = _register(member, project=project, entity_type="canvas", initial_state="sketch")

    entity_transition(canvas, "published", actor=member)
    assert canvas.current_state == "published"
    with pytest.raises(EntityTransitionNotAvailable) as refused:
        entity_transition(canvas, "published", actor=member)
    assert refused.value.allowed_transitions is None


def test_duplicate_registration_is_refused_and_recorded(project, member):
    first = _register(member, project=project)

    with pytest.raises(EntityAlreadyRegistered):
        _register(member, project=project, initial_state="review")

    assert EntityState.objects.count() == 1
    denied = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert (denied.event_name, denied.entity_id, denied.actor, denied.extra["reason"]) == (
        "task.register", str(first.pk), member, "duplicate")


def test_viewer_cannot_register_and_the_refusal_is_recorded(project, viewer):
    with pytest.raises(ActionForbidden):
        _register(viewer, project=project)

    assert not EntityState.objects.exists()
    denied = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.event_name, denied.project_id, denied.actor, denied.success) == (
        "task.register", project.pk, viewer, False)


def test_only_operators_register_an_entity_without_a_project(outsider, operator):
    with pytest.raises(InvalidInput) as refused:
        _register(outsider)
    assert refused.value.field == "project"
    assert not EntityState.objects.exists()
    entity = _register(operator)
    assert (entity.project, entity.registered_by) == (None, operator)


def test_viewer_cannot_transition_and_leaves_one_permission_denied_row(task, viewer):
    with pytest.raises(EntityTransitionForbidden) as refused:
        entity_transition(task, "in_progress", actor=viewer)

    assert refused.value.status == 403
    task.refresh_from_db()
    assert task.current_state == "backlog"
    rows = AuditEntry.objects.filter(entity_id=str(task.pk)).exclude(event_type=AuditEventType.ENTITY_CREATED)
    assert [(row.event_type, row.event_name, row.from_state, row.to_state) for row in rows] == [
        (AuditEventType.PERMISSION_DENIED, "task.transition", "backlog", "in_progress")]


def test_unknown_target_state_is_a_recorded_400(task, member):
    with pytest.raises(UnknownEntityState) as refused:
        entity_transition(task, "shipped", actor=member)

    assert refused.value.status == 400
    assert refused.value.allowed_transitions == ["in_progress", "blocked"]
    denied = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED, entity_id=str(task.pk))
    assert denied.extra["reason"] == "unknown_state"


@pytest.mark.parametrize("role", ["operator", "owner", "member"])
def test_contributors_may_transition(role, roles, task):
    entity_transition(task, "blocked", actor=roles[role])
    assert task.current_state == "blocked"


def test_project_less_entity_is_moved_only_by_its_registrant_or_an_operator(member, outsider, operator):
    entity = EntityStateFactory(project=None, registered_by=member)

    with pytest.raises(EntityTransitionForbidden):
        entity_transition(entity, "in_progress", actor=outsider)
    entity_transition(entity, "in_progress", actor=member)
    entity_transition(entity, "review", actor=operator)
    assert entity.current_state == "review"


def test_transition_success_row_carries_the_diff_and_no_auditlog_update_row(task, member):
    entry = entity_transition(task, "in_progress", actor=member)

    assert entry.changes["current_state"] == ["backlog", "in_progress"]
    assert entry.extra == {"service": "task-runner", "tracked_entity_type": "task",
                           "tracked_entity_id": task.entity_id}
    assert not AuditEntry.objects.filter(event_type=AuditEventType.ENTITY_UPDATED, entity_id=str(task.pk)).exists()


def test_attempts_are_counted_for_prometheus(task, member, viewer):
    from core.transitions import TRANSITIONS

    def count(outcome):
        return TRANSITIONS.labels(model="entity_state", name="task", outcome=outcome)._value.get()

    before = count("success"), count("permission")
    entity_transition(task, "blocked", actor=member)
    with pytest.raises(EntityTransitionForbidden):
        entity_transition(task, "backlog", actor=viewer)
    assert (count("success"), count("permission")) == (before[0] + 1, before[1] + 1)
