"""The sequencer: committed audit rows become ledger leaves, in batches, one sequencer at a time.

Writers never wait for it. AuditEntry.save() inserts the row and a LedgerQueue row in the writer's
transaction and, when that commits, calls `seal_after_commit`: whoever takes the sequencer seals
every pending row ("group sealing"); a writer that finds it busy leaves its row to the holder, which
looks for more rows before it lets go. When a row is sealed (docs/audit.md, "When a row is sealed"):

1. after its commit, at once, when this process has not sealed within AUDIT_SEAL_MIN_INTERVAL
   seconds (default 0.5; 0 = after every commit);
2. otherwise by this process's one deferred seal, a timer that fires when the interval is up (plus
   DEFER_GRACE, 50 ms), so the last rows of a burst wait at most that long even if no request follows.
   When a due commit has sealed on its own thread meanwhile (steady traffic), the timer only sets
   itself again, for the interval after that seal;
3. the sweep (the maintenance task every AUDIT_CHECKPOINT_INTERVAL seconds, or `manage.py
   audit_seal`) is only a safety net, for a process that died between its commit and its seal.

Under load one seal covers many requests' rows instead of every request paying for a transaction of
its own (bench/README.md, "Ledger"). Readers (proofs, checkpoints, verification) never seal.

The sequencer lock is held for one batch only: on PostgreSQL a transaction-level advisory lock
(pg_try_advisory_xact_lock when a writer seals after its commit, so no writer ever queues behind
another), on SQLite the database's write lock (every transaction is BEGIN IMMEDIATE).
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time

from django.apps import apps
from django.conf import settings
from django.dispatch import Signal
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from core.durability import durable_atomic

from . import merkle
from .canonical import HASHED_FIELDS, canonical_bytes
from .verifier import leaf_hash

logger = logging.getLogger("commandcentral.audit.ledger")

# Key of the PostgreSQL advisory lock held by the sequencer for one batch ("CCLEDGER").
SEQUENCER_LOCK_KEY = 0x4343_4C45_4447_4552
DEFAULT_BATCH = 1000


def _models():
    return (
        apps.get_model("audit", "AuditEntry"),
        apps.get_model("audit", "LedgerQueue"),
        apps.get_model("audit", "LedgerLeaf"),
        apps.get_model("audit", "LedgerNode"),
    )


# --- Reading the tree --------------------------------------------------------------------------------


def tree_size(using: str = "default") -> int:
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    last = LedgerLeaf.objects.using(using).order_by("-leaf_index").values_list("leaf_index", flat=True).first()
    return 0 if last is None else last + 1


def fetch_nodes(keys, using: str = "default") -> dict:
    """{(level, index): hash} for these complete subtrees; a missing one raises KeyError naming it."""
    _, _, LedgerLeaf, LedgerNode = _models()
    keys = set(keys)
    leaves = [index for level, index in keys if level == 0]
    inner = [LedgerNode.key_of(level, index) for level, index in keys if level]
    found = {}
    if leaves:
        for index, value in LedgerLeaf.objects.using(using).filter(leaf_index__in=leaves).values_list("leaf_index", "leaf_hash"):
            found[(0, index)] = bytes(value)
    if inner:
        for key, value in LedgerNode.objects.using(using).filter(key__in=inner).values_list("key", "hash"):
            found[(key >> merkle.NODE_INDEX_BITS, key & ((1 << merkle.NODE_INDEX_BITS) - 1))] = bytes(value)
    missing = keys - set(found)
    if missing:
        raise KeyError(f"ledger subtrees missing from the store: {sorted(missing)[:5]}")
    return found


def root_at(size: int, using: str = "default") -> bytes:
    return merkle.root_from(size, fetch_nodes(merkle.needed(merkle.root_ranges(size)), using))


# --- Sealing ---------------------------------------------------------------------------------------------


def _take_sequencer(using: str, wait: bool) -> bool:
    """Hold the sequencer until the current transaction ends; False when busy and not waiting."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True  # SQLite: the IMMEDIATE transaction already holds the single write lock
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _seal_batch(using: str, batch_size: int) -> int:
    AuditEntry, LedgerQueue, LedgerLeaf, LedgerNode = _models()
    queued = _take_queued(using, batch_size)
    if not queued:
        return 0
    # Sealed rows are left out: only a hand-made queue row can point at one. A queue row whose audit
    # row does not exist cannot come from save() (same transaction): it is dropped with the others.
    rows = list(AuditEntry._base_manager.using(using).filter(id__in=queued, ledger_leaf__isnull=True)
                .order_by("id").values("id", *HASHED_FIELDS))
    size = tree_size(using)
    hashes = [leaf_hash(canonical_bytes(row)) for row in rows]
    frontier = fetch_nodes(merkle.frontier_of(size), using) if size else {}
    made = merkle.new_subtrees(size, hashes, frontier)
    leaves = [(size + n, row["id"], value) for n, (row, value) in enumerate(zip(rows, hashes))]
    nodes = [(LedgerNode.key_of(level, index), value) for (level, index), value in made.items()]
    _append(using, leaves, nodes, timezone.now())
    return len(queued)


# The PostgreSQL fast path (bench/README.md, "Ledger": it lifts the seal rate from ~5,500 to ~8,600
# rows/s): take the batch out of the queue in one DELETE … RETURNING, and append leaves and nodes with
# one INSERT … SELECT FROM unnest(arrays) each instead of bulk_create's thousands of bound parameters.
# SQLite (3.35+, for RETURNING) takes the batch out the same way and appends with one executemany per
# table: bulk_create built a model instance per leaf and node, a quarter of a seal's Python (bench/README.md,
# "Sixth round"). `AUDIT_LEDGER_FAST_APPEND = False` (or any other database) takes the plain ORM path.
def _fast(using: str) -> bool:
    vendor = connections[using].vendor
    fast_here = vendor == "postgresql" or (vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35))
    return fast_here and getattr(settings, "AUDIT_LEDGER_FAST_APPEND", True)


def _take_queued(using: str, batch_size: int) -> list[int]:
    LedgerQueue = apps.get_model("audit", "LedgerQueue")
    if not _fast(using):
        queued = list(LedgerQueue.objects.using(using).order_by("entry_id").values_list("entry_id", flat=True)[:batch_size])
        LedgerQueue.objects.using(using).filter(entry_id__in=queued).delete()
        return queued
    table = connections[using].ops.quote_name(LedgerQueue._meta.db_table)
    first = f"SELECT entry_id FROM {table} ORDER BY entry_id LIMIT %s"
    # PostgreSQL: ANY(ARRAY(…)), not IN (SELECT …): with a freshly churned queue the planner's statistics
    # say "empty" and it nests loops over IN (0.9 s per 1,000 rows, bench/README.md).
    batch = f"= ANY(ARRAY({first}))" if connections[using].vendor == "postgresql" else f"IN ({first})"
    with connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE entry_id {batch} RETURNING entry_id", [batch_size])
        return sorted(entry_id for (entry_id,) in cursor.fetchall())


def _append(using: str, leaves: list[tuple[int, int, bytes]], nodes: list[tuple[int, bytes]], now) -> None:
    _, _, LedgerLeaf, LedgerNode = _models()
    if not _fast(using):
        LedgerLeaf.objects.using(using).bulk_create(
            [LedgerLeaf(leaf_index=index, entry_id=entry_id, leaf_hash=value, sealed_at=now) for index, entry_id, value in leaves]
        )
        LedgerNode.objects.using(using).bulk_create([LedgerNode(key=key, hash=value) for key, value in nodes])
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            if leaves:
                sealed_at = connection.ops.adapt_datetimefield_value(now)
                cursor.executemany(
                    f"INSERT INTO {quote(LedgerLeaf._meta.db_table)} (leaf_index, entry_id, leaf_hash, sealed_at) "
                    "VALUES (%s, %s, %s, %s)", [(index, entry_id, value, sealed_at) for index, entry_id, value in leaves])
            if nodes:
                cursor.executemany(f"INSERT INTO {quote(LedgerNode._meta.db_table)} (key, hash) VALUES (%s, %s)", nodes)
        return
    with connection.cursor() as cursor:
        if leaves:
            cursor.execute(
                f"INSERT INTO {quote(LedgerLeaf._meta.db_table)} (leaf_index, entry_id, leaf_hash, sealed_at) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[], %s::timestamptz[])",
                [[leaf[0] for leaf in leaves], [leaf[1] for leaf in leaves], [leaf[2] for leaf in leaves], [now] * len(leaves)],
            )
        if nodes:
            cursor.execute(
                f"INSERT INTO {quote(LedgerNode._meta.db_table)} (key, hash) SELECT * FROM unnest(%s::bigint[], %s::bytea[])",
                [[node[0] for node in nodes], [node[1] for node in nodes]],
            )


def has_pending(using: str = "default") -> bool:
    return apps.get_model("audit", "LedgerQueue").objects.using(using).exists()


# Sent after rows were sealed (outside any transaction of the sequencer): the ledger is an outbox, and
# its readers (webhooks) learn here that there is something new. A receiver's error is logged, never
# raised into whoever sealed.
ledger_sealed = Signal()


def seal_pending(using: str = "default", *, wait: bool = True, batch_size: int = DEFAULT_BATCH) -> int:
    """Seal every pending row, a batch per transaction; returns how many queue rows were taken.

    wait=False (after a writer's commit): give up at once when another process holds the sequencer.
    """
    total = 0
    if not has_pending(using):
        return total
    # A sealed row is one a checkpoint may cover and a proof may be served for: its commit waits for
    # the disk, and flushes every request's commit before it (core/durability.py).
    while True:
        with durable_atomic(using):
            if not _take_sequencer(using, wait):
                break
            sealed = _seal_batch(using, batch_size)
        total += sealed
        if sealed == 0 or not has_pending(using):
            break
    if total:
        for receiver, outcome in ledger_sealed.send_robust(sender=None, using=using, count=total):
            if isinstance(outcome, Exception):
                logger.error("a ledger_sealed receiver failed: %r", outcome, exc_info=outcome)
    return total


# When this process last sealed after a commit, per database alias (time.monotonic()), and the one
# deferred seal it has waiting per alias (a timer thread).
_last_after_commit_seal: dict[str, float] = {}
_deferred: dict[str, threading.Timer] = {}
_deferred_lock = threading.Lock()
_flush_registered = False


def _interval() -> float:
    return float(getattr(settings, "AUDIT_SEAL_MIN_INTERVAL", 0) or 0)


def _seal_now(using: str) -> None:
    _last_after_commit_seal[using] = time.monotonic()
    started = time.perf_counter()
    sealed = seal_pending(using, wait=False)
    if sealed:
        logger.debug("sealed %d audit rows in %.1f ms", sealed, (time.perf_counter() - started) * 1000)


def _due(using: str) -> bool:
    interval = _interval()
    return not interval or time.monotonic() - _last_after_commit_seal.get(using, float("-inf")) >= interval


def _defer(using: str) -> None:
    """One deferred seal per process and database: a timer that fires once the interval has passed.

    So the last rows of a burst are sealed within the interval (and DEFER_GRACE) even when no request
    follows, and no request ever waits for it. Commits while it waits add nothing: it seals every
    pending row.
    """
    global _flush_registered
    with _deferred_lock:
        if using in _deferred:
            return
        timer = _arm(using)
        if not _flush_registered:
            atexit.register(flush_deferred)
            _flush_registered = True
    timer.start()


# How far a deferred seal lets the interval overrun. Under steady traffic the next commit is due first
# and seals on its own thread, after its own transaction. A timer sealing at the same moment instead
# held the write lock while that commit's thread waited for it: on SQLite in the busy handler's sleeps
# (1, 2, 5, 10, 15… ms), with every request queued behind it waiting too (bench/README.md, "Sixth round").
DEFER_GRACE = 0.05


def _arm(using: str) -> threading.Timer:
    """The deferred seal, set for the interval and the grace after this process's last seal (called
    holding _deferred_lock); the caller starts it."""
    last = _last_after_commit_seal.get(using, float("-inf"))
    wait = max(0.0, _interval() + DEFER_GRACE - (time.monotonic() - last))
    timer = threading.Timer(wait, _run_deferred, args=(using, last))
    timer.daemon = True  # never keeps a process alive; a process that exits seals on its way out
    _deferred[using] = timer
    return timer


def _run_deferred(using: str, armed_after: float) -> None:
    with _deferred_lock:
        _deferred.pop(using, None)
        # A due commit sealed on its own thread since this timer was set: it took every row committed
        # before it, and the rows after it are due the interval after it.
        again = _arm(using) if _last_after_commit_seal.get(using, float("-inf")) != armed_after else None
    if again is not None:
        again.start()
        return
    try:
        _seal_now(using)
    except DatabaseError:
        logger.exception("a deferred seal failed; the next seal or the sweep takes the rows")
    finally:
        connection = connections[using]
        if not connection.in_atomic_block:
            connection.close()  # this timer thread's own connection (a test may run it in its own thread)


def flush_deferred() -> None:
    """Seal now what a deferred seal would have (at exit: a management command ends before its timer fires)."""
    with _deferred_lock:
        waiting = list(_deferred.items())
        _deferred.clear()
    for using, timer in waiting:
        timer.cancel()
        try:
            seal_pending(using)
        except DatabaseError:
            logger.exception("sealing at exit failed; the next seal or the sweep takes the rows")


def _after_commit_callback(using: str):
    def seal() -> None:
        if _due(using):
            _seal_now(using)
        else:
            _defer(using)

    seal.ledger_alias = using
    return seal


def seal_after_commit(using: str = "default") -> None:
    """Seal once the current transaction commits: at once when this process has not sealed within
    AUDIT_SEAL_MIN_INTERVAL, else by the one deferred seal of this process (public `transaction.on_commit`
    only). Each audited row registers a callback: the first seals every pending row, the others find
    nothing to do. The hot writes (a create, a transition) write one audit row per transaction."""
    if getattr(settings, "AUDIT_SEAL_ON_COMMIT", True):
        transaction.on_commit(_after_commit_callback(using), using=using, robust=True)


# --- Status ---------------------------------------------------------------------------------------------


def pending_status(using: str = "default") -> tuple[int, float]:
    """(unsealed rows, seconds the oldest has waited)."""
    from django.db.models import Count, Min

    LedgerQueue = apps.get_model("audit", "LedgerQueue")
    summary = LedgerQueue.objects.using(using).aggregate(count=Count("entry_id"), oldest=Min("enqueued_at"))
    lag = (timezone.now() - summary["oldest"]).total_seconds() if summary["oldest"] else 0.0
    return summary["count"], max(lag, 0.0)


def unqueued_rows(using: str = "default") -> int:
    """Audit rows that are neither leaves nor queued. A row and its queue row are written in one
    transaction and the sequencer swaps a queue row for a leaf in another, so every committed row is one
    or the other: anything else was taken out of the ledger's reach (a deleted queue row, a raw INSERT)."""
    AuditEntry, LedgerQueue, LedgerLeaf, _ = _models()
    rows = AuditEntry._base_manager.using(using)
    # Cheap first: the counts add up in a healthy ledger (a leaf whose row is gone is verify_audit's to find).
    if rows.count() == LedgerLeaf.objects.using(using).count() + LedgerQueue.objects.using(using).count():
        return 0
    return unqueued(using).count()


def unqueued(using: str = "default"):
    """The audit rows that are neither leaves nor queued, as a queryset."""
    AuditEntry, LedgerQueue, _, _ = _models()
    return (AuditEntry._base_manager.using(using).filter(ledger_leaf__isnull=True)
            .exclude(id__in=LedgerQueue.objects.using(using).values("entry_id")))
