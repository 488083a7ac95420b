"""An independent reference for C2SP signed notes, checkpoints, cosignatures and witnesses.

This module exists so that the audit ledger's own note and checkpoint code can be checked against
code that was written separately, from the public documents only:

* c2sp.org/signed-note      (C2SP/C2SP signed-note.md): note layout, signature lines, key IDs,
                             signature types 0x01 (Ed25519) and 0x04 (cosignature/v1).
* c2sp.org/tlog-checkpoint  (C2SP/C2SP tlog-checkpoint.md): the three checkpoint lines.
* c2sp.org/tlog-cosignature (C2SP/C2SP tlog-cosignature.md): the Ed25519 `cosignature/v1`
                             signed message and the `timestamped_signature` payload.
* c2sp.org/tlog-witness     (C2SP/C2SP tlog-witness.md): the add-checkpoint request, its
                             responses and their status codes.
* RFC 9162 section 2.1.1 (Merkle Tree Hash) and 2.1.4.2 (verifying a consistency proof).
* golang.org/x/mod/sumdb/note (note.go): the verifier-key text form "<name>+<hash>+<keydata>",
                             which signed-note and tlog-cosignature call a "vkey".

It deliberately imports nothing from the project: only the standard library and `cryptography`.
Everything that fails raises ReferenceVerificationError (a ValueError).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "ALG_COSIGNATURE_V1",
    "EMPTY_TREE_ROOT",
    "SIZE_CONTENT_TYPE",
    "ReferenceVerificationError",
    "ReferenceWitness",
    "add_checkpoint_request",
    "cosign_checkpoint",
    "cosignature_message",
    "format_verifier_key",
    "key_id",
    "leaf_hash",
    "node_hash",
    "open_note",
    "parse_add_checkpoint_request",
    "parse_add_checkpoint_response",
    "parse_checkpoint",
    "parse_conflict_response",
    "parse_cosignature",
    "parse_verifier_key",
    "sign_note",
    "verify_consistency",
    "verify_cosignature",
    "verify_note_signature",
]


class ReferenceVerificationError(ValueError):
    """Raised by every parse or verify function of this module when its input is refused."""


class _FailedSignature(ReferenceVerificationError):
    """A signature line of the expected key is present but does not verify (not merely absent)."""


# c2sp.org/signed-note, "Signature types": 0x01 is Ed25519 over the note text, 0x04 is the
# timestamped Ed25519 witness cosignature of c2sp.org/tlog-cosignature.
ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04

# c2sp.org/signed-note, "Format": a signature line is em dash (U+2014), space, key name, space,
# base64 signature, newline; the text is separated from the signatures by the last empty line.
SIGNATURE_PREFIX = "\u2014 "
_SIGNATURE_SPLIT = "\n\n"

# c2sp.org/signed-note, "Format": verifiers SHOULD limit the number of signatures but MUST accept
# at least 16. golang.org/x/mod/sumdb/note (Open) refuses more than 100: this module does the same.
MAX_SIGNATURES = 100

# c2sp.org/tlog-cosignature, "Format": `timestamp` MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = 2**63 - 1

# c2sp.org/tlog-cosignature, "Ed25519 signed message": the fixed header line.
COSIGNATURE_HEADER = b"cosignature/v1\n"

# c2sp.org/tlog-cosignature, "Format": key ID (4) || u64 timestamp (8) || Ed25519 signature (64).
COSIGNATURE_V1_PAYLOAD_LENGTH = 4 + 8 + 64

# c2sp.org/tlog-witness, add-checkpoint: "The client MUST NOT send more than 63 consistency proof
# lines."
MAX_PROOF_LINES = 63

# c2sp.org/tlog-witness, add-checkpoint: the 409 answer to a stale old size has this media type.
SIZE_CONTENT_TYPE = "text/x.tlog.size"

# RFC 9162 section 2.1.1: MTH({}) = HASH(), the SHA-256 of the empty string.
EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()

# c2sp.org/tlog-checkpoint, "Note text", line 2 and c2sp.org/tlog-witness, the old size line:
# an ASCII decimal with no leading zeroes (unless the value is zero, then exactly "0").
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z", re.ASCII)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}\Z", re.ASCII)


# ---------------------------------------------------------------------------------------------
# Small decoders
# ---------------------------------------------------------------------------------------------


def _as_text(value, what: str) -> str:
    """Accept str or bytes; bytes must be UTF-8 (c2sp.org/signed-note: notes MUST be valid UTF-8)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReferenceVerificationError(f"{what} is not valid UTF-8") from exc
    raise ReferenceVerificationError(f"{what} must be str or bytes, not {type(value).__name__}")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding (RFC 4648 section 4, as every C2SP document here requires)."""
    if not text or not text.isascii():
        raise ReferenceVerificationError(f"{what} is not standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReferenceVerificationError(f"{what} is not standard base64") from exc


def _b64decode_hash(text: str, what: str) -> bytes:
    """A 32-byte SHA-256 hash in canonical base64 (RFC 4648 section 3.5 lets a decoder refuse
    non-canonical encodings; the reference does, so a hash has exactly one accepted spelling)."""
    raw = _b64decode(text, what)
    if len(raw) != 32:
        raise ReferenceVerificationError(f"{what} is {len(raw)} bytes, not 32")
    if base64.b64encode(raw).decode("ascii") != text:
        raise ReferenceVerificationError(f"{what} is not canonical base64")
    return raw


def _decimal(text: str, what: str, limit: int = 2**64 - 1) -> int:
    if not _DECIMAL.match(text):
        raise ReferenceVerificationError(f"{what} {text!r} is not a decimal without leading zeroes")
    value = int(text)
    if value > limit:
        raise ReferenceVerificationError(f"{what} {value} is out of range")
    return value


def _is_valid_key_name(name: str) -> bool:
    # c2sp.org/signed-note, "Format": key names MUST be non-empty and MUST NOT contain any Unicode
    # spaces or plus (U+002B). golang.org/x/mod/sumdb/note isValidName is the same test.
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note: key ID = SHA-256(key name || 0x0A || signature type || public key)[:4].

    The same formula, with type 0x04, is the one c2sp.org/tlog-cosignature says the Ed25519
    cosignature key ID MUST use.
    """
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + bytes(public_key)).digest()[:4]


def format_verifier_key(name: str, alg: int, public_key: bytes) -> str:
    """The vkey text "<name>+<8 lowercase hex key ID>+<base64(type || public key)>" (the form
    golang.org/x/mod/sumdb/note's GenerateKey and NewEd25519VerifierKey write)."""
    if not _is_valid_key_name(name):
        raise ReferenceVerificationError(f"invalid key name {name!r}")
    keydata = bytes([alg]) + bytes(public_key)
    return f"{name}+{key_id(name, alg, public_key).hex()}+{base64.b64encode(keydata).decode('ascii')}"


def parse_verifier_key(text) -> tuple[str, bytes, int, bytes]:
    """Parse a vkey "<name>+<8 hex>+<base64(alg || key)>" into (name, key_hash, alg, public_key).

    Rules, from golang.org/x/mod/sumdb/note NewVerifier (the origin of the text form) and
    c2sp.org/signed-note: the text is cut at its first two '+' (the name holds none, the base64 may);
    the name is a valid key name; the hash is exactly 8 hex digits; the key data is standard base64
    of at least one byte; and the hash equals SHA-256(name || 0x0A || key data)[:4]. Only the two
    types this project uses are accepted: 0x01 (Ed25519, c2sp.org/signed-note) and 0x04
    (cosignature/v1, c2sp.org/tlog-cosignature), each with a 32-byte Ed25519 public key (RFC 8032).
    key_hash is returned as its 4 big-endian bytes, as they appear at the start of a signature.
    """
    text = _as_text(text, "verifier key")
    name, sep1, rest = text.partition("+")
    hash_hex, sep2, keydata_b64 = rest.partition("+")
    if not sep1 or not sep2:
        raise ReferenceVerificationError("a verifier key is <name>+<hash>+<keydata>")
    if not _is_valid_key_name(name):
        raise ReferenceVerificationError(f"invalid key name {name!r}")
    if not _HEX8.match(hash_hex):
        raise ReferenceVerificationError(f"key hash {hash_hex!r} is not 8 hex digits")
    keydata = _b64decode(keydata_b64, "verifier key data")
    if len(keydata) < 1:
        raise ReferenceVerificationError("verifier key data is empty")
    key_hash = bytes.fromhex(hash_hex)
    expected = hashlib.sha256(name.encode("utf-8") + b"\n" + keydata).digest()[:4]
    if key_hash != expected:
        raise ReferenceVerificationError(
            f"key hash {hash_hex} does not match SHA-256(name || 0x0A || key data)[:4] = {expected.hex()}"
        )
    alg, public_key = keydata[0], keydata[1:]
    if alg not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise ReferenceVerificationError(f"signature type 0x{alg:02x} is not supported by this reference")
    if len(public_key) != 32:
        raise ReferenceVerificationError(f"an Ed25519 public key is 32 bytes, not {len(public_key)}")
    return name, key_hash, alg, public_key


def _public_key(raw: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ReferenceVerificationError("not an Ed25519 public key") from exc


def _raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# ---------------------------------------------------------------------------------------------
# Signed notes (c2sp.org/signed-note)
# ---------------------------------------------------------------------------------------------


def open_note(note_text) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into (body, [(key name, raw signature bytes)]), checking its syntax only.

    raw signature bytes are the whole base64-decoded payload of the line: the 4-byte key ID
    followed by the algorithm's signature (c2sp.org/signed-note: "Signatures are the base64 encoding
    of 4+n bytes. The first four bytes in the signature are the uint32 key ID stored in big-endian
    order"). Nothing is verified here. Rules, all from c2sp.org/signed-note "Format":

    * valid UTF-8 with no ASCII control character other than newline;
    * the body is everything up to and including the newline before the LAST empty line;
    * after it, one or more lines "— <name> <base64>\\n", the last one newline-terminated;
    * names are valid key names; each payload is standard base64 of at least 4+1 bytes
      (golang.org/x/mod/sumdb/note refuses fewer, since the signature itself cannot be empty);
    * at most MAX_SIGNATURES lines (see its comment).
    """
    note = _as_text(note_text, "note")
    for ch in note:
        if ch < " " and ch != "\n":
            raise ReferenceVerificationError(f"note contains the control character U+{ord(ch):04X}")
    split = note.rfind(_SIGNATURE_SPLIT)
    if split < 0:
        raise ReferenceVerificationError("note has no empty line before its signatures")
    body, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise ReferenceVerificationError("note must end with newline-terminated signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ReferenceVerificationError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures: list[tuple[str, bytes]] = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise ReferenceVerificationError(f"signature line {line!r} does not start with an em dash and a space")
        name, sep, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not _is_valid_key_name(name):
            raise ReferenceVerificationError(f"signature line {line!r} has no valid key name")
        raw = _b64decode(b64, "signature")
        if len(raw) < 5:
            raise ReferenceVerificationError("a signature is a 4-byte key ID followed by a non-empty signature")
        signatures.append((name, raw))
    return body, signatures


def verify_note_signature(note_text, verifier_key_text) -> str:
    """Return the note body if it carries a valid Ed25519 (type 0x01) signature by that key.

    c2sp.org/signed-note, "Signatures": lines whose (name, key ID) is not the key's are ignored;
    a line that does match MUST be verified, and a failing one makes the whole note refused (the
    document says SHOULD; golang.org/x/mod/sumdb/note Open refuses it, and so does this reference);
    if no line of the key verifies, the note MUST be refused. "Ed25519 signatures": RFC 8032
    Ed25519 over the note text, i.e. the body including its final newline.
    """
    name, key_hash, alg, public_key = parse_verifier_key(verifier_key_text)
    if alg != ALG_ED25519:
        raise ReferenceVerificationError(f"verifier key {name} is of type 0x{alg:02x}, not an Ed25519 note key (0x01)")
    body, signatures = open_note(note_text)
    verifier = _public_key(public_key)
    verified = False
    for sig_name, raw in signatures:
        if sig_name != name or raw[:4] != key_hash:
            continue
        try:
            verifier.verify(raw[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise _FailedSignature(f"signature by {name}+{key_hash.hex()} does not verify") from exc
        verified = True
    if not verified:
        raise ReferenceVerificationError(f"note has no signature by {name}+{key_hash.hex()}")
    return body


def sign_note(body, name: str, private_key: Ed25519PrivateKey) -> str:
    """A signed note of body with one Ed25519 (0x01) signature line, as c2sp.org/signed-note lays
    it out: body (ending in newline), an empty line, "— <name> base64(key ID || signature)\\n"."""
    body = _as_text(body, "note body")
    if not body.endswith("\n"):
        raise ReferenceVerificationError("a note text ends in a newline")
    if not _is_valid_key_name(name):
        raise ReferenceVerificationError(f"invalid key name {name!r}")
    signature = private_key.sign(body.encode("utf-8"))
    payload = key_id(name, ALG_ED25519, _raw_public_key(private_key)) + signature
    return f"{body}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(payload).decode('ascii')}\n"


# ---------------------------------------------------------------------------------------------
# Checkpoints (c2sp.org/tlog-checkpoint)
# ---------------------------------------------------------------------------------------------


def parse_checkpoint(body) -> tuple[str, int, bytes]:
    """Parse a checkpoint note text into (origin, tree size, root hash).

    c2sp.org/tlog-checkpoint, "Note text": at least three non-empty newline-terminated lines:
    1. the origin, non-empty (its "schema-less URL" form is only a SHOULD and clients MUST NOT
       assume it, so nothing more is checked);
    2. the tree size, ASCII decimal with no leading zeroes ("0" for an empty tree);
    3. the root hash, base64 of the RFC 6962 Merkle root (32 bytes of SHA-256);
    4. any further lines are extension lines, which MUST be non-empty.
    """
    body = _as_text(body, "checkpoint")
    if not body.endswith("\n"):
        raise ReferenceVerificationError("a checkpoint ends in a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise ReferenceVerificationError("a checkpoint has at least three lines")
    if any(line == "" for line in lines):
        raise ReferenceVerificationError("checkpoint lines (extension lines included) are non-empty")
    origin = lines[0]
    size = _decimal(lines[1], "tree size")
    root = _b64decode_hash(lines[2], "root hash")
    return origin, size, root


# ---------------------------------------------------------------------------------------------
# Cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1)
# ---------------------------------------------------------------------------------------------


def cosignature_message(body, timestamp: int) -> bytes:
    """c2sp.org/tlog-cosignature, "Ed25519 signed message": the header line "cosignature/v1", the
    line "time <timestamp as ASCII decimal, no leading zeroes>", then the whole checkpoint note body
    (final newline included, signature lines excluded)."""
    body = _as_text(body, "checkpoint")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ReferenceVerificationError(f"timestamp {timestamp!r} is outside 0..2^63-1")
    return COSIGNATURE_HEADER + b"time " + str(timestamp).encode("ascii") + b"\n" + body.encode("utf-8")


def parse_cosignature(raw: bytes) -> tuple[bytes, int, bytes]:
    """Split a cosignature/v1 line payload into (key ID, timestamp, Ed25519 signature).

    c2sp.org/tlog-cosignature, "Format": the note signature is base64(32-bit key ID || signature),
    and the signature MUST be a `timestamped_signature`: u64 timestamp, then the 64-byte Ed25519
    signature, serialized in sequence with the timestamp big-endian (RFC 8446 section 3.3). The
    timestamp MUST NOT exceed 2^63 - 1.
    """
    raw = bytes(raw)
    if len(raw) != COSIGNATURE_V1_PAYLOAD_LENGTH:
        raise ReferenceVerificationError(
            f"a cosignature/v1 payload is {COSIGNATURE_V1_PAYLOAD_LENGTH} bytes, not {len(raw)}"
        )
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > MAX_TIMESTAMP:
        raise ReferenceVerificationError(f"cosignature timestamp {timestamp} exceeds 2^63-1")
    return raw[:4], timestamp, raw[12:]


def verify_cosignature(note_text, cosigner_verifier_key_text, *, not_after: int | None = None) -> int:
    """Return the timestamp of a valid cosignature/v1 line by that cosigner over the note's checkpoint.

    The verifier key must be of type 0x04 (c2sp.org/tlog-cosignature: the Ed25519 cosignature key ID
    MUST be computed with 0x04, and such keys MAY be written as vkeys of type 0x04). The note body
    must be a checkpoint (a cosignature "is a note signature applied to a checkpoint"). As for any
    note signature (c2sp.org/signed-note), lines of other keys are ignored and a matching line that
    fails makes the note refused. not_after, when given, refuses timestamps later than it
    ("verifiers MAY reject cosignatures with timestamps in the future").
    """
    name, key_hash, alg, public_key = parse_verifier_key(cosigner_verifier_key_text)
    if alg != ALG_COSIGNATURE_V1:
        raise ReferenceVerificationError(f"verifier key {name} is of type 0x{alg:02x}, not cosignature/v1 (0x04)")
    body, signatures = open_note(note_text)
    parse_checkpoint(body)
    verifier = _public_key(public_key)
    found: int | None = None
    for sig_name, raw in signatures:
        if sig_name != name or raw[:4] != key_hash:
            continue
        _, timestamp, signature = parse_cosignature(raw)
        try:
            verifier.verify(signature, cosignature_message(body, timestamp))
        except InvalidSignature as exc:
            raise _FailedSignature(f"cosignature by {name}+{key_hash.hex()} does not verify") from exc
        if not_after is not None and timestamp > not_after:
            raise ReferenceVerificationError(f"cosignature timestamp {timestamp} is in the future")
        if found is None:
            found = timestamp
    if found is None:
        raise ReferenceVerificationError(f"note has no cosignature by {name}+{key_hash.hex()}")
    return found


def cosign_checkpoint(body, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """One cosignature/v1 signature line "— <name> base64(key ID || u64be timestamp || sig)\\n" over
    a checkpoint body, built from c2sp.org/tlog-cosignature alone."""
    body = _as_text(body, "checkpoint")
    parse_checkpoint(body)
    if not _is_valid_key_name(name):
        raise ReferenceVerificationError(f"invalid key name {name!r}")
    signature = private_key.sign(cosignature_message(body, timestamp))
    payload = key_id(name, ALG_COSIGNATURE_V1, _raw_public_key(private_key)) + timestamp.to_bytes(8, "big") + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(payload).decode('ascii')}\n"


# ---------------------------------------------------------------------------------------------
# Witness protocol (c2sp.org/tlog-witness, add-checkpoint)
# ---------------------------------------------------------------------------------------------


def parse_add_checkpoint_request(text) -> tuple[int, list[bytes], str]:
    """Parse an add-checkpoint request body into (old size, consistency proof hashes, note).

    c2sp.org/tlog-witness, add-checkpoint: the body is an old size line "old <decimal, no leading
    zeroes>", zero or more consistency proof lines (one base64 hash each, at most 63), an empty
    line, then a checkpoint (a signed note, which MAY carry several signatures). Each line ends in
    a newline. The note is returned verbatim and checked for syntax (open_note, parse_checkpoint)
    but not for signatures, and old <= size is left to the caller (the witness answers 400 then).
    """
    text = _as_text(text, "add-checkpoint request")
    head, sep, note = text.partition(_SIGNATURE_SPLIT)
    if not sep:
        raise ReferenceVerificationError("add-checkpoint request has no empty line before the checkpoint")
    lines = head.split("\n")
    old_line, proof_lines = lines[0], lines[1:]
    if not old_line.startswith("old "):
        raise ReferenceVerificationError(f"first line {old_line!r} is not 'old <size>'")
    old_size = _decimal(old_line[len("old ") :], "old size")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ReferenceVerificationError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = [_b64decode_hash(line, "consistency proof line") for line in proof_lines]
    body, _ = open_note(note)
    parse_checkpoint(body)
    return old_size, proof, note


def add_checkpoint_request(old_size: int, proof: list[bytes], note_text) -> str:
    """The request body parse_add_checkpoint_request reads: "old N\\n", proof lines, "\\n", note."""
    note = _as_text(note_text, "note")
    lines = [f"old {int(old_size)}"] + [base64.b64encode(bytes(h)).decode("ascii") for h in proof]
    return "\n".join(lines) + "\n\n" + note


def parse_add_checkpoint_response(text) -> list[tuple[str, bytes]]:
    """Parse a 200 add-checkpoint body: c2sp.org/tlog-witness says it is one or more note signature
    lines, each starting with "—" (U+2014) and ending with a newline. Returns [(name, raw payload)].
    The client then MUST ignore cosignatures from unknown keys; appending the body to the checkpoint
    and calling verify_cosignature is the route the document suggests."""
    text = _as_text(text, "add-checkpoint response")
    if not text.endswith("\n"):
        raise ReferenceVerificationError("response must end with a newline")
    result = []
    for line in text[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise ReferenceVerificationError(f"response line {line!r} is not a note signature line")
        name, sep, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not _is_valid_key_name(name):
            raise ReferenceVerificationError(f"response line {line!r} has no valid key name")
        result.append((name, _b64decode(b64, "signature")))
    return result


def parse_conflict_response(content_type: str, body) -> int:
    """Read the size from a 409 answer to a stale old size.

    c2sp.org/tlog-witness: "The response body MUST consist of the tree size of the latest cosigned
    checkpoint in decimal, followed by a newline (U+000A). The response MUST have a Content-Type of
    text/x.tlog.size." (Leading zeroes are refused here, as in every other decimal of the protocol.)
    """
    if (content_type or "").strip().lower() != SIZE_CONTENT_TYPE:
        raise ReferenceVerificationError(f"Content-Type {content_type!r} is not {SIZE_CONTENT_TYPE}")
    body = _as_text(body, "409 body")
    if not body.endswith("\n") or "\n" in body[:-1]:
        raise ReferenceVerificationError("409 body is one decimal followed by a newline")
    return _decimal(body[:-1], "tree size")


class ReferenceWitness:
    """A minimal in-memory witness that answers add-checkpoint exactly as c2sp.org/tlog-witness says.

    logs maps an origin to the verifier keys (0x01) the witness trusts for it. add_checkpoint
    returns (status, content_type, body). The checks run in the order the document lists them:

    * malformed body -> 400 (the document does not name a code for a body it cannot parse; 400
      Bad Request is the one it uses for a bad request);
    * unknown origin -> 404 Not Found;
    * no signature verifies against a trusted key (or a trusted key's signature fails) -> 403;
    * old size > checkpoint size -> 400 Bad Request;
    * old size != size of the latest cosigned checkpoint (0 if none) -> 409 Conflict, Content-Type
      text/x.tlog.size, body "<latest size>\\n";
    * old size == checkpoint size but a different root hash -> 409 Conflict;
    * consistency proof (RFC 6962 section 2.1.2; empty when old size is 0) fails -> 422;
    * else the new checkpoint is recorded and 200 carries the cosignature line(s).
    """

    def __init__(self, name: str, private_key: Ed25519PrivateKey, logs: dict[str, list[str]], clock=None):
        self.name = name
        self.private_key = private_key
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.clock = clock or (lambda: int(time.time()))
        self.latest: dict[str, tuple[int, bytes]] = {}

    @property
    def verifier_key(self) -> str:
        return format_verifier_key(self.name, ALG_COSIGNATURE_V1, _raw_public_key(self.private_key))

    def add_checkpoint(self, request_body) -> tuple[int, str, str]:
        try:
            old_size, proof, note = parse_add_checkpoint_request(request_body)
            body, _ = open_note(note)
            origin, size, root = parse_checkpoint(body)
        except ReferenceVerificationError as exc:
            return 400, "text/plain", f"{exc}\n"
        if origin not in self.logs:
            return 404, "text/plain", "unknown log\n"
        if not self._signed_by_trusted_key(note, self.logs[origin]):
            return 403, "text/plain", "no valid signature from a trusted key\n"
        if old_size > size:
            return 400, "text/plain", "old size is larger than the checkpoint size\n"
        latest_size, latest_root = self.latest.get(origin, (0, EMPTY_TREE_ROOT))
        if old_size != latest_size:
            return 409, SIZE_CONTENT_TYPE, f"{latest_size}\n"
        if old_size == size and root != latest_root:
            return 409, "text/plain", "same size, different root hash\n"
        try:
            verify_consistency(latest_size, size, latest_root, root, proof)
        except ReferenceVerificationError as exc:
            return 422, "text/plain", f"{exc}\n"
        self.latest[origin] = (size, root)
        return 200, "text/plain", cosign_checkpoint(body, self.name, self.private_key, self.clock())

    @staticmethod
    def _signed_by_trusted_key(note: str, keys: list[str]) -> bool:
        for key in keys:
            try:
                verify_note_signature(note, key)
            except _FailedSignature:
                return False
            except ReferenceVerificationError:
                continue
            return True
        return False


# ---------------------------------------------------------------------------------------------
# Merkle trees (RFC 9162 section 2.1)
# ---------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 section 2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 section 2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> None:
    """Verify that the tree of size `second` with root `second_root` extends the tree of size
    `first` with root `first_root`, given the consistency proof; raise if it does not.

    0 < first < second: RFC 9162 section 2.1.4.2, step by step (below).
    first == second: nothing to prove; the proof must be empty and the roots equal.
    first == 0: the empty tree (root HASH(), RFC 9162 section 2.1.1) is a prefix of every tree;
    the proof must be empty (c2sp.org/tlog-witness: "The proof MUST be empty if the old size is
    zero").
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, second)):
        raise ReferenceVerificationError("tree sizes are integers")
    if first < 0 or second < first:
        raise ReferenceVerificationError(f"no consistency from size {first} to size {second}")
    first_root, second_root = bytes(first_root), bytes(second_root)
    path = [bytes(h) for h in proof]
    if any(len(h) != 32 for h in [first_root, second_root, *path]):
        raise ReferenceVerificationError("roots and proof hashes are 32-byte SHA-256 values")
    if first == 0:
        if path:
            raise ReferenceVerificationError("the proof from the empty tree is empty")
        if first_root != EMPTY_TREE_ROOT:
            raise ReferenceVerificationError("the root of the empty tree is SHA-256 of the empty string")
        return
    if first == second:
        if path:
            raise ReferenceVerificationError("the proof between equal sizes is empty")
        if first_root != second_root:
            raise ReferenceVerificationError("equal sizes with different roots")
        return
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not path:
        raise ReferenceVerificationError("empty consistency proof")
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = first - 1, second - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            raise ReferenceVerificationError("consistency proof is too long")
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr). ii. Set sr to HASH(0x01 || c || sr).
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # iii. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #      LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # Otherwise: i. Set sr to HASH(0x01 || sr || c).
            sr = node_hash(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Verify that fr equals first_hash, that sr equals second_hash, and that sn is 0.
    if sn != 0:
        raise ReferenceVerificationError("consistency proof is too short")
    if fr != first_root:
        raise ReferenceVerificationError("consistency proof does not lead to the first root")
    if sr != second_root:
        raise ReferenceVerificationError("consistency proof does not lead to the second root")
