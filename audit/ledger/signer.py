"""The signer's own record: the last tree it signed, kept outside the database, next to its key.

Whoever can write the database can rewrite the trail and rebuild the tree over the rewritten rows. A
signer that signed whatever tree the database holds would then hand out a validly signed checkpoint
of a size it had already signed with another root: a split view. So before it signs a tree of size n
the signer checks it against its record (size m, root r):

    n == m   the root must be r;
    n > m    an RFC 9162 consistency proof from (m, r) to the new tree must verify;
    n < m    never: leaves it signed are gone.

Anything else and it refuses: it writes "diverged" into its record, logs and audits it once, and
signs nothing more until an operator looks (`manage.py audit_signer show`) and starts over knowingly
(`manage.py audit_signer start-over`, audited). It never signs two roots for one size.

The record is a small JSON file (AUDIT_SIGNER_STATE): written to a temporary file in the same folder,
fsynced, renamed over the old one and the folder fsynced, so a crash leaves the old record or the new
one, never half of either. An exclusive lock on a sibling `.lock` file makes check-sign-record one
step across the processes of this machine. The record is written *before* the checkpoint is stored or
served: a signature that was never recorded was never published.

What it does not stop: someone who holds both the key and the record (the operator of this host) can
sign anything. Witnesses (`audit.ledger.witnessing`) keep that person honest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from . import merkle
from .verifier import VerificationError, b64decode, b64encode, verify_consistency

logger = logging.getLogger("commandcentral.audit.ledger")

RECORD_VERSION = 1
DIVERGED = "ledger diverged"


class LedgerDiverged(Exception):
    """The database's tree does not extend the last tree the signer signed; nothing is signed."""

    def __str__(self) -> str:
        return f"{DIVERGED}: {self.args[0]}"


class SignerStateError(Exception):
    """The record cannot be read or written (a permission, a full disk, a malformed file)."""


@dataclass
class SignerRecord:
    tree_size: int
    root_hash: str  # base64
    note: str  # the last checkpoint signed, as issued
    signed_at: str
    diverged: str = ""  # why the signer stopped; empty while it signs
    diverged_at: str = ""
    version: int = RECORD_VERSION

    @property
    def root(self) -> bytes:
        return b64decode(self.root_hash, "signer record root")


def state_path() -> Path:
    """AUDIT_SIGNER_STATE, or next to AUDIT_SIGNING_KEY_FILE, or `audit-signer.state` in the project folder."""
    configured = getattr(settings, "AUDIT_SIGNER_STATE", "") or ""
    if configured:
        return Path(configured)
    key_file = getattr(settings, "AUDIT_SIGNING_KEY_FILE", "") or ""
    if key_file:
        return Path(f"{key_file}.state")
    return Path(settings.BASE_DIR) / "audit-signer.state"


def read_record() -> SignerRecord | None:
    path = state_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SignerStateError(f"cannot read the signer's record {path}: {error.strerror}") from error
    try:
        data = json.loads(text)
        record = SignerRecord(**{key: data[key] for key in SignerRecord.__dataclass_fields__ if key in data})
        record.root  # noqa: B018 — a malformed root is a malformed record
    except (ValueError, TypeError, VerificationError) as error:
        raise SignerStateError(f"the signer's record {path} is malformed: {error}") from error
    return record


def write_record(record: SignerRecord) -> None:
    """Atomically replace the record (temporary file, fsync, rename, fsync of the folder)."""
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(asdict(record), stream, indent=1, sort_keys=True)
                stream.write("\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as error:
        raise SignerStateError(f"cannot write the signer's record {path}: {error.strerror}") from error


@contextlib.contextmanager
def exclusive():
    """Hold the signer's lock (one signer at a time on this machine) for the block."""
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise SignerStateError(f"cannot open the signer's lock {path}.lock: {error.strerror}") from error
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


def divergence() -> str:
    """Why the signer stopped ("ledger diverged: …"), or "" while it signs. Reads only the record."""
    try:
        record = read_record()
    except SignerStateError as error:
        return f"{DIVERGED}: {error}"
    return f"{DIVERGED}: {record.diverged}" if record is not None and record.diverged else ""


def check_extends(record: SignerRecord, size: int, root: bytes, fetch_nodes) -> None:
    """Raise LedgerDiverged unless the tree (size, root) extends the recorded one.

    `fetch_nodes(keys)` gives stored subtree hashes, from which the consistency proof is built: the
    proof is then checked against the *recorded* root, so subtrees rebuilt over edited rows fail it.
    """
    if size < record.tree_size:
        raise LedgerDiverged(
            f"the database holds {size} leaves, but a tree of {record.tree_size} was signed: signed leaves are gone."
        )
    if size == record.tree_size:
        if root != record.root:
            raise LedgerDiverged(
                f"the tree of size {size} has root {b64encode(root)}, but root {record.root_hash} was signed for that size."
            )
        return
    ranges = merkle.consistency_ranges(record.tree_size, size)
    try:
        path = merkle.hashes_from(ranges, fetch_nodes(merkle.needed(ranges)))
        verify_consistency(record.tree_size, size, record.root, root, path)
    except (KeyError, VerificationError) as error:
        raise LedgerDiverged(
            f"the tree of size {size} does not extend the tree of size {record.tree_size} signed before ({error})."
        ) from error


def record_signed(size: int, root: bytes, note: str) -> None:
    write_record(SignerRecord(tree_size=size, root_hash=b64encode(root), note=note, signed_at=timezone.now().isoformat()))


def mark_diverged(record: SignerRecord, reason: str) -> bool:
    """Write "diverged" into the record (keeping the last signed tree); True when it was not diverged before."""
    first = not record.diverged
    if first:
        record.diverged, record.diverged_at = reason, timezone.now().isoformat()
        write_record(record)
        logger.error("%s: %s", DIVERGED, reason)
    return first
