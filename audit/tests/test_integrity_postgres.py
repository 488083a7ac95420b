"""The hash chain under real concurrency and jsonb, on PostgreSQL (skipped elsewhere)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django_fsm import ConcurrentTransition

from audit import integrity
from audit.models import AuditEntry
from commandcentral.core.recording import record_event
from accounts.tests.factories import UserFactory
from commandcentral.core.transitions import TransitionNotAvailable, perform_transition
from projects.models import Project, ProjectState
from projects.services import project_update
from projects.tests.factories import ProjectFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): the advisory lock and jsonb exist only there",
    ),
]


def _run_concurrently(work, workers: int) -> None:
    """Run work(n) for n in range(workers) on separate threads/connections, started together."""
    barrier = threading.Barrier(workers)

    def run(n):
        try:
            barrier.wait()
            work(n)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(run, n) for n in range(workers)]:
            done.result()  # re-raises a worker's error here


@pytest.mark.django_db(transaction=True)
def test_eight_threads_appending_a_hundred_rows_each_make_one_unbroken_chain():
    def append(worker):
        for n in range(100):
            record_event(event_type="auth_login", event_name="auth.login", extra={"worker": worker, "n": n})

    _run_concurrently(append, workers=8)
    rows = list(AuditEntry.objects.order_by("id").values_list("seq", flat=True))
    assert rows == list(range(1, 801))  # ids and seq agree: no fork, no gap, no reordering
    report = integrity.verify_chain()
    assert report.ok and report.rows_checked == 800 and report.head_seq == 800


@pytest.mark.django_db(transaction=True)
def test_transitions_and_edits_of_one_project_at_once_neither_fork_nor_deadlock():
    """The chain lock is taken first in every audited write, so lock order is the same everywhere."""
    owner = UserFactory()
    project = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    outcomes = []

    def work(worker):
        for n in range(15):
            current = Project.objects.get(pk=project.pk)
            try:
                if worker % 2:
                    project_update(project=current, actor=owner, description=f"edit {worker}.{n}")
                    outcomes.append("edited")
                else:
                    perform_transition(current, "pause" if current.state == ProjectState.ACTIVE else "resume", actor=owner)
                    outcomes.append("moved")
            except (ConcurrentTransition, TransitionNotAvailable):
                # Optimistic locking said someone else moved it first: a 409, not a deadlock.
                outcomes.append("conflict")

    _run_concurrently(work, workers=4)
    assert len(outcomes) == 60 and "moved" in outcomes  # every attempt ended in success or a clean 409
    report = integrity.verify_chain()
    assert report.ok and report.head_seq == AuditEntry.objects.count()


@pytest.mark.django_db
def test_jsonb_reorders_keys_and_respells_numbers_but_the_row_still_verifies():
    extra = {"b": 1, "a": 2.0, "aa": 3, "big": 1e16, "tiny": 1e-05, "nested": {"z": [1.0, "é"], "y": None}}
    entry = record_event(event_type="auth_login", event_name="auth.login", extra=extra)
    with connection.cursor() as cursor:
        cursor.execute("SELECT extra::text FROM audit_auditentry WHERE id = %s", [entry.pk])
        stored_text = cursor.fetchone()[0]
    assert stored_text.index('"a"') < stored_text.index('"b"')  # jsonb's own key order, not ours
    assert "10000000000000000" in stored_text  # 1e16 comes back as an integer
    assert integrity.verify_chain().ok


@pytest.mark.django_db
def test_the_advisory_lock_is_held_until_the_transaction_ends():
    from django.db import transaction

    with transaction.atomic():
        record_event(event_type="auth_login", event_name="auth.login")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
            )
            assert cursor.fetchone()[0] == 1
