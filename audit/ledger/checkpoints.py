"""Signed tree heads: the configured key, the checkpoints the signer makes and the stored (append-only) ones.

Key: settings.AUDIT_SIGNING_KEY (the signed-note private form `PRIVATE+KEY+<name>+<hash>+<seed>`) or
the file named by AUDIT_SIGNING_KEY_FILE. Without either, a development key is derived from
SECRET_KEY (deploy check audit.W001 warns): anyone who holds SECRET_KEY could sign with it.
The key's name is the checkpoint origin. Ed25519 is deterministic, so a note of a given tree size
is the same however often it is signed. Only `make_checkpoint` signs, and only through the signer's
record (`signer`); readers serve what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError

from core.durability import durable_atomic

from .notes import SigningKey, checkpoint_body, configured_key_text, development_key, parse_signing_key
from .sequencer import fetch_nodes, root_at, tree_size
from .verifier import VerificationError, b64encode, verify_note

DEFAULT_ORIGIN = "commandcentral/audit"


class LedgerConfigurationError(Exception):
    """The ledger cannot sign as configured (a malformed AUDIT_SIGNING_KEY, an unreadable key file)."""


def configured_origin() -> str:
    return getattr(settings, "AUDIT_LEDGER_ORIGIN", "") or DEFAULT_ORIGIN


def key_source() -> str:
    """'environment', 'file' or 'derived' (the development fallback)."""
    if getattr(settings, "AUDIT_SIGNING_KEY", ""):
        return "environment"
    if getattr(settings, "AUDIT_SIGNING_KEY_FILE", ""):
        return "file"
    return "derived"


@lru_cache(maxsize=8)
def _load(text: str, path: str, secret: str, origin: str) -> SigningKey:
    text = configured_key_text(text, path, setting="AUDIT_SIGNING_KEY_FILE", error=LedgerConfigurationError)
    if not text:
        return development_key(origin, "audit ledger", secret)
    try:
        return parse_signing_key(text)
    except VerificationError as error:
        raise LedgerConfigurationError(
            f"AUDIT_SIGNING_KEY is not a signed-note private key ({error}). Keys of the HMAC checkpoints "
            "of the retired hash chain do not work: make a new one with `manage.py audit_keygen`."
        ) from error


def signing_key() -> SigningKey:
    return _load(
        getattr(settings, "AUDIT_SIGNING_KEY", "") or "",
        getattr(settings, "AUDIT_SIGNING_KEY_FILE", "") or "",
        settings.SECRET_KEY,
        configured_origin(),
    )


def verifier_key_text() -> str:
    return str(signing_key().verifier)


@dataclass
class Head:
    tree_size: int
    root_hash: bytes
    note: str
    created: bool  # signed and stored by this call


def make_checkpoint(using: str = "default") -> Head:
    """Sign and store a checkpoint of the whole tree, unless the newest stored one already covers it.

    Only the maintenance task and `manage.py audit_checkpoint` call this: readers serve stored
    checkpoints and never sign. The signer first checks the tree against its own record (outside the
    database) and raises LedgerDiverged when it does not extend what was signed before.
    """
    from . import signer

    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    size = tree_size(using)
    latest = LedgerCheckpoint.objects.using(using).order_by("-tree_size").first()
    if latest is not None and latest.tree_size == size and _signed_by_current_key(latest.note):
        return Head(size, bytes(latest.root_hash), latest.note, False)
    key = signing_key()
    with signer.exclusive():
        record = signer.read_record()
        if record is not None and record.diverged:
            raise signer.LedgerDiverged(record.diverged)
        anchor = record or _record_from_stored_checkpoint(using)
        try:
            if anchor is not None and size < anchor.tree_size:
                signer.check_extends(anchor, size, b"", lambda keys: fetch_nodes(keys, using))  # refuses: leaves are gone
            try:
                root = root_at(size, using)
            except KeyError as error:
                raise signer.LedgerDiverged(f"the tree of size {size} cannot be computed: {error.args[0]}.") from error
            if anchor is not None:
                signer.check_extends(anchor, size, root, lambda keys: fetch_nodes(keys, using))
        except signer.LedgerDiverged as error:
            if anchor is not None and signer.mark_diverged(anchor, error.args[0]):
                _audit_divergence(str(error), anchor, size, using)
            raise
        note = key.sign(checkpoint_body(key.name, size, root))
        # Recorded before it is stored or served: a signature that was never recorded was never published.
        signer.record_signed(size, root, note)
    try:
        with durable_atomic(using):
            LedgerCheckpoint.objects.using(using).create(tree_size=size, root_hash=root, note=note)
    except IntegrityError:
        pass  # this size is stored already: by another process at the same moment, or under an older key
    return Head(size, root, note, True)


def _record_from_stored_checkpoint(using: str):
    """Without a record yet (a new signer, or one upgraded from a version that kept none), the newest stored
    checkpoint this key signed stands in for it: the signer still never contradicts what it published."""
    from . import signer

    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    for stored in LedgerCheckpoint.objects.using(using).order_by("-tree_size").values("tree_size", "root_hash", "note")[:20]:
        if _signed_by_current_key(stored["note"]):
            return signer.SignerRecord(tree_size=stored["tree_size"], root_hash=b64encode(bytes(stored["root_hash"])),
                                       note=stored["note"], signed_at="")
    return None


def _audit_divergence(reason: str, anchor, size: int, using: str) -> None:
    """One audit row when the signer stops (its record says so from then on, so this is written once)."""
    from core.recording import ActorType, AuditEventType, record_event

    record_event(
        event_type=AuditEventType.AUDIT_MAINTENANCE, event_name="ledger.diverged", success=False,
        actor_type=ActorType.SYSTEM, entity_type="ledger", failure_reason=reason[:255],
        extra={"signed_tree_size": anchor.tree_size, "signed_root": anchor.root_hash, "database_tree_size": size},
    )


def latest_checkpoint(using: str = "default") -> Head | None:
    """The newest stored checkpoint, with every witness cosignature gathered for it (what readers serve)."""
    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    latest = LedgerCheckpoint.objects.using(using).order_by("-tree_size").values("tree_size", "root_hash", "note").first()
    if latest is None:
        return None
    return Head(latest["tree_size"], bytes(latest["root_hash"]), with_cosignatures(latest["tree_size"], latest["note"], using), False)


def stored_checkpoint(size: int, using: str = "default") -> Head | None:
    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    found = LedgerCheckpoint.objects.using(using).filter(tree_size=size).values("tree_size", "root_hash", "note").first()
    if found is None:
        return None
    return Head(size, bytes(found["root_hash"]), with_cosignatures(size, found["note"], using), False)


def with_cosignatures(size: int, note: str, using: str = "default") -> str:
    """The signed note with the witnesses' cosignature lines of this size appended (C2SP: a note carries
    every signature line after the blank line; verifiers ignore lines of keys they do not know)."""
    LedgerCosignature = apps.get_model("audit", "LedgerCosignature")
    lines = list(LedgerCosignature.objects.using(using).filter(tree_size=size).order_by("witness").values_list("line", flat=True))
    return note + "".join(line for line in lines if line not in note)


def _signed_by_current_key(note: str) -> bool:
    try:
        verify_note(note, signing_key().verifier)
    except VerificationError:
        return False
    return True


def ledger_status(using: str = "default") -> dict:
    """Tree size, unsealed and unqueued rows, seal lag, the last stored checkpoint, the signer's record and
    the witnesses (GET ledger/status/, the admin's ledger page)."""
    from . import signer, witnessing
    from .sequencer import pending_status, unqueued_rows

    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    unsealed, lag = pending_status(using)
    latest = LedgerCheckpoint.objects.using(using).order_by("-tree_size").first()
    try:
        record = signer.read_record()
    except signer.SignerStateError:
        record = None
    return {
        "tree_size": tree_size(using),
        "unsealed_rows": unsealed,
        "unqueued_rows": unqueued_rows(using),
        "seal_lag_seconds": round(lag, 3),
        "verifier_key": verifier_key_text(),
        "key_source": key_source(),
        "last_checkpoint": None if latest is None else {
            "tree_size": latest.tree_size,
            "root_hash": b64encode(bytes(latest.root_hash)),
            "created_at": latest.created_at,
            "note": with_cosignatures(latest.tree_size, latest.note, using),
        },
        "diverged": signer.divergence(),
        "signer": None if record is None else {
            "tree_size": record.tree_size, "root_hash": record.root_hash, "signed_at": record.signed_at,
            "path": str(signer.state_path()),
        },
        "witnesses": witnessing.witness_status(using),
    }
