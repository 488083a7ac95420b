import pytest

from audit.models import AuditEntry, AuditEventType
from core.transitions import (
    TransitionForbidden,
    TransitionNotAvailable,
    allowed_transitions,
    perform_transition,
)
from projects.models import MembershipRole, Project, ProjectState
from projects.tests.factories import MembershipFactory, ProjectFactory

ALLOWED = [
    ("activate", ProjectState.PROPOSED, ProjectState.ACTIVE),
    ("pause", ProjectState.ACTIVE, ProjectState.PAUSED),
    ("resume", ProjectState.PAUSED, ProjectState.ACTIVE),
    ("complete", ProjectState.ACTIVE, ProjectState.COMPLETED),
    ("kill", ProjectState.PROPOSED, ProjectState.KILLED),
    ("kill", ProjectState.ACTIVE, ProjectState.KILLED),
    ("kill", ProjectState.PAUSED, ProjectState.KILLED),
]
ALL_NAMES = ["activate", "pause", "resume", "complete", "kill"]


@pytest.mark.parametrize("name,source,target", ALLOWED)
def test_owner_runs_every_declared_transition_and_it_is_audited(db, owner, name, source, target):
    project = ProjectFactory(owner=owner, state=source)
    entry = perform_transition(project, name, actor=owner, rationale=f"why {name}")

    project.refresh_from_db()
    assert project.state == target
    assert project.state_changed_by == owner
    assert project.state_changed_at is not None
    assert entry.event_type == AuditEventType.TRANSITION_SUCCESS
    assert entry.event_name == f"project.{name}"
    assert (entry.from_state, entry.to_state) == (source, target)
    assert entry.actor == owner
    assert entry.actor_type == "user"
    assert entry.rationale == f"why {name}"
    assert entry.project_id == project.pk
    assert entry.changes["state"] == [source, target]
    # One row per transition: auditlog's own update row is suppressed.
    assert AuditEntry.objects.filter(project=project, event_type=AuditEventType.ENTITY_UPDATED).count() == 0


DENIED = [
    (name, source)
    for name in ALL_NAMES
    for source in ProjectState.values
    if (name, source) not in {(n, s) for n, s, _ in ALLOWED}
]


@pytest.mark.parametrize("name,source", DENIED)
def test_transition_from_a_wrong_state_is_refused_with_409_and_recorded(db, owner, name, source):
    project = ProjectFactory(owner=owner, state=source)
    with pytest.raises(TransitionNotAvailable) as refused:
        perform_transition(project, name, actor=owner, rationale="try")

    assert refused.value.status == 409
    assert refused.value.current_state == source
    assert refused.value.allowed_transitions == allowed_transitions(project, owner)
    project.refresh_from_db()
    assert project.state == source
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert (row.event_name, row.success, row.actor, row.from_state) == (f"project.{name}", False, owner, source)
    assert "Cannot" in row.failure_reason and row.extra["reason"] == "state"
    assert row.rationale == "try"


@pytest.mark.parametrize(
    "role,allowed",
    [("operator", True), ("owner", True), ("member", False), ("viewer", False), ("outsider", False)],
)
def test_project_transition_permission_matrix(project, roles, role, allowed):
    user = roles[role]
    if allowed:
        perform_transition(project, "activate", actor=user)
        project.refresh_from_db()
        assert project.state == ProjectState.ACTIVE
        assert AuditEntry.objects.filter(event_type="transition_success", actor=user).count() == 1
    else:
        with pytest.raises(TransitionForbidden):
            perform_transition(project, "activate", actor=user)
        project.refresh_from_db()
        assert project.state == ProjectState.PROPOSED
        # A permission refusal is exactly one permission_denied row, no transition_denied row.
        rows = AuditEntry.objects.filter(actor=user, success=False)
        assert [r.event_type for r in rows] == [AuditEventType.PERMISSION_DENIED]
        assert rows[0].transition == "activate" and rows[0].to_state == "active"
        assert not AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_DENIED).exists()


def test_permission_is_checked_before_state(project, viewer):
    """Precedence 403 before 409: a viewer asking for an impossible transition learns nothing about state."""
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "resume", actor=viewer)


def test_allowed_transitions_follow_state_and_permission(project, owner, member, operator):
    assert allowed_transitions(project, owner) == ["activate", "kill"]
    assert allowed_transitions(project, operator) == ["activate", "kill"]
    assert allowed_transitions(project, member) == []


def test_inactive_owner_cannot_transition(db):
    project = ProjectFactory()
    project.owner.is_active = False
    project.owner.save()
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "activate", actor=project.owner)


def test_refused_row_survives_a_rolled_back_outer_transaction(project, owner):
    """The denied row is written after perform_transition's own atomic block has rolled back."""
    perform_transition(project, "kill", actor=owner)
    with pytest.raises(TransitionNotAvailable):
        perform_transition(project, "activate", actor=owner)
    assert AuditEntry.objects.filter(event_type="transition_denied", event_name="project.activate").exists()
    assert Project.objects.get(pk=project.pk).state == ProjectState.KILLED


def test_stale_instance_gets_a_conflict_not_a_lost_update(project, owner):
    stale = Project.objects.get(pk=project.pk)
    perform_transition(project, "activate", actor=owner)
    # The stale copy still says proposed; the locked re-read sees active and refuses.
    with pytest.raises(TransitionNotAvailable) as refused:
        perform_transition(stale, "activate", actor=owner)
    assert refused.value.current_state == ProjectState.ACTIVE
    assert AuditEntry.objects.filter(event_type="transition_success").count() == 1


def test_member_role_change_is_audited_with_project(project, owner, member):
    from projects.services import membership_add

    membership_add(project=project, actor=owner, user=member, role=MembershipRole.VIEWER)
    row = AuditEntry.objects.filter(event_name="membership.updated").get()
    assert row.project_id == project.pk
    assert row.actor == owner
    assert row.changes["role"] == ["member", "viewer"]


def test_factory_memberships_give_roles(db):
    membership = MembershipFactory(role=MembershipRole.MEMBER, project__state=ProjectState.ACTIVE)
    with pytest.raises(TransitionForbidden):
        perform_transition(membership.project, "pause", actor=membership.user)
    membership.project.refresh_from_db()
    assert membership.project.state == ProjectState.ACTIVE
    assert AuditEntry.objects.filter(event_name="project.pause", success=False, actor=membership.user).exists()


def test_a_transition_updates_only_the_columns_it_changed(project, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        perform_transition(project, "activate", actor=owner, rationale="go")
    updates = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"state" =' in updates[0] and '"state_changed_by_id" =' in updates[0] and '"updated_at" =' in updates[0]
    assert '"name" =' not in updates[0] and '"settings" =' not in updates[0]
    project.refresh_from_db()
    assert project.state == "active" and project.state_changed_by == owner and project.state_changed_at is not None
