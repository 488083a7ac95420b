"""Two concurrent transitions of one object: exactly one wins, the other is refused, nothing is lost."""

import threading

import pytest
from django.db import connection, connections

from audit.models import AuditEntry
from core.transitions import TransitionRefused, perform_transition
from projects.models import Project, ProjectState
from projects.tests.factories import ProjectFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "start,names",
    [(ProjectState.PROPOSED, ("activate", "activate")), (ProjectState.ACTIVE, ("complete", "kill"))],
)
def test_two_concurrent_transitions_exactly_one_wins(start, names):
    """The loser waits on the row lock, then sees the winner's state: a real 409, not a lost update."""
    project = ProjectFactory(state=start)
    barrier = threading.Barrier(2)
    outcomes = []

    def run(name):
        try:
            stale = Project.objects.get(pk=project.pk)
            barrier.wait()
            perform_transition(stale, name, actor=project.owner, rationale=name)
            outcomes.append(("ok", name))
        except TransitionRefused as refused:
            outcomes.append((refused.status, name))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(o[0] for o in outcomes if o[0] != "ok") == [409]
    assert [o for o in outcomes if o[0] == "ok"].__len__() == 1
    winner = next(name for status, name in outcomes if status == "ok")
    project.refresh_from_db()
    targets = {"activate": ProjectState.ACTIVE, "kill": ProjectState.KILLED, "complete": ProjectState.COMPLETED}
    assert project.state == targets[winner]
    assert AuditEntry.objects.filter(event_type="transition_success").count() == 1
    assert AuditEntry.objects.filter(event_type="transition_denied").count() == 1
    # No orphan auditlog update row from the loser.
    assert not AuditEntry.objects.filter(event_type="entity_updated", project=project).exists()
