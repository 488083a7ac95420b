"""Tamper evidence for the audit trail: a SHA-256 hash chain over every row, and signed checkpoints.

Canonical form (chain version 1) — what an outside tool recomputes for each row, in `seq` order:

    document   = {"fields": {<HASHED_FIELDS, normalised>}, "prev_hash": <hex>, "seq": <int>, "version": 1}
    bytes      = UTF-8 of json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                 (a lone surrogate, which only SQLite-stored JSON can hold, is encoded "surrogatepass")
    entry_hash = lowercase hex SHA-256 of bytes

The first row (seq 1) has prev_hash = GENESIS_HASH (64 zeros); every later row's prev_hash is the
entry_hash of the row with seq - 1. `seq` is gap-free and unique, so a missing row is visible.
Field normalisation (`canonical_fields`): text as is (null stays null); integers as integers;
booleans as true/false; foreign keys as the referenced key (UUIDs as lowercase hyphenated strings,
integers as integers); `timestamp` as UTC ISO-8601 with microseconds (`2026-01-31T12:00:00.000000+00:00`);
`remote_addr` as dotted IPv4 or fully expanded lowercase IPv6; JSON columns as their decoded JSON value,
with every number whose value is integral written as an integer (`1.0` → `1`), because PostgreSQL's
jsonb returns `1e16` as `10000000000000000` and reorders keys — the hash is over the loaded values,
never over database text. The row id is not hashed (the database assigns it after the hash is
computed); the verifier requires ids to increase with `seq`.

Checkpoint: {"chain", "version", "last_id", "seq", "head_hash", "time"} plus "signature" = lowercase
hex HMAC-SHA256 under settings.AUDIT_SIGNING_KEY (UTF-8) of the canonical JSON of the other keys.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Callable, Iterable

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

CHAIN_NAME = "commandcentral.audit"
CHAIN_VERSION = 1
GENESIS_HASH = "0" * 64
# Key of the PostgreSQL transaction-level advisory lock that serializes appends ("CCAUDIT1").
CHAIN_LOCK_KEY = 0x4343_4155_4449_5431
# Rows the API/admin status walks at most when no recent checkpoint bounds the work.
DEFAULT_TAIL_LIMIT = 50_000
# How far from a broken row the status views look for where its content came from (bounded time).
SEARCH_WINDOW = 10_000

# Every column of AuditEntry that carries meaning, with how it is normalised before hashing.
# Not hashed: id (assigned after hashing) and the chain columns themselves (seq/prev_hash are in the
# document; entry_hash is the result).
HASHED_FIELDS: dict[str, str] = {
    "action": "int",
    "actor_email": "text",
    "actor_id": "key",
    "actor_type": "text",
    "additional_data": "json",
    "changes": "json",
    "changes_text": "text",
    "cid": "text",
    "content_type_id": "key",
    "entity_id": "text",
    "entity_type": "text",
    "event_name": "text",
    "event_type": "text",
    "extra": "json",
    "failure_reason": "text",
    "from_state": "text",
    "object_id": "int",
    "object_pk": "text",
    "object_repr": "text",
    "project_id": "key",
    "rationale": "text",
    "remote_addr": "ip",
    "remote_port": "int",
    "serialized_data": "json",
    "success": "bool",
    "timestamp": "datetime",
    "to_state": "text",
    "transition": "text",
}
CHAIN_FIELDS = ("id", "seq", "prev_hash", "entry_hash")


class ChainConfigurationError(Exception):
    """The chain cannot be sealed or checked as configured (e.g. no signing key)."""


# --- Canonical serialization ----------------------------------------------------------------------


def _json_value(value):
    """Plain JSON types with integral numbers as ints: stable across a jsonb round trip."""
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        exact = Decimal(repr(value))
        if exact == exact.to_integral_value():
            return int(exact)
    return value


def _normalise(kind: str, value):
    if value is None:
        return None
    if kind == "text":
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind == "key":
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, int):
            return value
        text = str(value)
        try:
            return str(uuid.UUID(text))
        except ValueError:
            return int(text) if text.isdigit() else text
    if kind == "datetime":
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt_timezone.utc)
        return value.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")
    if kind == "ip":
        try:
            address = ipaddress.ip_address(str(value))
        except ValueError:
            return str(value)
        return address.exploded if address.version == 6 else str(address)
    if kind == "json":
        # The same round trip the database does (tuples → lists, keys → strings), then numbers.
        return _json_value(json.loads(json.dumps(value)))
    raise ValueError(f"unknown field kind {kind!r}")


def canonical_fields(values) -> dict:
    """The hashed content of one row; `values` maps attribute names to Python values (instance or .values())."""
    getter = values.get if isinstance(values, dict) else (lambda name: getattr(values, name))
    return {name: _normalise(kind, getter(name)) for name, kind in HASHED_FIELDS.items()}


def canonical_json(document: dict) -> bytes:
    # surrogatepass: a lone surrogate can only exist inside SQLite-stored JSON; hash it rather than fail the write.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def canonical_bytes(fields: dict, *, seq: int, prev_hash: str) -> bytes:
    return canonical_json({"fields": fields, "prev_hash": prev_hash, "seq": seq, "version": CHAIN_VERSION})


def entry_hash_of(values, *, seq: int, prev_hash: str) -> str:
    """entry_hash of a row with this content at this position of the chain."""
    return hashlib.sha256(canonical_bytes(canonical_fields(values), seq=seq, prev_hash=prev_hash)).hexdigest()


# --- Appending --------------------------------------------------------------------------------------


def lock_chain(using: str = "default") -> None:
    """Serialize appenders until the current transaction ends. Call inside transaction.atomic().

    PostgreSQL: a transaction-level advisory lock — it exists even when the table is empty, unlike a
    row lock on the tail (PITFALLS §6.3). SQLite: nothing to do; the settings open every transaction
    with BEGIN IMMEDIATE, which already holds the database's single write lock.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_head(using: str = "default") -> tuple[int, str]:
    """(seq, entry_hash) of the newest row, or (0, GENESIS_HASH) for an empty trail."""
    from .models import AuditEntry

    connection = connections[using]
    # Plain SQL: this runs for every audit row, and compiling the ORM query cost more than running it.
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, entry_hash FROM {table} ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    return (head[0], head[1]) if head is not None else (0, GENESIS_HASH)


def seal(entry, *, using: str = "default") -> None:
    """Give a new row its place in the chain. The caller holds an atomic block around this and the INSERT."""
    lock_chain(using)
    head_seq, head_hash = chain_head(using)
    entry.seq = head_seq + 1
    entry.prev_hash = head_hash
    entry.entry_hash = entry_hash_of(entry, seq=entry.seq, prev_hash=head_hash)


# --- Verification -----------------------------------------------------------------------------------


class BreakKind:
    CHANGED_CONTENT = "changed_content"
    # A row hashed before django-auditlog's pre_save receiver filled remote_addr (and, for a row with
    # no actor, the actor): every web-request row written before the fix of issue 13. Its content is
    # otherwise what was hashed; `manage.py audit_relink` re-hashes such rows.
    SEALED_BEFORE_REQUEST_CONTEXT = "sealed_before_request_context"
    MISSING_ROW = "missing_row"
    REORDERED_ROW = "reordered_row"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"


@dataclass
class ChainBreak:
    kind: str
    row_id: int | None
    seq: int | None
    message: str


@dataclass
class Anchor:
    """Where a walk starts: the chain position just before the first row it checks."""

    seq: int = 0
    entry_hash: str = GENESIS_HASH
    row_id: int = 0


@dataclass
class ChainReport:
    rows_checked: int = 0
    first_id: int | None = None
    last_id: int | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    anchor_seq: int = 0
    scope: str = "full"
    failure: ChainBreak | None = None
    checkpoint: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["break"] = data.pop("failure")
        return data


def _rows(using: str):
    from .models import AuditEntry

    return AuditEntry._base_manager.using(using).order_by("id").values(*CHAIN_FIELDS, *HASHED_FIELDS)


def _batches(using: str, after_id: int, batch_size: int, **filters) -> Iterable[list[dict]]:
    """Keyset pagination by id: constant memory on any database, no long-lived server cursor."""
    while True:
        batch = list(_rows(using).filter(id__gt=after_id, **filters)[:batch_size])
        if not batch:
            return
        yield batch
        after_id = batch[-1]["id"]


def _where_content_belongs(content_row: dict, using: str, batch_size: int, window: int | None) -> dict | None:
    """The row whose chain position this content hashes correctly at (a moved row), if any.

    Runs only once a break is found; `window` bounds it to positions within that many seqs.
    """
    near = {} if window is None else {"seq__gte": content_row["seq"] - window, "seq__lte": content_row["seq"] + window}
    for batch in _batches(using, 0, batch_size, **near):
        for row in batch:
            if entry_hash_of(content_row, seq=row["seq"], prev_hash=row["prev_hash"]) == row["entry_hash"]:
                return row
    return None


# What auditlog's receiver set after the seal, as the row was when it was hashed (issue 13).
_BEFORE_REQUEST_CONTEXT = (
    {"remote_addr": None},
    {"remote_addr": None, "actor_id": None, "actor_email": None},
    {"actor_id": None, "actor_email": None},
)


def sealed_before_request_context(row: dict) -> bool:
    """True when the row's hash matches its content with remote_addr and/or the actor taken as empty."""
    for blanks in _BEFORE_REQUEST_CONTEXT:
        if all(row[name] is None for name in blanks):
            continue
        if entry_hash_of({**row, **blanks}, seq=row["seq"], prev_hash=row["prev_hash"]) == row["entry_hash"]:
            return True
    return False


def _diagnose(row: dict, expected: Anchor, using: str, batch_size: int, window: int | None) -> ChainBreak | None:
    """Why `row` does not continue the chain after `expected`, or None when it does."""
    from .models import AuditEntry

    if entry_hash_of(row, seq=row["seq"], prev_hash=row["prev_hash"]) != row["entry_hash"]:
        linked = row["seq"] == expected.seq + 1 and row["prev_hash"] == expected.entry_hash
        if linked and sealed_before_request_context(row):
            return ChainBreak(
                BreakKind.SEALED_BEFORE_REQUEST_CONTEXT, row["id"], row["seq"],
                f"row #{row['id']} (seq {row['seq']}) was hashed before its remote address or actor were filled "
                "in (a web-request row written before the fix of issue 13); its content matches its hash once "
                "those are taken as empty. `manage.py audit_relink` re-hashes such rows when no checkpoint covers them.",
            )
        home = _where_content_belongs(row, using, batch_size, window)
        if home is not None and home["id"] != row["id"]:
            return ChainBreak(
                BreakKind.REORDERED_ROW, row["id"], row["seq"],
                f"row #{row['id']} holds the content of chain position seq {home['seq']} (row #{home['id']}).",
            )
        return ChainBreak(
            BreakKind.CHANGED_CONTENT, row["id"], row["seq"],
            f"row #{row['id']} (seq {row['seq']}): its content no longer matches its entry_hash.",
        )
    want = expected.seq + 1
    if row["seq"] == want and row["prev_hash"] == expected.entry_hash:
        return None
    if row["seq"] > want:
        elsewhere = AuditEntry._base_manager.using(using).filter(seq=want).values_list("id", flat=True).first()
        if elsewhere is not None:
            return ChainBreak(
                BreakKind.REORDERED_ROW, row["id"], row["seq"],
                f"row #{row['id']} has seq {row['seq']} but follows seq {expected.seq}; seq {want} is row #{elsewhere}.",
            )
        gap = f"seq {want}" if row["seq"] == want + 1 else f"seq {want}..{row['seq'] - 1}"
        return ChainBreak(
            BreakKind.MISSING_ROW, row["id"], row["seq"],
            f"{gap} missing: deleted between row #{expected.row_id or '-'} and row #{row['id']}.",
        )
    if row["seq"] < want:
        return ChainBreak(
            BreakKind.REORDERED_ROW, row["id"], row["seq"],
            f"row #{row['id']} has seq {row['seq']} but comes after seq {expected.seq}.",
        )
    if expected.row_id == 0:
        return ChainBreak(
            BreakKind.CHANGED_CONTENT, row["id"], row["seq"],
            f"row #{row['id']} (seq {row['seq']}) does not link to the {'genesis value' if expected.seq == 0 else 'anchor'}.",
        )
    # Right position, self-consistent, but it links to a different predecessor: the previous row was
    # rewritten and re-hashed (its own hash checks out, the link from this row does not).
    return ChainBreak(
        BreakKind.CHANGED_CONTENT, expected.row_id or None, expected.seq,
        f"row #{expected.row_id} (seq {expected.seq}) was rewritten: row #{row['id']} links to a different hash.",
    )


def anchor_before(row_id: int, using: str = "default") -> Anchor:
    """The chain position just before the first row with id >= row_id."""
    from .models import AuditEntry

    previous = (
        AuditEntry._base_manager.using(using).filter(id__lt=row_id).order_by("-id").values("id", "seq", "entry_hash").first()
    )
    if previous is None:
        return Anchor()
    return Anchor(seq=previous["seq"], entry_hash=previous["entry_hash"], row_id=previous["id"])


def verify_chain(
    *,
    anchor: Anchor | None = None,
    batch_size: int = 1000,
    progress: Callable[[ChainReport], None] | None = None,
    search_window: int | None = SEARCH_WINDOW,
    using: str = "default",
) -> ChainReport:
    """Walk every row after `anchor` (default: from genesis) in id order; stop at the first break.

    On a content break, the rows within `search_window` seqs (None: all) are searched for the
    position the content came from, to tell a moved row from an edited one.
    """
    anchor = anchor or Anchor()
    report = ChainReport(anchor_seq=anchor.seq, head_seq=anchor.seq, head_hash=anchor.entry_hash)
    expected = anchor
    for batch in _batches(using, anchor.row_id, batch_size):
        for row in batch:
            failure = _diagnose(row, expected, using, batch_size, search_window)
            if failure is not None:
                report.failure = failure
                return report
            report.rows_checked += 1
            report.first_id = report.first_id or row["id"]
            report.last_id = row["id"]
            expected = Anchor(seq=row["seq"], entry_hash=row["entry_hash"], row_id=row["id"])
        report.head_seq, report.head_hash = expected.seq, expected.entry_hash
        if progress is not None:
            progress(report)
    report.head_seq, report.head_hash = expected.seq, expected.entry_hash
    return report


# --- Re-linking rows sealed before the request context (issue 13) ----------------------------------


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


RELINK_REASON = (
    "Rows written by web requests before the fix of issue 13 were hashed before django-auditlog's pre_save "
    "receiver set their remote address (and, for rows with no actor, the actor), so each failed its own hash. "
    "Their content is unchanged; only entry_hash and the prev_hash links after the first of them were recomputed."
)


def relink(*, actor=None, batch_size: int = 1000, using: str = "default") -> tuple[RelinkPlan, int]:
    """Re-hash every row from the first one sealed before its request context to the head.

    Only the chain columns change (entry_hash, and the prev_hash links after it); no content is
    touched. Refused when the chain has any other break or a stored checkpoint covers an affected
    row (re-hashing would rewrite a head someone vouched for). Runs in one transaction holding the
    chain lock; on PostgreSQL the append-only trigger is off for that transaction only, as in
    migration 0004. Appends an `audit.relinked` row, in the same transaction, saying how many rows
    were re-hashed and why. Returns the plan and that count.
    """
    from .models import AuditCheckpoint, AuditEntry, AuditEventType
    from commandcentral.core.recording import record_event

    connection = connections[using]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(using=using):
        lock_chain(using)
        plan = relink_plan(batch_size=batch_size, using=using)
        if plan.failure is not None:
            raise ChainConfigurationError(
                f"refusing to re-link: the chain has another break ({plan.failure.kind}) at row "
                f"#{plan.failure.row_id}: {plan.failure.message}"
            )
        if plan.first_id is None:
            return plan, 0
        covering = AuditCheckpoint.objects.using(using).filter(seq__gte=plan.first_seq).order_by("seq").first()
        if covering is not None:
            raise ChainConfigurationError(
                f"refusing to re-link: checkpoint #{covering.pk} (seq {covering.seq}) was signed over rows from seq "
                f"{plan.first_seq} on; re-hashing them would rewrite a head that was vouched for."
            )
        rehashed = 0
        previous = anchor_before(plan.first_id, using)
        prev_hash = previous.entry_hash
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending FK checks
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_auditentry_append_only")
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
            if postgres:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_auditentry_append_only")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        record_event(
            event_type=AuditEventType.AUDIT_MAINTENANCE, event_name="audit.relinked", actor=actor,
            rationale=RELINK_REASON,
            extra={"rows_rehashed": rehashed, "rows_sealed_before_request_context": plan.affected,
                   "first_id": plan.first_id, "first_seq": plan.first_seq, "last_affected_id": plan.last_id},
        )
    return plan, rehashed


# --- Checkpoints ------------------------------------------------------------------------------------


def signing_key() -> bytes:
    key = getattr(settings, "AUDIT_SIGNING_KEY", "") or ""
    if not key:
        raise ChainConfigurationError(
            "AUDIT_SIGNING_KEY is empty: set it in the environment (a long random secret kept outside the database)."
        )
    return key.encode("utf-8")


def sign(body: dict, key: bytes) -> str:
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def make_checkpoint(*, using: str = "default", now: datetime | None = None) -> dict:
    """A signed statement of the current head: {chain, version, last_id, seq, head_hash, time, signature}."""
    from .models import AuditEntry

    key = signing_key()
    head = AuditEntry._base_manager.using(using).order_by("-seq").values("id", "seq", "entry_hash").first()
    body = {
        "chain": CHAIN_NAME,
        "version": CHAIN_VERSION,
        "last_id": head["id"] if head else None,
        "seq": head["seq"] if head else 0,
        "head_hash": head["entry_hash"] if head else GENESIS_HASH,
        "time": (now or timezone.now()).astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
    }
    return {**body, "signature": sign(body, key)}


def checkpoint_signature_valid(document: dict, key: bytes) -> bool:
    body = {name: value for name, value in document.items() if name != "signature"}
    return hmac.compare_digest(sign(body, key), str(document.get("signature", "")))


def parse_checkpoint(text: str) -> dict:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ChainConfigurationError(f"checkpoint is not JSON: {error}") from error
    missing = {"chain", "version", "last_id", "seq", "head_hash", "time", "signature"} - set(document if isinstance(document, dict) else {})
    if missing:
        raise ChainConfigurationError(f"checkpoint lacks {', '.join(sorted(missing))}")
    if document["chain"] != CHAIN_NAME or document["version"] != CHAIN_VERSION:
        raise ChainConfigurationError(f"checkpoint is for {document['chain']} v{document['version']}, not this chain")
    return document


def check_checkpoint(document: dict, key: bytes, *, using: str = "default") -> ChainBreak | None:
    """None when the signature is ours and the stored chain still has the checkpoint's head at its place."""
    if not checkpoint_signature_valid(document, key):
        return ChainBreak(
            BreakKind.CHECKPOINT_MISMATCH, None, document.get("seq"),
            "checkpoint signature does not verify: signed with another key, or edited.",
        )
    seq = int(document["seq"])
    if seq == 0:
        return None
    row = _rows(using).filter(seq=seq).first()
    if row is None:
        return ChainBreak(
            BreakKind.MISSING_ROW, document["last_id"], seq,
            f"the checkpoint's head (seq {seq}, row #{document['last_id']}) is gone: the trail was truncated.",
        )
    if row["entry_hash"] != document["head_hash"] or row["id"] != document["last_id"]:
        return ChainBreak(
            BreakKind.CHECKPOINT_MISMATCH, row["id"], seq,
            f"seq {seq} is row #{row['id']} with hash {row['entry_hash'][:16]}…, the checkpoint says row "
            f"#{document['last_id']} with {document['head_hash'][:16]}…: the chain was rewritten.",
        )
    if entry_hash_of(row, seq=row["seq"], prev_hash=row["prev_hash"]) != row["entry_hash"]:
        return ChainBreak(
            BreakKind.CHANGED_CONTENT, row["id"], seq, f"row #{row['id']} (the checkpoint's head) was changed."
        )
    return None


def checkpoint_anchor(document: dict) -> Anchor:
    if int(document["seq"]) == 0:
        return Anchor()
    return Anchor(seq=int(document["seq"]), entry_hash=document["head_hash"], row_id=int(document["last_id"]))


# --- Status for the API and the admin --------------------------------------------------------------


def chain_status(*, full: bool = False, tail_limit: int | None = None, using: str = "default") -> ChainReport:
    """Verify the tail since the newest stored checkpoint (bounded by tail_limit rows), or everything.

    Without a signing key the stored checkpoint cannot be trusted, so the walk is bounded by
    tail_limit alone and the report says so.
    """
    from .models import AuditCheckpoint, AuditEntry

    limit = tail_limit or getattr(settings, "AUDIT_VERIFY_TAIL_LIMIT", DEFAULT_TAIL_LIMIT)
    latest = AuditCheckpoint.objects.using(using).order_by("-id").first()
    checkpoint_info, anchor, scope = None, Anchor(), "full"
    failure = None
    if latest is not None:
        document = json.loads(latest.document)
        checkpoint_info = {"id": latest.pk, "last_id": latest.last_id, "seq": latest.seq,
                           "head_hash": latest.head_hash, "time": document.get("time"), "signature_valid": None}
        key = (getattr(settings, "AUDIT_SIGNING_KEY", "") or "").encode("utf-8")
        if key:
            failure = check_checkpoint(document, key, using=using)
            checkpoint_info["signature_valid"] = checkpoint_signature_valid(document, key)
            if failure is None and not full:
                anchor, scope = checkpoint_anchor(document), "since_checkpoint"
    head_seq = chain_head(using)[0]
    if not full and head_seq - anchor.seq > limit:
        start = AuditEntry._base_manager.using(using).filter(seq__gt=head_seq - limit).order_by("seq").values_list("id", flat=True).first()
        anchor, scope = anchor_before(start, using), "tail"
    report = verify_chain(anchor=anchor, using=using) if failure is None else ChainReport(failure=failure)
    report.scope = scope
    report.checkpoint = checkpoint_info
    if scope == "tail":
        report.notes.append(f"Only the last {limit} rows were checked; run verify_audit for the whole trail.")
    if checkpoint_info and checkpoint_info["signature_valid"] is None:
        report.notes.append("AUDIT_SIGNING_KEY is not set: the stored checkpoint's signature was not checked.")
    return report
