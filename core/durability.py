"""When a commit reaches the disk: at once, or when the ledger seals it.

`DATABASE_DURABILITY` (docs/configuration.md, docs/audit.md "Durability"):

- "sealed" (the default): a request's commit does not wait for the disk. It survives a crash of the
  process at once (SQLite's WAL and PostgreSQL's WAL are written before the commit returns); a power
  loss or a crash of the machine can take back the commits of the last moments, whole and in order,
  never corrupting the database. The ledger's sequencer commits through `durable_atomic()`, so its
  commits wait for the disk, and the log is written in order: that one flush makes every earlier commit durable
  with it. So no audit row a checkpoint covers, nor any row a proof was served for, can be lost, and
  what is at risk is at most the rows of the last `AUDIT_SEAL_MIN_INTERVAL` seconds.
  SQLite: `PRAGMA synchronous=NORMAL`; PostgreSQL: `synchronous_commit=off` for the session.
- "every": every commit waits for the disk (SQLite `synchronous=FULL`, PostgreSQL's default).

Waiting for the disk was the largest cost of a write left (bench/README.md, "Sixth round").
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connections, transaction

SEALED = "sealed"
EVERY = "every"
CHOICES = (SEALED, EVERY)
# SQLite's `PRAGMA synchronous` levels, as it reports them.
_SQLITE_FULL = 2


def sqlite_synchronous(durability: str, override: str = "") -> str:
    """The `PRAGMA synchronous` a SQLite connection opens with (an explicit SQLITE_SYNCHRONOUS wins)."""
    return override or ("FULL" if durability == EVERY else "NORMAL")


def postgresql_options(durability: str, options: str = "") -> str:
    """libpq `options` with the session's `synchronous_commit` for this durability."""
    if durability != SEALED:
        return options
    return f"{options} -c synchronous_commit=off".strip()


def _read(connection, query: str):
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def _run(connection, statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


@contextmanager
def durable_atomic(using: str = "default"):
    """`transaction.atomic()` whose commit waits for the disk, whatever the connection's own setting,
    and with it every commit before it (each database's log is flushed in order).

    SQLite can change `synchronous` only outside a transaction, so it is raised around the block and
    put back after it (nested in another atomic block, the outer commit keeps the connection's level).
    PostgreSQL raises it inside, with `SET LOCAL`, which ends with the transaction: a session setting
    would not follow the application behind a pooler in transaction mode.
    """
    connection = connections[using]
    restore = None
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        level = int(_read(connection, "PRAGMA synchronous"))
        if level < _SQLITE_FULL:
            _run(connection, "PRAGMA synchronous=FULL")
            restore = f"PRAGMA synchronous={level}"
    try:
        with transaction.atomic(using=using):
            if connection.vendor == "postgresql":
                _run(connection, "SET LOCAL synchronous_commit TO on")
            yield
    finally:
        if restore and connection.connection is not None and not connection.in_atomic_block:
            _run(connection, restore)
