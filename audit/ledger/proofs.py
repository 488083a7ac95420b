"""Inclusion and consistency proofs as the API serves them, from O(log n) stored subtrees. Reads only."""

from __future__ import annotations

import math

from django.apps import apps
from django.conf import settings

from . import merkle
from .canonical import HASHED_FIELDS, canonical_bytes
from .checkpoints import latest_checkpoint, stored_checkpoint
from .sequencer import fetch_nodes, tree_size
from .verifier import b64encode


class ProofUnavailable(Exception):
    """The proof cannot be made for this tree (yet): HTTP 409. `retry_after` (seconds) when waiting helps."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def checkpoint_wait() -> int:
    """Seconds until the next checkpoint is due, at most: what a 409 tells a client to wait."""
    return max(1, math.ceil(float(getattr(settings, "AUDIT_CHECKPOINT_INTERVAL", 5) or 5)))


def inclusion_proof(entry_id: int, size: int | None = None, using: str = "default") -> dict:
    """{"leaf_index", "tree_size", "leaf_hash", "inclusion_path", "canonical", "checkpoint"} of one audit row.

    Served from stored checkpoints only (nothing is signed or written here): `size` defaults to the newest
    checkpoint's, and a row the newest checkpoint does not cover yet is a 409 with Retry-After, as a
    Certificate Transparency log answers within its merge delay.
    """
    AuditEntry = apps.get_model("audit", "AuditEntry")
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    leaf = LedgerLeaf.objects.using(using).filter(entry_id=entry_id).values("leaf_index", "leaf_hash").first()
    if leaf is None:
        raise ProofUnavailable(f"audit row #{entry_id} is not sealed into the ledger yet.", checkpoint_wait())
    index = leaf["leaf_index"]
    if size is None:
        head = latest_checkpoint(using)
        if head is None or head.tree_size <= index:
            raise ProofUnavailable(
                f"audit row #{entry_id} is leaf {index}, which the newest signed checkpoint does not cover yet.", checkpoint_wait(),
            )
    else:
        if size <= index:
            raise ProofUnavailable(f"audit row #{entry_id} is leaf {index}: a tree of size {size} does not hold it yet.")
        head = stored_checkpoint(size, using)
        if head is None:
            newest = latest_checkpoint(using)
            if newest is None or size > newest.tree_size:
                raise ProofUnavailable(
                    f"tree_size {size} is beyond the newest signed checkpoint"
                    f"{f' ({newest.tree_size})' if newest else ''}.", checkpoint_wait(),
                )
            raise ProofUnavailable(f"no checkpoint of tree size {size} was signed; ask for the newest (no tree_size) or a signed size.")
    ranges = merkle.inclusion_ranges(index, head.tree_size)
    path = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges), using))
    row = AuditEntry._base_manager.using(using).filter(pk=entry_id).values("id", *HASHED_FIELDS).get()
    return {
        "leaf_index": index,
        "tree_size": head.tree_size,
        "leaf_hash": b64encode(bytes(leaf["leaf_hash"])),
        "inclusion_path": [b64encode(value) for value in path],
        "canonical": b64encode(canonical_bytes(row)),
        "checkpoint": head.note,
    }


def consistency_proof(first: int, second: int, using: str = "default") -> dict:
    """RFC 9162 consistency proof that the tree of size `second` extends the one of size `first`."""
    if first > second:
        raise ValueError("first must not be greater than second.")
    current = tree_size(using)
    if second > current:
        raise ProofUnavailable(f"second={second} is beyond the ledger, which holds {current} leaves.")
    ranges = merkle.consistency_ranges(first, second)
    path = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges), using))
    return {"first": first, "second": second, "consistency_path": [b64encode(value) for value in path]}
