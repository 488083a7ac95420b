"""A transition's UPDATE is SQL built once per model and columns (core.transitions._save_changed);
`TRANSITION_FAST_SAVE = False` takes django-fsm-2's `save(update_fields=...)`. The two must leave the
same row, the same audit row and the same refusal of a stale state, on SQLite and on PostgreSQL."""

import copy
from datetime import datetime, timezone

import pytest
from django.db import connection, transaction
from django_fsm import ConcurrentTransition
from rest_framework.test import APIClient

from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies
from core.transitions import _save_changed, perform_transition
from projects.models import Project, ProjectState
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

FIXED = datetime(2026, 12, 7, 9, 15, 30, 654321, tzinfo=timezone.utc)


def _stored(project) -> dict:
    """Every column of the project's row as the database holds it."""
    columns = [field.column for field in Project._meta.concrete_fields]
    table = connection.ops.quote_name(Project._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in columns)} FROM {table} WHERE id = %s",
                       [Project._meta.pk.get_db_prep_value(project.pk, connection)])
        return dict(zip(columns, cursor.fetchone()))


@pytest.mark.parametrize("name, start", [("activate", ProjectState.PROPOSED), ("pause", ProjectState.ACTIVE),
                                         ("complete", ProjectState.ACTIVE)])
def test_both_saves_leave_the_same_row_and_audit_row(settings, monkeypatch, owner, name, start):
    monkeypatch.setattr("django.utils.timezone.now", lambda: FIXED)
    results = {}
    for fast in (True, False):
        settings.TRANSITION_FAST_SAVE = fast
        project = ProjectFactory(owner=owner, state=start, name="Same", description="x", metadata={"k": [1]})
        entry = perform_transition(project, name, actor=owner, rationale="why")
        row = _stored(project)
        results[fast] = (
            {column: value for column, value in row.items() if column not in ("id", "slug")},
            {key: value for key, value in AuditEntry.objects.filter(pk=entry.pk).values().get().items()
             if key not in ("id", "timestamp", "object_pk", "object_repr", "entity_id", "project_id")},
        )
        project.refresh_from_db()
        assert project.state != start and row["state"] == project.state
    assert results[True] == results[False]
    assert results[True][0]["updated_at"] is not None


@pytest.mark.parametrize("fast", [True, False])
def test_a_state_changed_behind_the_lock_is_a_concurrent_transition_either_way(settings, owner, fast):
    settings.TRANSITION_FAST_SAVE = fast
    project = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    before = copy.copy(project)
    Project.objects.filter(pk=project.pk).update(state=ProjectState.PAUSED)  # someone else, unlocked
    project.__dict__["state"] = ProjectState.PAUSED  # what pause() sets (the FSM field refuses plain assignment)
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        _save_changed(before, project, ["state", "updated_at"])
    assert Project.objects.get(pk=project.pk).state == ProjectState.PAUSED


@pytest.mark.parametrize("fast", [True, False])
def test_a_pause_over_the_api_answers_and_records_the_same_either_way(settings, owner, fast):
    settings.TRANSITION_FAST_SAVE = fast
    project = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    client = APIClient()
    client.force_authenticate(owner)
    before = AuditEntry.objects.count()
    response = client.post(f"/api/v1/projects/{project.pk}/pause/", {"rationale": "budget"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["project"]["state"] == "paused" and body["success"] is True
    assert "resume" in {t["name"] for t in body["project"]["allowed_transitions"]}
    project.refresh_from_db()
    assert project.state == ProjectState.PAUSED and project.state_changed_by_id == owner.pk
    assert AuditEntry.objects.count() == before + 1
    row = AuditEntry.objects.get(pk=body["audit_id"])
    assert (row.event_type, row.event_name, row.from_state, row.to_state, row.rationale, row.changes["state"]) == (
        "transition_success", "project.pause", "active", "paused", "budget", ["active", "paused"])
    # A second pause is refused by the state machine, not by the save, and changes nothing.
    again = client.post(f"/api/v1/projects/{project.pk}/pause/", {"rationale": "again"}, format="json")
    assert again.status_code == 409
    assert Project.objects.get(pk=project.pk).state == ProjectState.PAUSED
    assert AuditEntry.objects.filter(event_type="transition_denied", event_name="project.pause").count() == 1
    assert_trail_verifies()


@pytest.mark.parametrize("fast", [True, False])
def test_the_saved_copy_can_be_saved_again_in_the_same_transaction(settings, owner, fast):
    """django-fsm-2 compares a later save against the state it remembers: the transition's save must
    leave it at the new state (a success hook may save the object again)."""
    settings.TRANSITION_FAST_SAVE = fast
    project = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    before = copy.copy(project)
    with transaction.atomic():
        project.pause()
        _save_changed(before, project, ["state", "updated_at"])
        project.description = "saved again"
        project.save(update_fields=["description"])  # ConcurrentTransition if it still expected "active"
    stored = Project.objects.get(pk=project.pk)
    assert (stored.state, stored.description) == (ProjectState.PAUSED, "saved again")
