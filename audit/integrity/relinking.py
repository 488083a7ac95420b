"""Re-linking rows sealed before their request context (issue 13): find them, then re-hash from the first."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.db import connections, transaction

from .canonical import entry_hash_of
from .chain import (
    Anchor,
    BreakKind,
    ChainBreak,
    ChainConfigurationError,
    _batches,
    _diagnose,
    anchor_before,
    lock_chain,
)

RELINK_REASON = (
    "Rows written by web requests before the fix of issue 13 were hashed before django-auditlog's pre_save "
    "receiver set their remote address (and, for rows with no actor, the actor), so each failed its own hash. "
    "Their content is unchanged; only entry_hash and the prev_hash links after the first of them were recomputed."
)


@dataclass
class RelinkPlan:
    rows_checked: int = 0
    affected: int = 0
    first_id: int | None = None
    first_seq: int | None = None
    last_id: int | None = None
    failure: ChainBreak | None = None  # a break of any other kind: nothing may be re-hashed


def relink_plan(*, batch_size: int = 1000, using: str = "default") -> RelinkPlan:
    """Walk the whole chain, counting the rows sealed before their request context; stop at any other break."""
    plan, expected = RelinkPlan(), Anchor()
    for batch in _batches(using, 0, batch_size):
        for row in batch:
            failure = _diagnose(row, expected, using, batch_size, 0)
            if failure is not None and failure.kind != BreakKind.SEALED_BEFORE_REQUEST_CONTEXT:
                plan.failure = failure
                return plan
            if failure is not None:
                plan.affected += 1
                if plan.first_id is None:
                    plan.first_id, plan.first_seq = row["id"], row["seq"]
                plan.last_id = row["id"]
            plan.rows_checked += 1
            expected = Anchor(seq=row["seq"], entry_hash=row["entry_hash"], row_id=row["id"])
    return plan


def relink(*, actor=None, batch_size: int = 1000, using: str = "default") -> tuple[RelinkPlan, int]:
    """Re-hash every row from the first one sealed before its request context to the head.

    Only the chain columns change (entry_hash, and the prev_hash links after it); no content is
    touched. Refused when the chain has any other break or a stored checkpoint covers an affected
    row (re-hashing would rewrite a head someone vouched for). Runs in one transaction holding the
    chain lock; on PostgreSQL the append-only trigger is off for that transaction only, as in
    migration 0004. Appends an `audit.relinked` row, in the same transaction, saying how many rows
    were re-hashed and why. Returns the plan and that count.
    """
    with transaction.atomic(using=using):
        lock_chain(using)
        plan = relink_plan(batch_size=batch_size, using=using)
        _refuse_other_breaks(plan)
        if plan.first_id is None:
            return plan, 0
        _refuse_if_checkpointed(plan, using)
        rehashed = _rehash_from(plan.first_id, batch_size, using)
        _record_relink(plan, rehashed, actor)
    return plan, rehashed


def _refuse_other_breaks(plan: RelinkPlan) -> None:
    if plan.failure is not None:
        raise ChainConfigurationError(
            f"refusing to re-link: the chain has another break ({plan.failure.kind}) at row "
            f"#{plan.failure.row_id}: {plan.failure.message}"
        )


def _refuse_if_checkpointed(plan: RelinkPlan, using: str) -> None:
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")

    covering = AuditCheckpoint.objects.using(using).filter(seq__gte=plan.first_seq).order_by("seq").first()
    if covering is not None:
        raise ChainConfigurationError(
            f"refusing to re-link: checkpoint #{covering.pk} (seq {covering.seq}) was signed over rows from seq "
            f"{plan.first_seq} on; re-hashing them would rewrite a head that was vouched for."
        )


def _rehash_from(first_id: int, batch_size: int, using: str) -> int:
    """Recompute the chain columns of row `first_id` and every row after it; how many rows changed."""
    AuditEntry = apps.get_model("audit", "AuditEntry")

    connection = connections[using]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    previous = anchor_before(first_id, using)
    with connection.cursor() as cursor, _append_only_trigger_off(cursor, table, connection.vendor == "postgresql"):
        return _rewrite_links(cursor, table, previous, batch_size, using)


@contextmanager
def _append_only_trigger_off(cursor, table: str, postgres: bool):
    """PostgreSQL's append-only trigger (migration 0002) off for the block; nothing to do on SQLite.

    No `finally`: on an error the transaction rolls back, and the ALTER TABLE with it (DDL is
    transactional on PostgreSQL); more SQL in the aborted transaction would only hide the error.
    """
    if postgres:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending FK checks
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_auditentry_append_only")
    yield
    if postgres:
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_auditentry_append_only")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _rewrite_links(cursor, table: str, previous: Anchor, batch_size: int, using: str) -> int:
    """UPDATE every row after `previous` whose prev_hash or entry_hash differs from the recomputed chain."""
    rehashed = 0
    prev_hash = previous.entry_hash
    for batch in _batches(using, previous.row_id, batch_size):
        for row in batch:
            entry_hash = entry_hash_of(row, seq=row["seq"], prev_hash=prev_hash)
            if (row["prev_hash"], row["entry_hash"]) != (prev_hash, entry_hash):
                cursor.execute(
                    f"UPDATE {table} SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                    [prev_hash, entry_hash, row["id"]],
                )
                rehashed += 1
            prev_hash = entry_hash
    return rehashed


def _record_relink(plan: RelinkPlan, rehashed: int, actor) -> None:
    """The `audit.relinked` row: how many rows were re-hashed, and why."""
    from commandcentral.core.recording import AuditEventType
    from commandcentral.core.recording import record_event

    record_event(
        event_type=AuditEventType.AUDIT_MAINTENANCE, event_name="audit.relinked", actor=actor,
        rationale=RELINK_REASON,
        extra={"rows_rehashed": rehashed, "rows_sealed_before_request_context": plan.affected,
               "first_id": plan.first_id, "first_seq": plan.first_seq, "last_affected_id": plan.last_id},
    )
