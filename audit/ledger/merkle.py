"""RFC 9162 tree heads and proofs built from stored complete subtrees, with O(log n) lookups.

A tree of size n is stored as the hashes of its *complete aligned subtrees*: (level, index) is the
subtree over leaves [index·2^level, (index+1)·2^level); level 0 is a leaf hash. Every subtree hash an
RFC 9162 proof needs, MTH(D[start:end]), is either such a subtree or the right edge of the tree, which
is the right fold of the complete subtrees its binary decomposition names. So the root and every
proof are computed from O(log n) stored hashes, fetched in one batch: `needed_*` names them,
`*_from` computes from a {(level, index): hash} mapping.

Stand-alone (no Django): the hashes come from `verifier`, so the serving side and the checking side
cannot drift apart.
"""

from __future__ import annotations

from .verifier import EMPTY_ROOT, node_hash

# Stored inner nodes are keyed level · 2^48 + index (audit.LedgerNode.key); 2^48 leaves is beyond any trail.
NODE_INDEX_BITS = 48


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(start: int, end: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees covering [start, end), left to right, for a range MTH uses.

    Valid for the ranges RFC 9162's recursion produces: start is a multiple of a power of two ≥ end-start.
    """
    pieces = []
    while start < end:
        size = _split(end - start) if end - start > 1 else 1
        if end - start & (end - start - 1) == 0:
            size = end - start
        level = size.bit_length() - 1
        pieces.append((level, start >> level))
        start += size
    return pieces


def subtree_hash(start: int, end: int, nodes: dict) -> bytes:
    """MTH(D[start:end]) from stored complete subtrees."""
    pieces = [nodes[piece] for piece in decompose(start, end)]
    value = pieces.pop()
    while pieces:
        value = node_hash(pieces.pop(), value)
    return value


def _inclusion_ranges(index: int, start: int, end: int, out: list) -> None:
    """The subtree ranges whose hashes form PATH(index, D[start:end]), leaf side first."""
    if end - start <= 1:
        return
    k = _split(end - start)
    if index < k:
        _inclusion_ranges(index, start, start + k, out)
        out.append((start + k, end))
    else:
        _inclusion_ranges(index - k, start + k, end, out)
        out.append((start, start + k))


def _consistency_ranges(m: int, start: int, end: int, whole: bool, out: list) -> None:
    """SUBPROOF(m, D[start:end], whole) as subtree ranges (RFC 9162 §2.1.4.1)."""
    n = end - start
    if m == n:
        if not whole:
            out.append((start, end))
        return
    k = _split(n)
    if m <= k:
        _consistency_ranges(m, start, start + k, whole, out)
        out.append((start + k, end))
    else:
        _consistency_ranges(m - k, start + k, end, False, out)
        out.append((start, start + k))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    out: list = []
    _inclusion_ranges(index, 0, size, out)
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    out: list = []
    _consistency_ranges(first, 0, second, True, out)
    return out


def needed(ranges) -> set[tuple[int, int]]:
    """Every stored subtree the given ranges are computed from."""
    return {piece for start, end in ranges for piece in decompose(start, end)}


def root_ranges(size: int) -> list[tuple[int, int]]:
    return [(0, size)] if size else []


def hashes_from(ranges, nodes: dict) -> list[bytes]:
    return [subtree_hash(start, end, nodes) for start, end in ranges]


def root_from(size: int, nodes: dict) -> bytes:
    return subtree_hash(0, size, nodes) if size else EMPTY_ROOT


def new_subtrees(first_index: int, leaf_hashes: list[bytes], frontier: dict) -> dict:
    """The complete subtrees (level ≥ 1) that appending `leaf_hashes` at `first_index` completes.

    `frontier` maps (level, index) to the hashes of the complete subtrees of the tree before the
    append that later ones are built on: those of `frontier_of(first_index)`.
    """
    known = dict(frontier)
    made = {}
    for offset, value in enumerate(leaf_hashes):
        index, level = first_index + offset, 0
        known[(0, index)] = value
        while index & 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            known[(level, index)] = made[(level, index)] = value
    return made


def frontier_of(size: int) -> set[tuple[int, int]]:
    """The complete subtrees a tree of this size ends with (one per set bit): what the next leaf joins."""
    return {(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1}
