"""Appending to the hash chain and walking it: where a row goes, and why a row does not fit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

from django.apps import apps
from django.db import connections

from .canonical import CHAIN_FIELDS, GENESIS_HASH, HASHED_FIELDS, entry_hash_of

# Key of the PostgreSQL transaction-level advisory lock that serializes appends ("CCAUDIT1").
CHAIN_LOCK_KEY = 0x4343_4155_4449_5431
# How far from a broken row the status views look for where its content came from (bounded time).
SEARCH_WINDOW = 10_000


class ChainConfigurationError(Exception):
    """The chain cannot be sealed or checked as configured (e.g. no signing key)."""


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
    AuditEntry = apps.get_model("audit", "AuditEntry")

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
    AuditEntry = apps.get_model("audit", "AuditEntry")

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
    if entry_hash_of(row, seq=row["seq"], prev_hash=row["prev_hash"]) != row["entry_hash"]:
        return _content_break(row, expected, using, batch_size, window)
    return _link_break(row, expected, using)


def _content_break(row: dict, expected: Anchor, using: str, batch_size: int, window: int | None) -> ChainBreak:
    """`row` fails its own hash: sealed before its request context, moved from elsewhere, or edited."""
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


def _link_break(row: dict, expected: Anchor, using: str) -> ChainBreak | None:
    """`row` matches its own hash; None when it also follows `expected`, else why it does not."""
    want = expected.seq + 1
    if row["seq"] == want and row["prev_hash"] == expected.entry_hash:
        return None
    if row["seq"] > want:
        return _skipped_seq_break(row, expected, using)
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


def _skipped_seq_break(row: dict, expected: Anchor, using: str) -> ChainBreak:
    """`row` comes later in the chain than `expected` allows: the seqs between are elsewhere or gone."""
    AuditEntry = apps.get_model("audit", "AuditEntry")

    want = expected.seq + 1
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


def anchor_before(row_id: int, using: str = "default") -> Anchor:
    """The chain position just before the first row with id >= row_id."""
    AuditEntry = apps.get_model("audit", "AuditEntry")

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
