"""Tamper evidence for the audit trail: a SHA-256 hash chain over every row, and signed checkpoints.

canonical    the canonical form every row is hashed over (documented there) and the checkpoint format
chain        appending (lock_chain, chain_head, seal) and verification (verify_chain, the break kinds)
relinking    re-hashing rows sealed before their request context (issue 13)
checkpoints  signing and checking checkpoints, and the status the API and admin show

Everything is importable from here (`from audit import integrity; integrity.seal(...)`), as it was
when this was one module. Callers that replace a name here (bench/chain_overhead.py swaps `seal`)
affect callers that look it up here, such as AuditEntry.save(), not the package's own modules.
"""

from .canonical import (
    CHAIN_FIELDS,
    CHAIN_NAME,
    CHAIN_VERSION,
    GENESIS_HASH,
    HASHED_FIELDS,
    _normalise,
    canonical_bytes,
    canonical_fields,
    canonical_json,
    entry_hash_of,
)
from .chain import (
    CHAIN_LOCK_KEY,
    SEARCH_WINDOW,
    Anchor,
    BreakKind,
    ChainBreak,
    ChainConfigurationError,
    ChainReport,
    anchor_before,
    chain_head,
    lock_chain,
    seal,
    sealed_before_request_context,
    verify_chain,
)
from .checkpoints import (
    DEFAULT_TAIL_LIMIT,
    chain_status,
    check_checkpoint,
    checkpoint_anchor,
    checkpoint_signature_valid,
    make_checkpoint,
    parse_checkpoint,
    sign,
    signing_key,
)
from .relinking import RELINK_REASON, RelinkPlan, relink, relink_plan

__all__ = [
    "CHAIN_FIELDS",
    "CHAIN_LOCK_KEY",
    "CHAIN_NAME",
    "CHAIN_VERSION",
    "DEFAULT_TAIL_LIMIT",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "RELINK_REASON",
    "SEARCH_WINDOW",
    "Anchor",
    "BreakKind",
    "ChainBreak",
    "ChainConfigurationError",
    "ChainReport",
    "RelinkPlan",
    "anchor_before",
    "canonical_bytes",
    "canonical_fields",
    "canonical_json",
    "chain_head",
    "chain_status",
    "check_checkpoint",
    "checkpoint_anchor",
    "checkpoint_signature_valid",
    "entry_hash_of",
    "lock_chain",
    "make_checkpoint",
    "parse_checkpoint",
    "relink",
    "relink_plan",
    "seal",
    "sealed_before_request_context",
    "sign",
    "signing_key",
    "verify_chain",
]
