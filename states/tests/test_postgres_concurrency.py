"""Two concurrent transitions of one tracked entity: exactly one wins, the other gets 409, both are audited.

SQLite serializes writers with its IMMEDIATE write lock, so only PostgreSQL, where locks taken by
our code decide (the audit chain lock audited_write takes first, then the entity's row lock), says
something about the code.
"""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from audit.models import AuditEntry, AuditEventType
from states import services
from states.models import EntityState
from states.services import entity_transition
from states.tests.factories import EntityStateFactory
from core.transitions import TransitionRefused
from projects.tests.factories import ProjectFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"),
]

# (state before, the two targets raced). From review, done and in_progress exclude each other.
RACES = [("backlog", ("in_progress", "in_progress")), ("review", ("done", "in_progress"))]


@pytest.fixture(autouse=True)
def both_read_before_either_writes(monkeypatch):
    """Hold the window between the locked read and the write open until the other thread has read too.

    Without any lock both threads would read the same state here and both would "win"; with one, the
    second is blocked before this read, so the first gives up waiting and commits, and the second then
    reads the new state. This makes the race certain instead of left to thread scheduling.
    """
    both_read = threading.Barrier(2)
    locked_read = services.EntityTransition.lock

    def racing_lock(action):
        current = locked_read(action)
        try:
            both_read.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass  # the other thread is waiting for our row lock (or already gave up on this barrier)
        return current

    monkeypatch.setattr(services.EntityTransition, "lock", racing_lock)


def _race(work, arguments):
    barrier = threading.Barrier(len(arguments))
    outcomes = []

    def run(argument):
        try:
            barrier.wait()
            outcomes.append(work(argument))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _assert_one_winner(entity, winners, losers):
    assert len(winners) == 1 and len(losers) == 1
    entity.refresh_from_db()
    assert entity.current_state == winners[0]
    rows = AuditEntry.objects.filter(entity_id=str(entity.pk)).exclude(event_type=AuditEventType.ENTITY_CREATED)
    assert sorted((row.event_type, row.to_state) for row in rows) == sorted([
        (AuditEventType.TRANSITION_SUCCESS, winners[0]), (AuditEventType.TRANSITION_DENIED, losers[0])])
    denied = rows.get(event_type=AuditEventType.TRANSITION_DENIED)
    # The loser waited for the row lock and then saw the winner's state.
    assert denied.from_state == winners[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("start", "targets"), RACES)
def test_two_concurrent_service_transitions_exactly_one_wins(start, targets):
    entity = EntityStateFactory(project=ProjectFactory(), current_state=start)
    actor = entity.project.owner

    def attempt(target):
        stale = EntityState.objects.get(pk=entity.pk)  # both read the same state before either writes
        try:
            entity_transition(stale, target, actor=actor, rationale=target)
        except TransitionRefused as refused:
            return (refused.status, target)
        return ("ok", target)

    outcomes = _race(attempt, list(targets))

    assert sorted(status for status, _ in outcomes if status != "ok") == [409]
    _assert_one_winner(entity, [t for s, t in outcomes if s == "ok"], [t for s, t in outcomes if s != "ok"])


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_api_transitions_one_200_one_409():
    entity = EntityStateFactory(project=ProjectFactory(), current_state="backlog")
    url = f"/api/v1/entity-states/{entity.service}/task/{entity.entity_id}/transition/"
    owner = entity.project.owner

    def attempt(cid):
        client = APIClient()
        client.force_authenticate(owner)
        response = client.post(url, {"to_state": "in_progress"}, format="json", HTTP_X_CORRELATION_ID=cid)
        return (response.status_code, cid)

    outcomes = _race(attempt, ["race-a", "race-b"])

    assert sorted(status for status, _ in outcomes) == [200, 409]
    _assert_one_winner(entity, ["in_progress"], ["in_progress"])
    by_cid = {row.cid: row.event_type for row in AuditEntry.objects.filter(cid__in=["race-a", "race-b"])}
    winner_cid = next(cid for status, cid in outcomes if status == 200)
    loser_cid = next(cid for status, cid in outcomes if status == 409)
    assert by_cid == {winner_cid: AuditEventType.TRANSITION_SUCCESS, loser_cid: AuditEventType.TRANSITION_DENIED}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_registrations_of_one_key_one_201_one_409():
    project = ProjectFactory()
    body = {"service": "runner", "entity_type": "task", "entity_id": "T-1", "project": str(project.pk)}

    def attempt(cid):
        client = APIClient()
        client.force_authenticate(project.owner)
        return (client.post("/api/v1/entity-states/", body, format="json", HTTP_X_CORRELATION_ID=cid).status_code,
                cid)

    outcomes = _race(attempt, ["reg-a", "reg-b"])

    assert sorted(status for status, _ in outcomes) == [201, 409]
    entity = EntityState.objects.get()
    loser_cid = next(cid for status, cid in outcomes if status == 409)
    denied = AuditEntry.objects.get(cid=loser_cid)
    assert (denied.event_type, denied.entity_id, denied.extra["reason"]) == (
        AuditEventType.TRANSITION_DENIED, str(entity.pk), "duplicate")
