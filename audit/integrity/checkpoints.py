"""Signed checkpoints of the chain head (format: audit/integrity/canonical.py), and the status the API and admin show."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from datetime import timezone as dt_timezone

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from .canonical import CHAIN_NAME, CHAIN_VERSION, GENESIS_HASH, canonical_json, entry_hash_of
from .chain import (
    Anchor,
    BreakKind,
    ChainBreak,
    ChainConfigurationError,
    ChainReport,
    _rows,
    anchor_before,
    chain_head,
    verify_chain,
)

# Rows the API/admin status walks at most when no recent checkpoint bounds the work.
DEFAULT_TAIL_LIMIT = 50_000


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
    AuditEntry = apps.get_model("audit", "AuditEntry")

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
    limit = tail_limit or getattr(settings, "AUDIT_VERIFY_TAIL_LIMIT", DEFAULT_TAIL_LIMIT)
    checkpoint_info, failure, vouched = _latest_checkpoint(using)
    anchor, scope = (vouched, "since_checkpoint") if vouched is not None and not full else (Anchor(), "full")
    head_seq = chain_head(using)[0]
    if not full and head_seq - anchor.seq > limit:
        anchor, scope = _tail_anchor(head_seq, limit, using), "tail"
    report = verify_chain(anchor=anchor, using=using) if failure is None else ChainReport(failure=failure)
    report.scope = scope
    report.checkpoint = checkpoint_info
    if scope == "tail":
        report.notes.append(f"Only the last {limit} rows were checked; run verify_audit for the whole trail.")
    if checkpoint_info and checkpoint_info["signature_valid"] is None:
        report.notes.append("AUDIT_SIGNING_KEY is not set: the stored checkpoint's signature was not checked.")
    return report


def _latest_checkpoint(using: str) -> tuple[dict | None, ChainBreak | None, Anchor | None]:
    """The newest stored checkpoint as the report shows it, why it does not hold (None if it does), and
    the chain position it vouches for. Without a signing key nothing is checked and nothing vouched for;
    with no stored checkpoint, all three are None.
    """
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")

    latest = AuditCheckpoint.objects.using(using).order_by("-id").first()
    if latest is None:
        return None, None, None
    document = json.loads(latest.document)
    checkpoint_info = {"id": latest.pk, "last_id": latest.last_id, "seq": latest.seq,
                       "head_hash": latest.head_hash, "time": document.get("time"), "signature_valid": None}
    key = (getattr(settings, "AUDIT_SIGNING_KEY", "") or "").encode("utf-8")
    if not key:
        return checkpoint_info, None, None
    failure = check_checkpoint(document, key, using=using)
    checkpoint_info["signature_valid"] = checkpoint_signature_valid(document, key)
    return checkpoint_info, failure, checkpoint_anchor(document) if failure is None else None


def _tail_anchor(head_seq: int, limit: int, using: str) -> Anchor:
    """The chain position just before the last `limit` rows."""
    AuditEntry = apps.get_model("audit", "AuditEntry")

    start = AuditEntry._base_manager.using(using).filter(seq__gt=head_seq - limit).order_by("seq").values_list("id", flat=True).first()
    return anchor_before(start, using)
