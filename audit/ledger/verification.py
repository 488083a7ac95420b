"""Verifying the ledger against the rows: every leaf recomputed, the stored tree and checkpoints checked.

`verify_ledger` walks the leaves in index order in batches (constant memory: the tree is rebuilt with
a stack of at most log2(n) subtree hashes) and stops at the first break:

    changed_content   a row's canonical bytes no longer hash to its leaf
    missing_row       a leaf index is absent, or the tree is smaller than a signed checkpoint
    leaf_without_row  a leaf points at no audit row
    unqueued_row      an audit row is in neither the ledger nor the queue (whatever its age)
    tree_mismatch     a stored subtree hash differs from the one recomputed from the rows
    checkpoint_mismatch  a checkpoint's signature fails, or its root is not the tree's root at its size
    diverged          the tree does not extend the last tree the signer signed (its record, kept outside
                      the database: deleting the stored checkpoints does not hide a rewrite), or the
                      signer has stopped signing because of that

It reads only: rows still queued are counted (unsealed_rows), not sealed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from django.apps import apps

from . import merkle, signer
from .canonical import HASHED_FIELDS, canonical_bytes
from .checkpoints import signing_key
from .merkle import NODE_INDEX_BITS
from .sequencer import fetch_nodes, tree_size
from .verifier import (
    EMPTY_ROOT,
    Checkpoint,
    VerificationError,
    b64decode,
    b64encode,
    leaf_hash,
    node_hash,
    verify_checkpoint,
    verify_consistency,
)


class BreakKind:
    CHANGED_CONTENT = "changed_content"
    MISSING_ROW = "missing_row"
    LEAF_WITHOUT_ROW = "leaf_without_row"
    UNQUEUED_ROW = "unqueued_row"
    TREE_MISMATCH = "tree_mismatch"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    DIVERGED = "diverged"


@dataclass
class LedgerBreak:
    kind: str
    row_id: int | None
    leaf_index: int | None
    message: str


@dataclass
class LedgerReport:
    tree_size: int = 0
    scope: str = "full"  # or "since_checkpoint": the leaves after the newest stored checkpoint that holds
    anchor_size: int = 0  # the tree size the walk started after
    leaves_checked: int = 0
    root_hash: str = ""
    checkpoints_checked: int = 0
    unsealed_rows: int = 0
    failure: LedgerBreak | None = None
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


class _Stack:
    """The tree rebuilt leaf by leaf: the complete subtrees so far, with the ones each leaf completes."""

    def __init__(self):
        self.items: list[tuple[int, int, bytes]] = []  # (level, index, hash)

    def push(self, index: int, value: bytes) -> list[tuple[int, int, bytes]]:
        completed, level = [], 0
        while self.items and self.items[-1][0] == level:
            _, _, left = self.items.pop()
            value, level, index = node_hash(left, value), level + 1, index >> 1
            completed.append((level, index, value))
        self.items.append((level, index, value))
        return completed

    def root(self) -> bytes:
        return EMPTY_ROOT if not self.items else _fold([value for _, _, value in self.items])


def _fold(values: list[bytes]) -> bytes:
    value = values[-1]
    for left in reversed(values[:-1]):
        value = node_hash(left, value)
    return value


def _stored_nodes(start: int, end: int, using: str) -> dict:
    """Stored subtrees of level ≥ 1 completed by leaves [start, end), by (level, index)."""
    LedgerNode = apps.get_model("audit", "LedgerNode")
    found, level = {}, 1
    while (1 << level) <= end:
        first, last = start >> level, (end >> level) - 1
        if last >= first:
            keys = (LedgerNode.key_of(level, first), LedgerNode.key_of(level, last))
            for key, value in LedgerNode.objects.using(using).filter(key__gte=keys[0], key__lte=keys[1]).values_list("key", "hash"):
                found[(level, key & ((1 << NODE_INDEX_BITS) - 1))] = bytes(value)
        level += 1
    return found


def verify_ledger(
    *,
    batch_size: int = 1000,
    checkpoint: Checkpoint | None = None,
    progress: Callable[[LedgerReport], None] | None = None,
    since_checkpoint: bool = False,
    against_signer: bool = True,
    using: str = "default",
) -> LedgerReport:
    """Check every leaf, the stored tree, every stored checkpoint, the signer's record and (if given) an
    outside checkpoint already verified against the public key. Rows still queued are not sealed here.

    since_checkpoint=True (the API and admin default, bounded work): start after the newest stored
    checkpoint whose signature holds, from the stored subtrees of its frontier — once they give its
    signed root they are that tree (SHA-256 collision resistance), so only the leaves after it are read.
    """
    AuditEntry = apps.get_model("audit", "AuditEntry")
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    report = LedgerReport(tree_size=tree_size(using))
    verifier = signing_key().verifier
    checkpoints: dict[int, list[tuple[str, bytes, str]]] = {}
    for size, root, note in LedgerCheckpoint.objects.using(using).order_by("tree_size").values_list("tree_size", "root_hash", "note"):
        checkpoints.setdefault(size, []).append(("stored", bytes(root), note))
    if checkpoint is not None:
        checkpoints.setdefault(checkpoint.size, []).append(("given", checkpoint.root_hash, ""))
    biggest = max(checkpoints, default=0)
    if biggest > report.tree_size:
        report.failure = LedgerBreak(
            BreakKind.MISSING_ROW, None, report.tree_size,
            f"a checkpoint covers {biggest} leaves but the ledger holds {report.tree_size}: rows and leaves were removed.",
        )
        return report
    if 0 in checkpoints:
        report.failure = _check_checkpoints(checkpoints.pop(0), _Stack().root(), 0, verifier, report)
        if report.failure:
            return report
    stack, start = _Stack(), 0
    if since_checkpoint:
        anchor = _anchor(checkpoints, verifier)
        if anchor is not None:
            report.failure, stack = _stack_at(anchor, checkpoints[anchor][0][1], using)
            if report.failure:
                return report
            start = report.anchor_size = anchor
            report.scope = "since_checkpoint"
            checkpoints = {size: entries for size, entries in checkpoints.items() if size > anchor}
    while start < report.tree_size:
        end = min(start + batch_size, report.tree_size)
        leaves = list(LedgerLeaf.objects.using(using).filter(leaf_index__gte=start, leaf_index__lt=end)
                      .order_by("leaf_index").values_list("leaf_index", "entry_id", "leaf_hash"))
        rows = {row["id"]: row for row in AuditEntry._base_manager.using(using)
                .filter(id__in=[entry_id for _, entry_id, _ in leaves]).values("id", *HASHED_FIELDS)}
        stored = _stored_nodes(start, end, using)
        for expected, (index, entry_id, stored_hash) in zip(range(start, end), leaves + [(None, None, None)] * (end - start - len(leaves))):
            report.failure = _check_leaf(expected, index, entry_id, stored_hash, rows)
            if report.failure is None:
                for level, node_index, value in stack.push(expected, leaf_hash(canonical_bytes(rows[entry_id]))):
                    if stored.get((level, node_index)) != value:
                        report.failure = LedgerBreak(
                            BreakKind.TREE_MISMATCH, None, node_index << level,
                            f"the stored subtree (level {level}, index {node_index}) is not the hash of its leaves "
                            f"{node_index << level}..{((node_index + 1) << level) - 1} recomputed from the rows.",
                        )
                        break
            if report.failure:
                return report
            report.leaves_checked += 1
            if expected + 1 in checkpoints:
                report.failure = _check_checkpoints(checkpoints[expected + 1], stack.root(), expected + 1, verifier, report)
                if report.failure:
                    return report
        start = end
        if progress is not None:
            progress(report)
    report.root_hash = b64encode(stack.root())
    report.failure = _unqueued_rows(report, using) or (_against_signer_record(report, using) if against_signer else None)
    if report.failure is None and checkpoint is not None:
        report.failure = _consistency_to_today(checkpoint, report, using)
    return report


def _against_signer_record(report: LedgerReport, using: str) -> LedgerBreak | None:
    """The tree extends the last tree the signer signed (its record, outside the database)."""
    try:
        record = signer.read_record()
    except signer.SignerStateError as error:
        return LedgerBreak(BreakKind.DIVERGED, None, None, f"{signer.DIVERGED}: {error}")
    if record is None:
        return None
    if record.diverged:
        return LedgerBreak(BreakKind.DIVERGED, None, record.tree_size,
                           f"{signer.DIVERGED}: {record.diverged} The signer signs nothing until an operator acts "
                           "(manage.py audit_signer).")
    root = b64decode(report.root_hash, "root")
    try:
        signer.check_extends(record, report.tree_size, root, lambda keys: fetch_nodes(keys, using))
    except signer.LedgerDiverged as error:
        return LedgerBreak(BreakKind.DIVERGED, None, record.tree_size, str(error))
    report.notes.append(f"the tree extends the signer's record (tree size {record.tree_size}).")
    return None


def _anchor(checkpoints: dict, verifier) -> int | None:
    """The newest stored checkpoint (size > 0) whose note verifies with the configured key."""
    for size in sorted(checkpoints, reverse=True):
        for origin, root, note in checkpoints[size]:
            if origin != "stored" or size == 0:
                continue
            try:
                if verify_checkpoint(note, verifier).root_hash == root:
                    return size
            except VerificationError:
                continue
    return None


def _stack_at(size: int, root: bytes, using: str) -> tuple[LedgerBreak | None, _Stack]:
    """The rebuilt tree after `size` leaves, from the stored frontier, checked against the signed root."""
    stack = _Stack()
    try:
        nodes = fetch_nodes(merkle.frontier_of(size), using)
    except KeyError as error:
        return LedgerBreak(BreakKind.TREE_MISMATCH, None, size, f"{error.args[0]} (the frontier of the checkpoint of size {size})"), stack
    if merkle.root_from(size, nodes) != root:
        return LedgerBreak(
            BreakKind.CHECKPOINT_MISMATCH, None, size,
            f"the stored subtrees no longer give the signed root of the checkpoint of size {size}: the trail was rewritten.",
        ), stack
    stack.items = [(level, index, nodes[(level, index)]) for level, index in sorted(merkle.frontier_of(size), reverse=True)]
    return None, stack


def _check_leaf(expected: int, index, entry_id, stored_hash, rows: dict) -> LedgerBreak | None:
    if index != expected:
        return LedgerBreak(BreakKind.MISSING_ROW, None, expected, f"leaf {expected} is missing: its row and leaf were deleted.")
    row = rows.get(entry_id)
    if row is None:
        return LedgerBreak(BreakKind.LEAF_WITHOUT_ROW, entry_id, index, f"leaf {index} is audit row #{entry_id}, which no longer exists.")
    if leaf_hash(canonical_bytes(row)) != bytes(stored_hash):
        return LedgerBreak(
            BreakKind.CHANGED_CONTENT, entry_id, index,
            f"audit row #{entry_id} (leaf {index}): its content no longer hashes to its leaf.",
        )
    return None


def _check_checkpoints(entries, root: bytes, size: int, verifier, report: LedgerReport) -> LedgerBreak | None:
    for origin, signed_root, note in entries:
        if origin == "stored":
            try:
                checkpoint = verify_checkpoint(note, verifier)
            except VerificationError as error:
                if f"\n\u2014 {verifier.name} " not in note:
                    report.notes.append(f"the stored checkpoint of size {size} is signed by another key (rotated?); its root was still checked.")
                else:
                    return LedgerBreak(BreakKind.CHECKPOINT_MISMATCH, None, size, f"stored checkpoint of size {size}: {error}")
            else:
                if (checkpoint.size, checkpoint.root_hash) != (size, signed_root):
                    return LedgerBreak(BreakKind.CHECKPOINT_MISMATCH, None, size, f"stored checkpoint of size {size}: its note and columns disagree.")
        if signed_root != root:
            return LedgerBreak(
                BreakKind.CHECKPOINT_MISMATCH, None, size,
                f"the {'given' if origin == 'given' else 'stored'} checkpoint of size {size} signed root "
                f"{b64encode(signed_root)}, the rows give {b64encode(root)}: the trail was rewritten.",
            )
        report.checkpoints_checked += 1
    return None


def _unqueued_rows(report: LedgerReport, using: str) -> LedgerBreak | None:
    """Rows that are neither leaves nor queued: every committed row is one or the other, whatever its age."""
    from .sequencer import unqueued, unqueued_rows

    LedgerQueue = apps.get_model("audit", "LedgerQueue")
    report.unsealed_rows = LedgerQueue.objects.using(using).count()
    if not unqueued_rows(using):
        return None
    stray = unqueued(using).order_by("id").values_list("id", flat=True).first()
    return LedgerBreak(BreakKind.UNQUEUED_ROW, stray, None, f"audit row #{stray} was never sealed into the ledger and is not queued.")


def _consistency_to_today(checkpoint: Checkpoint, report: LedgerReport, using: str) -> LedgerBreak | None:
    """The proof the API would serve from the given checkpoint to today's tree verifies."""
    ranges = merkle.consistency_ranges(checkpoint.size, report.tree_size)
    nodes = fetch_nodes(merkle.needed(ranges) | merkle.needed(merkle.root_ranges(report.tree_size)), using)
    try:
        verify_consistency(checkpoint.size, report.tree_size, checkpoint.root_hash,
                           merkle.root_from(report.tree_size, nodes), merkle.hashes_from(ranges, nodes))
    except VerificationError as error:
        return LedgerBreak(BreakKind.CHECKPOINT_MISMATCH, None, checkpoint.size, f"consistency from the given checkpoint: {error}")
    return None
