"""Witnesses (C2SP tlog-witness and tlog-cosignature): other parties that cosign our checkpoints only
when they extend what they saw before, and the same service for other instances' logs.

The signer's record stops a database writer; it cannot stop whoever holds both the key and the
record. A witness is run by someone else: it remembers the last checkpoint it cosigned for each log
and cosigns a new one only with a consistency proof from it. A rewritten history then gets no
cosignatures, and a client that requires k of n cosignatures (the stand-alone verifier's
`--witness … --quorum k`) refuses it.

As a log (AUDIT_WITNESSES: "<add-checkpoint URL> <cosigner verifier key>", one per line or
';'-separated): `submit_checkpoint` sends each new checkpoint with a consistency proof from the size
the witness last cosigned, stores the cosignature lines that verify, and keeps each witness's status.

As a witness (AUDIT_WITNESS_LOGS: the verifier keys of the logs it witnesses): `add_checkpoint`
answers POST /api/v1/witness/add-checkpoint. It keeps its last-seen state per log in an append-only
table, checked and extended in one transaction under a per-log lock, so two submissions cannot roll
it back. Its cosigner key: AUDIT_WITNESS_KEY / AUDIT_WITNESS_KEY_FILE (derived from SECRET_KEY for
development, as the signing key is).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from . import merkle
from .notes import SigningKey, configured_key_text, development_key, parse_signing_key
from .sequencer import fetch_nodes
from .verifier import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    VerificationError,
    VerifierKey,
    b64decode,
    b64encode,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
    verify_consistency,
    verify_cosignature,
    verify_note,
)

logger = logging.getLogger("commandcentral.audit.ledger")

DEFAULT_WITNESS_NAME = "commandcentral/witness"
MAX_PROOF_LINES = 63  # tlog-witness: a client sends at most 63 consistency proof lines
MAX_REQUEST_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
# Key of the PostgreSQL advisory lock a witness holds per log while it checks and extends its state.
WITNESS_LOCK_BASE = 0x5749_544E  # "WITN"


class WitnessConfigurationError(Exception):
    """AUDIT_WITNESSES, AUDIT_WITNESS_LOGS or the witness key cannot be used as configured."""


def _entries(text: str) -> list[str]:
    return [line.strip() for chunk in (text or "").split("\n") for line in chunk.split(";") if line.strip()]


# --- Our cosigner key and the logs we witness -------------------------------------------------------------


@lru_cache(maxsize=8)
def _load_witness_key(text: str, path: str, secret: str, name: str) -> SigningKey:
    text = configured_key_text(text, path, setting="AUDIT_WITNESS_KEY_FILE", error=WitnessConfigurationError)
    if not text:
        return development_key(name, "witness", secret, ALG_COSIGNATURE_V1)
    try:
        return parse_signing_key(text, ALG_COSIGNATURE_V1)
    except VerificationError as error:
        raise WitnessConfigurationError(
            f"AUDIT_WITNESS_KEY is not a cosigner private key ({error}): make one with `manage.py audit_keygen --witness`."
        ) from error


def witness_key() -> SigningKey:
    return _load_witness_key(
        getattr(settings, "AUDIT_WITNESS_KEY", "") or "",
        getattr(settings, "AUDIT_WITNESS_KEY_FILE", "") or "",
        settings.SECRET_KEY,
        getattr(settings, "AUDIT_WITNESS_NAME", "") or DEFAULT_WITNESS_NAME,
    )


@lru_cache(maxsize=8)
def _parse_logs(text: str) -> dict[str, VerifierKey]:
    logs = {}
    for entry in _entries(text):
        try:
            key = parse_verifier_key(entry, ALG_ED25519)
        except VerificationError as error:
            raise WitnessConfigurationError(f"AUDIT_WITNESS_LOGS: {entry[:60]!r} is not a log verifier key ({error})") from error
        logs[key.name] = key  # a log's origin is its key's name
    return logs


def witnessed_logs() -> dict[str, VerifierKey]:
    return _parse_logs(getattr(settings, "AUDIT_WITNESS_LOGS", "") or "")


@dataclass(frozen=True)
class Witness:
    url: str
    key: VerifierKey

    @property
    def key_text(self) -> str:
        return str(self.key)


@lru_cache(maxsize=8)
def _parse_witnesses(text: str) -> tuple[Witness, ...]:
    witnesses = []
    for entry in _entries(text):
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise WitnessConfigurationError(f"AUDIT_WITNESSES: {entry[:60]!r} is not '<add-checkpoint URL> <cosigner verifier key>'")
        try:
            witnesses.append(Witness(parts[0], parse_verifier_key(parts[1], ALG_COSIGNATURE_V1)))
        except VerificationError as error:
            raise WitnessConfigurationError(f"AUDIT_WITNESSES: {parts[1][:60]!r}: {error}") from error
    return tuple(witnesses)


def configured_witnesses() -> tuple[Witness, ...]:
    return _parse_witnesses(getattr(settings, "AUDIT_WITNESSES", "") or "")


# --- As a witness: add-checkpoint ---------------------------------------------------------------------------


class WitnessRefusal(Exception):
    """An add-checkpoint request the witness does not cosign: the HTTP status, the body and its type."""

    def __init__(self, status: int, message: str, *, content_type: str = "text/plain", evidence: bool = False):
        super().__init__(message)
        self.status, self.content_type, self.evidence = status, content_type, evidence


@dataclass
class AddCheckpointRequest:
    old_size: int
    proof: list[bytes]
    note: str


def parse_request(body: bytes) -> AddCheckpointRequest:
    """`old N`, up to 63 base64 proof lines, a blank line, then the signed checkpoint; else 400."""
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessRefusal(400, "request body is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WitnessRefusal(400, "request body is not UTF-8") from error
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise WitnessRefusal(400, "request needs an old size line, proof lines, a blank line and the checkpoint")
    lines = head.split("\n")
    size_text = lines[0][4:] if lines[0].startswith("old ") else ""
    if not (size_text.isascii() and size_text.isdigit()) or (len(size_text) > 1 and size_text[0] == "0"):
        raise WitnessRefusal(400, "the first line must be 'old <size>', a decimal without leading zeros")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
    try:
        proof = [b64decode(line, "consistency proof line") for line in lines[1:]]
    except VerificationError as error:
        raise WitnessRefusal(400, str(error)) from error
    if any(len(value) != 32 for value in proof):
        raise WitnessRefusal(400, "a consistency proof line is not a 32-byte hash")
    return AddCheckpointRequest(int(size_text), proof, note)


def add_checkpoint(body: bytes, using: str = "default") -> str:
    """Verify a submitted checkpoint against the log's key and our last-seen state of that log; record it
    and return our cosignature line. Raises WitnessRefusal with the status tlog-witness prescribes."""
    request = parse_request(body)
    try:
        text, _ = split_note(request.note)
        checkpoint = parse_checkpoint(text)
    except VerificationError as error:
        raise WitnessRefusal(400, f"the checkpoint is malformed: {error}") from error
    log_key = witnessed_logs().get(checkpoint.origin)
    if log_key is None:
        raise WitnessRefusal(404, f"this witness does not witness the log {checkpoint.origin!r}")
    try:
        verify_note(request.note, log_key)
    except VerificationError as error:
        raise WitnessRefusal(403, f"no signature by the log's key verifies: {error}") from error
    if request.old_size > checkpoint.size:
        raise WitnessRefusal(400, f"old size {request.old_size} is beyond the checkpoint's size {checkpoint.size}")
    WitnessedCheckpoint = apps.get_model("audit", "WitnessedCheckpoint")
    with transaction.atomic(using=using):
        _lock_log(checkpoint.origin, using)
        latest = (WitnessedCheckpoint.objects.using(using).filter(origin=checkpoint.origin)
                  .order_by("-tree_size").values("tree_size", "root_hash").first())
        known_size = latest["tree_size"] if latest else 0
        if request.old_size != known_size:
            raise WitnessRefusal(409, f"{known_size}\n", content_type=SIZE_CONTENT_TYPE)
        if latest is not None:
            known_root = bytes(latest["root_hash"])
            if checkpoint.size == known_size and checkpoint.root_hash != known_root:
                raise WitnessRefusal(
                    409, f"{known_size}\n", content_type=SIZE_CONTENT_TYPE, evidence=True,
                )
            try:
                verify_consistency(known_size, checkpoint.size, known_root, checkpoint.root_hash, request.proof)
            except VerificationError as error:
                raise WitnessRefusal(
                    422, f"the checkpoint of size {checkpoint.size} does not extend the one of size {known_size}: {error}",
                    evidence=True,
                ) from error
        elif request.proof:
            raise WitnessRefusal(422, "the consistency proof from size 0 must be empty")
        if latest is None or checkpoint.size > known_size:
            WitnessedCheckpoint.objects.using(using).create(
                origin=checkpoint.origin, tree_size=checkpoint.size, root_hash=checkpoint.root_hash, note=request.note,
            )
    return witness_key().cosign(text, int(time.time()))


def _lock_log(origin: str, using: str) -> None:
    """Check-and-extend is one step per log: PostgreSQL takes an advisory lock for the transaction;
    SQLite's transactions already take the database's write lock (BEGIN IMMEDIATE)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    key = WITNESS_LOCK_BASE ^ int.from_bytes(hashlib.sha256(origin.encode("utf-8")).digest()[:4], "big")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def record_refusal(error: WitnessRefusal, body: bytes) -> None:
    """A refusal that is evidence of a log's misbehaviour (another root for a size it signed, a proof that
    fails) goes into our own audit trail, with the submitted checkpoint, so it is sealed and signed too."""
    from core.recording import ActorType, AuditEventType, record_event

    try:
        request = parse_request(body)
        checkpoint = parse_checkpoint(split_note(request.note)[0])
        details = {"origin": checkpoint.origin, "tree_size": checkpoint.size, "old_size": request.old_size,
                   "root_hash": b64encode(checkpoint.root_hash), "note": request.note}
    except (WitnessRefusal, VerificationError):
        details = {}
    record_event(
        event_type=AuditEventType.AUDIT_MAINTENANCE, event_name="witness.refused", success=False,
        actor_type=ActorType.SYSTEM, entity_type="witnessed_log", entity_id=details.get("origin", "")[:255],
        failure_reason=f"HTTP {error.status}: {str(error).strip()}", extra=details,
    )


# --- As a log: submitting our checkpoints -------------------------------------------------------------------


def submit_checkpoint(size: int, note: str, using: str = "default") -> dict[str, str]:
    """Send our checkpoint of `size` to every configured witness that has not cosigned it yet; {witness: outcome}."""
    outcomes = {}
    for witness in configured_witnesses():
        outcomes[witness.key.name] = _submit_to(witness, size, note, using)
    return outcomes


def _submit_to(witness: Witness, size: int, note: str, using: str) -> str:
    import requests

    WitnessState = apps.get_model("audit", "WitnessState")
    LedgerCosignature = apps.get_model("audit", "LedgerCosignature")
    state, _ = WitnessState.objects.using(using).get_or_create(witness=witness.key_text, defaults={"url": witness.url})
    if LedgerCosignature.objects.using(using).filter(tree_size=size, witness=witness.key_text).exists():
        return "cosigned already"
    old, outcome = min(state.cosigned_size, size), ""
    try:
        for _attempt in range(2):  # a 409 tells the size the witness knows: one retry from there
            response = requests.post(
                witness.url, data=_request_body(old, size, note, using).encode("utf-8"),
                headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=(3, 10), allow_redirects=False,
            )
            # The body is UTF-8 whatever the Content-Type says (requests would guess Latin-1 for text/plain).
            answer = response.content[:MAX_REQUEST_BYTES].decode("utf-8", errors="replace")
            if response.status_code == 409 and response.headers.get("Content-Type", "").startswith(SIZE_CONTENT_TYPE):
                known = answer.strip()
                if known.isdigit() and int(known) != old and int(known) <= size:
                    old = state.cosigned_size = int(known)  # what the witness saw is what counts, not our status row
                    continue
            break
        if response.status_code == 200:
            timestamp, line = _cosignature_from(answer, note, witness.key)
            LedgerCosignature.objects.using(using).get_or_create(
                tree_size=size, witness=witness.key_text,
                defaults={"line": line, "cosigned_at": datetime.fromtimestamp(timestamp, tz=dt_timezone.utc)},
            )
            state.cosigned_size, state.last_error, state.last_success_at = size, "", timezone.now()
            outcome = "cosigned"
        else:
            outcome = state.last_error = f"HTTP {response.status_code}: {answer.strip()[:300]}"
    except requests.RequestException as error:
        outcome = state.last_error = f"unreachable: {type(error).__name__}: {str(error)[:300]}"
    except VerificationError as error:
        outcome = state.last_error = f"answered with no valid cosignature: {error}"
    if outcome != "cosigned":
        logger.warning("witness %s did not cosign tree size %d: %s", witness.key.name, size, outcome)
    state.url, state.last_attempt_at = witness.url, timezone.now()
    state.save(using=using)
    return outcome


def _request_body(old: int, size: int, note: str, using: str) -> str:
    ranges = merkle.consistency_ranges(old, size) if old else []
    proof = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges), using)) if ranges else []
    return f"old {old}\n" + "".join(f"{b64encode(value)}\n" for value in proof) + "\n" + note


def _cosignature_from(answer: str, note: str, key: VerifierKey) -> tuple[int, str]:
    """The witness's line in its answer that verifies over our checkpoint (lines of other keys are ignored)."""
    for line in answer.splitlines():
        candidate = f"{line}\n"
        try:
            return verify_cosignature(note + candidate, key), candidate
        except VerificationError:
            continue
    raise VerificationError(f"no line of the answer is a cosignature by {key.name} over this checkpoint")


def witness_status(using: str = "default") -> list[dict]:
    """Each configured witness: the size it last cosigned and the last error (ledger/status/, admin, /metrics)."""
    WitnessState = apps.get_model("audit", "WitnessState")
    try:
        witnesses = configured_witnesses()
    except WitnessConfigurationError as error:
        return [{"name": "AUDIT_WITNESSES", "url": "", "verifier_key": "", "cosigned_size": 0, "last_error": str(error),
                 "last_attempt_at": None, "last_success_at": None}]
    states = {state.witness: state for state in WitnessState.objects.using(using).filter(witness__in=[w.key_text for w in witnesses])}
    report = []
    for witness in witnesses:
        state = states.get(witness.key_text)
        report.append({
            "name": witness.key.name, "url": witness.url, "verifier_key": witness.key_text,
            "cosigned_size": state.cosigned_size if state else 0,
            "last_error": state.last_error if state else "",
            "last_attempt_at": state.last_attempt_at if state else None,
            "last_success_at": state.last_success_at if state else None,
        })
    return report
