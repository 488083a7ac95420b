"""Signed tree heads: the configured key, notes of any tree size, and the stored (append-only) checkpoints.

Key: settings.AUDIT_SIGNING_KEY (the signed-note private form `PRIVATE+KEY+<name>+<hash>+<seed>`) or
the file named by AUDIT_SIGNING_KEY_FILE. Without either, a development key is derived from
SECRET_KEY (deploy check audit.W001 warns): anyone who holds SECRET_KEY could sign with it.
The key's name is the checkpoint origin. Ed25519 is deterministic, so a note of a given tree size
is the same however often it is signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction

from .notes import SigningKey, checkpoint_body, parse_signing_key
from .sequencer import root_at, seal_pending, tree_size
from .verifier import VerificationError, verify_note

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
    if path and not text:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise LedgerConfigurationError(f"AUDIT_SIGNING_KEY_FILE {path}: {error.strerror}") from error
    if not text:
        seed = hashlib.sha256(b"commandcentral audit ledger development key\n" + secret.encode("utf-8")).digest()
        return SigningKey(origin, seed)
    try:
        return parse_signing_key(text)
    except VerificationError as error:
        raise LedgerConfigurationError(
            f"AUDIT_SIGNING_KEY is not a signed-note private key ({error}). Keys of the HMAC checkpoints "
            "retired in issue 15 do not work: make a new one with `manage.py audit_keygen`."
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


def sign_tree(size: int, using: str = "default") -> tuple[str, bytes]:
    """(signed note, root hash) for the tree of this size (≤ the current size); nothing is stored."""
    key = signing_key()
    root = root_at(size, using)
    return key.sign(checkpoint_body(key.name, size, root)), root


@dataclass
class Head:
    tree_size: int
    root_hash: bytes
    note: str
    stored: bool


def current_checkpoint(using: str = "default", *, store: bool = True) -> Head:
    """Seal what is pending, then the signed note of the whole tree; stored when the tree has grown."""
    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    seal_pending(using)
    size = tree_size(using)
    latest = LedgerCheckpoint.objects.using(using).order_by("-tree_size").first()
    if latest is not None and latest.tree_size == size and _signed_by_current_key(latest.note):
        return Head(size, bytes(latest.root_hash), latest.note, True)
    note, root = sign_tree(size, using)
    if store:
        try:
            with transaction.atomic(using=using):
                LedgerCheckpoint.objects.using(using).create(tree_size=size, root_hash=root, note=note)
        except IntegrityError:
            pass  # this size is stored already: by another process at the same moment, or under an older key
    return Head(size, root, note, store)


def _signed_by_current_key(note: str) -> bool:
    try:
        verify_note(note, signing_key().verifier)
    except VerificationError:
        return False
    return True


def ledger_status(using: str = "default") -> dict:
    """Tree size, unsealed rows, seal lag and the last stored checkpoint (GET ledger/status/, admin)."""
    from .sequencer import pending_status
    from .verifier import b64encode

    LedgerCheckpoint = apps.get_model("audit", "LedgerCheckpoint")
    unsealed, lag = pending_status(using)
    latest = LedgerCheckpoint.objects.using(using).order_by("-tree_size").first()
    return {
        "tree_size": tree_size(using),
        "unsealed_rows": unsealed,
        "seal_lag_seconds": round(lag, 3),
        "verifier_key": verifier_key_text(),
        "key_source": key_source(),
        "last_checkpoint": None if latest is None else {
            "tree_size": latest.tree_size,
            "root_hash": b64encode(bytes(latest.root_hash)),
            "created_at": latest.created_at,
            "note": latest.note,
        },
    }
