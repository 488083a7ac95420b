"""When commits reach the disk (core/durability.py): a request's commit does not wait for it, the
ledger's seal does, and so flushes every commit before it. Checked on the connection itself: SQLite's
`PRAGMA synchronous` as each statement ran (its trace callback sees BEGIN and COMMIT too), PostgreSQL's
`synchronous_commit` as the session reports it."""

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.urls import reverse
from rest_framework_simplejwt.tokens import AccessToken

from audit.ledger.sequencer import seal_pending
from audit.models import AuditEntry, LedgerLeaf, LedgerQueue
from audit.tests.verify import assert_trail_verifies
from core import durability
from core.durability import durable_atomic

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's synchronous pragma")
postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                     reason="needs PostgreSQL (set DATABASE_URL): synchronous_commit")


def _level() -> str:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous" if connection.vendor == "sqlite" else "SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def test_the_settings_each_durability_opens_connections_with():
    assert durability.sqlite_synchronous("sealed") == "NORMAL"
    assert durability.sqlite_synchronous("every") == "FULL"
    assert durability.sqlite_synchronous("sealed", "OFF") == "OFF"  # an explicit SQLITE_SYNCHRONOUS wins
    assert durability.postgresql_options("sealed") == "-c synchronous_commit=off"
    assert durability.postgresql_options("sealed", "-c search_path=cc") == "-c search_path=cc -c synchronous_commit=off"
    assert durability.postgresql_options("every", "-c search_path=cc") == "-c search_path=cc"


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_a_durable_transaction_raises_the_level_for_itself_only():
    assert _level() == "1"  # NORMAL: what a request commits with
    with durable_atomic():
        assert _level() == "2"
        assert connection.in_atomic_block
    assert _level() == "1"
    with pytest.raises(RuntimeError), durable_atomic():
        raise RuntimeError("the level comes back on the way out of a failure too")
    assert _level() == "1"
    with transaction.atomic():
        with durable_atomic():  # SQLite refuses to change it inside a transaction: left as it is
            assert _level() == "1"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_postgresql_a_durable_transaction_raises_the_level_for_itself_only():
    assert _level() == "off"
    with durable_atomic():
        assert _level() == "on"  # SET LOCAL: this transaction's commit, no session setting
    assert _level() == "off"
    with transaction.atomic():
        assert _level() == "off"  # another transaction
    with pytest.raises(RuntimeError), durable_atomic():
        raise RuntimeError("rolled back, and the setting with it")
    assert _level() == "off"


def _sqlite_trace(statements: list):
    """Every statement of this thread's connection, and of one it opens later, with SQLite's own text."""
    def attach(sender=None, connection=None, **kwargs):
        connection.connection.set_trace_callback(statements.append)

    connection.ensure_connection()
    attach(connection=connection)
    connection_created.connect(attach)
    return lambda: (connection_created.disconnect(attach),
                    connection.connection and connection.connection.set_trace_callback(None))


def _traced_create(api_client, owner, name: str):
    """POST a project as `owner` through the API, with every SQLite statement it ran (the seal's too)."""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    statements: list[str] = []
    stop = _sqlite_trace(statements)
    try:
        response = api_client.post(reverse("api:project-list"), {"name": name}, format="json")
    finally:
        stop()
    assert response.status_code == 201, response.content
    return response, statements


def _pragma_before(statements: list, index: int) -> str:
    """The last `PRAGMA synchronous=…` set before statement `index` ('' when none since the trace began)."""
    setters = [s for s in statements[:index] if s.upper().startswith("PRAGMA SYNCHRONOUS=")]
    return setters[-1] if setters else ""


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_request_commits_without_waiting_and_its_seal_waits_for_the_disk(api_client, owner, settings):
    settings.AUDIT_SEAL_MIN_INTERVAL = 0  # sealed right after the request's commit, on its connection
    response, statements = _traced_create(api_client, owner, "Durable")
    entry = AuditEntry.objects.get(entity_id=response.json()["id"], event_name="project.created")
    assert LedgerLeaf.objects.filter(entry_id=entry.id).exists() and not LedgerQueue.objects.exists()

    insert = next(i for i, s in enumerate(statements) if s.startswith('INSERT INTO "projects_project"'))
    commit = next(i for i in range(insert, len(statements)) if statements[i] == "COMMIT")
    leaf = next(i for i, s in enumerate(statements) if s.startswith('INSERT INTO "audit_ledgerleaf"'))
    seal_commit = next(i for i in range(leaf, len(statements)) if statements[i] == "COMMIT")
    assert commit < leaf
    # The request's transaction committed at the connection's own level (NORMAL), not raised for it.
    assert _pragma_before(statements, commit) == ""
    # The seal's transaction ran at FULL (its COMMIT waits for the WAL's fsync), then the level came back.
    assert _pragma_before(statements, leaf) == "PRAGMA synchronous=FULL"
    assert _pragma_before(statements, seal_commit) == "PRAGMA synchronous=FULL"
    assert _pragma_before(statements, len(statements)) == "PRAGMA synchronous=1"
    assert _level() == "1"
    assert_trail_verifies()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_postgresql_a_request_commits_without_waiting_and_its_seal_waits(api_client, owner, settings):
    settings.AUDIT_SEAL_MIN_INTERVAL = 0
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    levels = []

    def record(execute, sql, params, many, context):
        table = next((t for t in ("projects_project", "audit_ledgerleaf") if sql.startswith(f'INSERT INTO "{t}"')), None)
        if table:
            levels.append(("project" if table == "projects_project" else "leaf", _level()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = api_client.post(reverse("api:project-list"), {"name": "Durable"}, format="json")
    assert response.status_code == 201, response.content
    assert levels == [("project", "off"), ("leaf", "on")]
    assert _level() == "off"
    assert not LedgerQueue.objects.exists()
    assert_trail_verifies()


@pytest.mark.django_db(transaction=True)
def test_a_seal_with_nothing_pending_reads_once_and_leaves_the_level_alone():
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert seal_pending() == 0
    assert len(statements) == 1 and "audit_ledgerqueue" in statements[0], statements


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_create_keeps_its_savepoint_journal_in_memory_and_checkpoints_the_wal_seldom(api_client, owner):
    """A create's INSERT runs in a savepoint, whose journal SQLite keeps in a temporary file once it
    passes 64 KiB unless temp_store is MEMORY: a file created and unlinked per request."""
    _, statements = _traced_create(api_client, owner, "In memory")
    assert any(s.startswith("SAVEPOINT") for s in statements)  # the case the setting is for
    assert _read_pragma("temp_store") == 2  # MEMORY
    assert _read_pragma("wal_autocheckpoint") == 10000


def _read_pragma(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]
