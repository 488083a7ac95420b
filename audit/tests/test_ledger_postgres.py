"""The ledger under real concurrency, jsonb and the database's own guards, on PostgreSQL (skipped elsewhere)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection, connections, transaction
from django_fsm import ConcurrentTransition

from accounts.tests.factories import UserFactory
from audit.ledger.sequencer import seal_pending
from audit.ledger.verification import verify_ledger
from audit.models import AuditEntry, LedgerLeaf, LedgerQueue
from core.recording import audited_write, record_event
from core.transitions import TransitionNotAvailable, perform_transition
from projects.models import Project, ProjectState
from projects.services import project_update
from projects.tests.factories import ProjectFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): concurrent writers, advisory locks, jsonb and triggers exist only there",
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
def test_eight_writers_of_a_hundred_rows_each_make_exactly_eight_hundred_leaves():
    def append(worker):
        for n in range(100):
            record_event(event_type="auth_login", event_name="auth.login", extra={"worker": worker, "n": n})

    _run_concurrently(append, workers=8)
    sealed_by_writers = LedgerLeaf.objects.count()
    seal_pending()  # the sweep: whatever a writer left to a busy sequencer
    leaves = list(LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", "entry_id"))
    rows = set(AuditEntry.objects.values_list("id", flat=True))
    assert [index for index, _ in leaves] == list(range(800))  # indices 0..799, once each
    assert len({entry for _, entry in leaves}) == 800 and {entry for _, entry in leaves} == rows  # each row once
    assert sealed_by_writers > 0 and not LedgerQueue.objects.exists()
    report = verify_ledger()
    assert report.ok and report.leaves_checked == 800


@pytest.mark.django_db(transaction=True)
def test_an_open_audited_write_does_not_hold_up_another_writer():
    """No lock shared by all writers: a second writer commits while the first is still open."""
    first_open, second_done = threading.Event(), threading.Event()
    owner = UserFactory()
    one, two = ProjectFactory(owner=owner), ProjectFactory(owner=owner)

    def slow_writer():
        try:
            with audited_write(owner):
                project_update(project=Project.objects.get(pk=one.pk), actor=owner, description="slow")
                first_open.set()
                assert second_done.wait(timeout=10), "the second writer waited for the first"
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert first_open.wait(timeout=10)
        project_update(project=Project.objects.get(pk=two.pk), actor=owner, description="fast")
        second_done.set()
    finally:
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert set(AuditEntry.objects.filter(event_type="entity_updated").values_list("changes__description__1", flat=True)) == {"slow", "fast"}
    seal_pending()
    assert verify_ledger().ok


@pytest.mark.django_db(transaction=True)
def test_transitions_and_edits_of_one_project_at_once_neither_fork_nor_deadlock():
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
    report = verify_ledger()
    assert report.ok and report.tree_size == AuditEntry.objects.count()


@pytest.mark.django_db
def test_jsonb_reorders_keys_and_respells_numbers_but_the_leaf_still_verifies():
    extra = {"b": 1, "a": 2.0, "aa": 3, "big": 1e16, "tiny": 1e-05, "nested": {"z": [1.0, "é"], "y": None}}
    entry = record_event(event_type="auth_login", event_name="auth.login", extra=extra)
    with connection.cursor() as cursor:
        cursor.execute("SELECT extra::text FROM audit_auditentry WHERE id = %s", [entry.pk])
        stored_text = cursor.fetchone()[0]
    assert stored_text.index('"a"') < stored_text.index('"b"')  # jsonb's own key order, not ours
    assert "10000000000000000" in stored_text  # 1e16 comes back as an integer
    assert verify_ledger().ok


@pytest.mark.django_db
def test_an_audited_write_takes_no_advisory_lock():
    with transaction.atomic():
        record_event(event_type="auth_login", event_name="auth.login")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            assert cursor.fetchone()[0] == 0


def test_truncate_is_refused_outside_test_databases():
    """The trigger of migration 0010, in a database not named test_…: TRUNCATE fails, UPDATE fails."""
    import importlib

    retire = importlib.import_module("audit.migrations.0010_retire_hash_chain")
    settings = connection.settings_dict
    params = {"host": settings.get("HOST") or None, "port": settings.get("PORT") or None, "user": settings.get("USER") or None,
              "password": settings.get("PASSWORD") or None}
    name = f"cc_truncate_guard_{threading.get_ident() % 100000}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(dbname=name, autocommit=True, **params) as db:
            db.execute("CREATE TABLE audit_ledgerleaf (leaf_index bigint)")
            db.execute("INSERT INTO audit_ledgerleaf VALUES (0)")
            db.execute(retire.FUNCTIONS)
            db.execute("CREATE TRIGGER t1 BEFORE TRUNCATE ON audit_ledgerleaf FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()")
            db.execute("CREATE TRIGGER t2 BEFORE UPDATE OR DELETE ON audit_ledgerleaf FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")
            for statement in ("TRUNCATE audit_ledgerleaf", "DELETE FROM audit_ledgerleaf", "UPDATE audit_ledgerleaf SET leaf_index = 1"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    db.execute(statement)
            assert db.execute("SELECT count(*) FROM audit_ledgerleaf").fetchone() == (1,)
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.django_db
def test_the_fast_append_and_the_orm_fallback_build_the_same_tree(settings):
    for n in range(5):
        record_event(event_type="auth_login", event_name="auth.login", extra={"n": n})
    settings.AUDIT_LEDGER_FAST_APPEND = False
    assert seal_pending(batch_size=2) == 5  # the plain ORM path, in three batches
    plain = list(LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", "entry_id", "leaf_hash"))
    for n in range(6):
        record_event(event_type="auth_logout", event_name="auth.logout", extra={"n": n})
    settings.AUDIT_LEDGER_FAST_APPEND = True
    assert seal_pending(batch_size=4) == 6  # DELETE … RETURNING and unnest, in two batches
    leaves = list(LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", "entry_id", "leaf_hash"))
    assert leaves[:5] == plain and [index for index, _, _ in leaves] == list(range(11))
    assert [entry for _, entry, _ in leaves] == sorted(AuditEntry.objects.values_list("id", flat=True))
    assert not LedgerQueue.objects.exists()
    report = verify_ledger()
    assert report.ok and report.leaves_checked == 11


@pytest.mark.django_db
def test_the_deploy_check_warns_when_the_app_can_disable_the_audit_triggers():
    """The suite connects as the superuser that owns the tables, which the check names."""
    from audit.checks import database_role_cannot_bypass_the_triggers

    warnings = database_role_cannot_bypass_the_triggers(databases=["default"])
    assert [warning.id for warning in warnings] == ["audit.W002"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = cursor.fetchone()[0]
    assert ("is a superuser" in warnings[0].msg) == superuser
    assert database_role_cannot_bypass_the_triggers(databases=[]) == []
