"""Signing side of C2SP signed notes (Ed25519) and tlog-checkpoint bodies. No Django.

Private key form (as Go's golang.org/x/mod/sumdb/note): `PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 ‖
32-byte seed)>`; the verifier key is `<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte public key)>`.
Checking (keys, notes, checkpoints, proofs) lives in `verifier`, the file outsiders run.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .verifier import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    SIGNATURE_PREFIX,
    VerificationError,
    VerifierKey,
    b64decode,
    cosigned_message,
    b64encode,
    key_hash,
    valid_key_name,
)

PRIVATE_PREFIX = "PRIVATE+KEY+"


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key that signs notes (alg 0x01, the log) or cosigns checkpoints (alg 0x04, a witness)."""

    name: str
    seed: bytes
    alg: int = ALG_ED25519

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def verifier(self) -> VerifierKey:
        public = self.public_key
        return VerifierKey(self.name, key_hash(self.name, public, self.alg), public, self.alg)

    def __str__(self) -> str:
        return f"{PRIVATE_PREFIX}{self.name}+{self.verifier.key_hash.hex()}+{b64encode(bytes([self.alg]) + self.seed)}"

    def __repr__(self) -> str:  # never print the seed by accident (logs, tracebacks)
        return f"SigningKey(name={self.name!r}, verifier={str(self.verifier)!r})"

    def sign(self, text: str) -> str:
        """The signed note of `text` (which must end with a newline and hold no blank line's worth of trouble)."""
        if not text.endswith("\n") or "\r" in text:
            raise ValueError("note text must end with a newline and hold no carriage returns")
        if self.alg != ALG_ED25519:
            raise ValueError("a cosigner key cosigns checkpoints; it does not sign notes")
        signature = self._private.sign(text.encode("utf-8"))
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {b64encode(self.verifier.key_hash + signature)}\n"

    def cosign(self, body: str, timestamp: int) -> str:
        """A cosignature/v1 signature line over a checkpoint body (C2SP tlog-cosignature), with its newline."""
        if self.alg != ALG_COSIGNATURE_V1:
            raise ValueError("only a cosigner (0x04) key cosigns")
        signature = self._private.sign(cosigned_message(body, timestamp))
        payload = self.verifier.key_hash + timestamp.to_bytes(8, "big") + signature
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(payload)}\n"


def generate_signing_key(name: str, alg: int = ALG_ED25519) -> SigningKey:
    if not valid_key_name(name):
        raise ValueError("a key name must be non-empty, without '+' or whitespace")
    return SigningKey(name, os.urandom(32), alg)


def parse_signing_key(text: str, alg: int = ALG_ED25519) -> SigningKey:
    text = text.strip()
    if not text.startswith(PRIVATE_PREFIX):
        raise VerificationError("signing key must start with PRIVATE+KEY+")
    parts = text[len(PRIVATE_PREFIX) :].split("+", 2)  # the base64 seed may hold '+' itself
    if len(parts) != 3 or not valid_key_name(parts[0]):
        raise VerificationError("signing key must read PRIVATE+KEY+<name>+<8 hex>+<base64 seed>")
    name, hash_hex, encoded = parts
    raw = b64decode(encoded, "signing key")
    if len(raw) != 33 or raw[0] != alg:
        raise VerificationError(f"signing key is not an Ed25519 seed of type 0x{alg:02x} (0x{alg:02x} followed by 32 bytes)")
    key = SigningKey(name, raw[1:], alg)
    if key.verifier.key_hash.hex() != hash_hex:
        raise VerificationError("signing key hash does not match its name and key")
    return key


def configured_key_text(text: str, path: str, *, setting: str, error: type[Exception]) -> str:
    """A private key as configured: `text`, else the contents of the file at `path` (an unreadable one
    raises `error` naming `setting`, the file's setting); "" when neither is set."""
    if path and not text:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as failure:
            raise error(f"{setting} {path}: {failure.strerror}") from failure
    return text


def development_key(name: str, purpose: str, secret: str, alg: int = ALG_ED25519) -> SigningKey:
    """The key used when none is configured, derived from `secret` (SECRET_KEY): whoever holds it can sign."""
    seed = hashlib.sha256(f"commandcentral {purpose} development key\n".encode("utf-8") + secret.encode("utf-8")).digest()
    return SigningKey(name, seed, alg)


def checkpoint_body(origin: str, size: int, root_hash: bytes) -> str:
    """A C2SP tlog-checkpoint body: origin line, decimal tree size, base64 root hash."""
    if not origin or "\n" in origin:
        raise ValueError("checkpoint origin must be one non-empty line")
    return f"{origin}\n{size}\n{b64encode(root_hash)}\n"
