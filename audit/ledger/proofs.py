"""Inclusion and consistency proofs as the API serves them (SPEC §13), from O(log n) stored subtrees."""

from __future__ import annotations

from django.apps import apps

from . import merkle
from .canonical import HASHED_FIELDS, canonical_bytes
from .checkpoints import current_checkpoint, sign_tree
from .sequencer import fetch_nodes, seal_pending, tree_size
from .verifier import b64encode


class ProofUnavailable(Exception):
    """The proof cannot be made for this tree (yet): HTTP 409."""


def inclusion_proof(entry_id: int, size: int | None = None, using: str = "default") -> dict:
    """{"leaf_index", "tree_size", "leaf_hash", "inclusion_path", "canonical", "checkpoint"} of one audit row.

    `size` defaults to the latest checkpoint's (the whole tree, signed and stored when it has grown).
    """
    AuditEntry = apps.get_model("audit", "AuditEntry")
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    seal_pending(using)
    leaf = LedgerLeaf.objects.using(using).filter(entry_id=entry_id).values("leaf_index", "leaf_hash").first()
    if leaf is None:
        raise ProofUnavailable(f"audit row #{entry_id} is not sealed into the ledger yet.")
    index = leaf["leaf_index"]
    if size is None:
        head = current_checkpoint(using)
        size, note = head.tree_size, head.note
    else:
        current = tree_size(using)
        if size > current:
            raise ProofUnavailable(f"tree_size {size} is beyond the ledger, which holds {current} leaves.")
        if size <= index:
            raise ProofUnavailable(f"audit row #{entry_id} is leaf {index}: a tree of size {size} does not hold it yet.")
        note, _ = sign_tree(size, using)
    ranges = merkle.inclusion_ranges(index, size)
    path = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges), using))
    row = AuditEntry._base_manager.using(using).filter(pk=entry_id).values("id", *HASHED_FIELDS).get()
    return {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": b64encode(bytes(leaf["leaf_hash"])),
        "inclusion_path": [b64encode(value) for value in path],
        "canonical": b64encode(canonical_bytes(row)),
        "checkpoint": note,
    }


def consistency_proof(first: int, second: int, using: str = "default") -> dict:
    """RFC 9162 consistency proof that the tree of size `second` extends the one of size `first`."""
    if first > second:
        raise ValueError("first must not be greater than second.")
    seal_pending(using)
    current = tree_size(using)
    if second > current:
        raise ProofUnavailable(f"second={second} is beyond the ledger, which holds {current} leaves.")
    ranges = merkle.consistency_ranges(first, second)
    path = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges), using))
    return {"first": first, "second": second, "consistency_path": [b64encode(value) for value in path]}
