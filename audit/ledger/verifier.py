#!/usr/bin/env python3
"""Stand-alone verifier for CommandCentral's audit ledger. One file: the standard library and `cryptography`.

Copy this file anywhere (it does not need the project installed) and check what the API serves:

    verifier.py key.txt checkpoint NOTE               the note is signed by the key; prints size and root
    verifier.py key.txt inclusion PROOF.json          a proof from GET /api/v1/events/{id}/proof/
    verifier.py key.txt consistency OLD_NOTE NEW_NOTE PROOF.json
                                                      a proof from GET /api/v1/ledger/consistency/

`key.txt` holds the verifier key from GET /api/v1/ledger/key/ (fetch it once, out of band, and keep it).
Exit status 0 when everything verifies, 1 when something does not (the reason on stderr), 2 on usage.

What is checked:
- Merkle trees per RFC 9162 §2.1: leaf hash = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right);
  inclusion proofs (§2.1.3.2) and consistency proofs (§2.1.4.2).
- Checkpoints per C2SP tlog-checkpoint: "<origin>\\n<tree size>\\n<base64 root hash>\\n" plus optional
  extension lines, as the text of a C2SP signed note: the text, a blank line, then signature lines
  "— <name> <base64(4-byte key hash ‖ signature)>\\n".
- Ed25519 verifier keys in the signed-note form "<name>+<8 hex key hash>+<base64(0x01 ‖ public key)>",
  where key hash = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
- Witness cosignatures per C2SP tlog-cosignature (`cosignature/v1`, Ed25519): a signature line by the
  witness's key "<name>+<8 hex>+<base64(0x04 ‖ public key)>" over "cosignature/v1\ntime <t>\n" and the
  checkpoint body, its payload being key hash ‖ 8-byte big-endian t ‖ signature. With `--witness FILE`
  (once per trusted witness) and `--quorum K`, a checkpoint is accepted only when at least K of those
  witnesses cosigned it (default K: every witness given).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04  # C2SP tlog-cosignature, Ed25519
COSIGNATURE_HEADER = "cosignature/v1\n"
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
MAX_SIGNATURES = 100  # as the Go implementation; a note with more is refused


class VerificationError(Exception):
    """A proof, note or key does not verify, or is malformed. The message says which and why."""


# --- Hashes (RFC 9162 §2.1.1) ----------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def root_from_leaves(leaf_hashes: list[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes (O(n); a reference for small trees and tests)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (height, hash) of complete subtrees, left to right
    for value in leaf_hashes:
        height = 0
        while stack and stack[-1][0] == height:
            value = node_hash(stack.pop()[1], value)
            height += 1
        stack.append((height, value))
    value = stack.pop()[1]
    while stack:
        value = node_hash(stack.pop()[1], value)
    return value


# --- Proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) --------------------------------------------------------


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise VerificationError(f"{name} is not a 32-byte SHA-256 hash")


def root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """The root an inclusion path leads to (RFC 9162 §2.1.3.2); raises when the path has the wrong shape."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf)
    fn, sn, r = index, size - 1, leaf
    for number, p in enumerate(path):
        _check_hash(f"inclusion path[{number}]", p)
        if sn == 0:
            raise VerificationError("inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion path is shorter than the tree is deep")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> None:
    _check_hash("root hash", root)
    if root_from_inclusion(leaf, index, size, path) != root:
        raise VerificationError(f"inclusion proof of leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, path: list[bytes]) -> None:
    """The tree of size2 with root2 extends the tree of size1 with root1 (RFC 9162 §2.1.4.2)."""
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    for number, p in enumerate(path):
        _check_hash(f"consistency path[{number}]", p)
    if not 0 <= size1 <= size2:
        raise VerificationError(f"first size {size1} is not between 0 and second size {size2}")
    if size1 == size2:
        if path:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise VerificationError(f"two different roots for tree size {size1}")
        return
    if size1 == 0:
        if path:
            raise VerificationError("consistency proof from the empty tree must be empty")
        return
    if not path:
        raise VerificationError("consistency proof is empty")
    path = list(path)
    if size1 & (size1 - 1) == 0:  # size1 is an exact power of 2: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the trees need")
    if fr != root1:
        raise VerificationError(f"consistency proof does not lead to the root of tree size {size1}")
    if sr != root2:
        raise VerificationError(f"consistency proof does not lead to the root of tree size {size2}")


# --- Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) --------------------------------


def key_hash(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    """The 4-byte key ID: SHA-256(name ‖ "\\n" ‖ alg ‖ public key)[:4] (0x01 note signer, 0x04 cosigner)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


def valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name) and name.isprintable()


def b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4) with padding, strictly."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as error:
        raise VerificationError(f"{what} is not standard base64") from error


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_hash: bytes
    public_key: bytes
    alg: int = ALG_ED25519  # ALG_COSIGNATURE_V1 for a witness's cosigner key

    def __str__(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{b64encode(bytes([self.alg]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_verifier_key(text: str, alg: int = ALG_ED25519) -> VerifierKey:
    """A verifier key of type `alg`: 0x01 (Ed25519 note signatures) or 0x04 (cosignature/v1)."""
    parts = text.strip().split("+", 2)  # the base64 key may hold '+' itself
    if len(parts) != 3:
        raise VerificationError("verifier key must read <name>+<8 hex>+<base64 key>")
    name, hash_hex, encoded = parts
    if not valid_key_name(name):
        raise VerificationError("verifier key name is empty or holds '+' or spaces")
    if len(hash_hex) != 8 or any(ch not in "0123456789abcdef" for ch in hash_hex):
        raise VerificationError("verifier key hash must be 8 lowercase hex digits")
    raw = b64decode(encoded, "verifier key")
    if len(raw) != 33 or raw[0] != alg:
        kind = "a cosigner (witness) key" if alg == ALG_COSIGNATURE_V1 else "an Ed25519 key"
        raise VerificationError(f"verifier key is not {kind} (0x{alg:02x} followed by 32 bytes)")
    key = VerifierKey(name, bytes.fromhex(hash_hex), raw[1:], alg)
    if key_hash(name, key.public_key, alg) != key.key_hash:
        raise VerificationError("verifier key hash does not match its name and key")
    return key


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """(text, signatures) of a signed note; the text ends with its newline, as it was signed."""
    if "\r" in note or not note.endswith("\n"):
        raise VerificationError("note is malformed: it must end with a newline and hold no carriage returns")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationError("note is malformed: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    signatures = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise VerificationError(f"note is malformed: signature line {line[:40]!r} does not start with '— '")
        parts = line[len(SIGNATURE_PREFIX) :].split(" ")
        if len(parts) != 2 or not valid_key_name(parts[0]):
            raise VerificationError("note is malformed: a signature line is not '— <name> <base64>'")
        raw = b64decode(parts[1], "note signature")
        if len(raw) < 5:
            raise VerificationError("note is malformed: a signature is too short")
        signatures.append(NoteSignature(parts[0], raw[:4], raw[4:]))
    if not signatures:
        raise VerificationError("note has no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise VerificationError("note has too many signatures")
    return text, signatures


def verify_note(note: str, key: VerifierKey) -> str:
    """The note's text when `key` signed it; raises otherwise. Signatures by other keys are ignored."""
    if key.alg != ALG_ED25519:
        raise VerificationError("a note signature is checked with an Ed25519 (0x01) verifier key")
    text, signatures = split_note(note)
    if any(ch != "\n" and (ord(ch) < 0x20 or ch == "\x7f") for ch in text):  # C2SP: no ASCII control characters
        raise VerificationError("note text holds control characters")
    mine = [s for s in signatures if s.name == key.name and s.key_hash == key.key_hash]
    if not mine:
        raise VerificationError(f"note carries no signature by {key.name}+{key.key_hash.hex()}")
    # C2SP: a signature by a known key that fails rejects the note, even beside one that verifies.
    if not all(key.verify(text.encode("utf-8"), s.signature) for s in mine):
        raise VerificationError(f"the signature by {key.name} does not verify: the note was changed or signed by another key")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())


def parse_checkpoint(text: str) -> Checkpoint:
    """A tlog-checkpoint body: origin, decimal size, base64 root hash, optional extension lines."""
    if not text.endswith("\n"):
        raise VerificationError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError("checkpoint needs an origin, a tree size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise VerificationError("checkpoint origin is empty")
    if not (size_text.isascii() and size_text.isdigit()) or (len(size_text) > 1 and size_text[0] == "0"):
        raise VerificationError("checkpoint tree size is not a decimal number without leading zeros")
    root = b64decode(root_text, "checkpoint root hash")
    if len(root) != 32:
        raise VerificationError("checkpoint root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise VerificationError("checkpoint holds an empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def verify_checkpoint(note: str, key: VerifierKey, origin: str | None = None) -> Checkpoint:
    """A signed checkpoint's content once its signature by `key` (and its origin, if given) checks out."""
    checkpoint = parse_checkpoint(verify_note(note, key))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


# --- Witness cosignatures (C2SP tlog-cosignature, cosignature/v1) ------------------------------------


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a witness signs: the header line, the time line, then the checkpoint body as the log signed it."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode("utf-8")


def verify_cosignature(note: str, key: VerifierKey) -> int:
    """The time (POSIX seconds) at which the witness with cosigner key `key` cosigned this checkpoint."""
    if key.alg != ALG_COSIGNATURE_V1:
        raise VerificationError("a cosignature is checked with a cosigner (0x04) verifier key")
    text, signatures = split_note(note)
    parse_checkpoint(text)
    mine = [s for s in signatures if s.name == key.name and s.key_hash == key.key_hash]
    if not mine:
        raise VerificationError(f"checkpoint carries no cosignature by witness {key.name}")
    times = []
    for signature in mine:
        payload = signature.signature
        if len(payload) != 8 + 64:
            raise VerificationError(f"the cosignature by {key.name} is not an 8-byte time and a 64-byte signature")
        timestamp = int.from_bytes(payload[:8], "big")
        if timestamp >= 1 << 63 or not key.verify(cosigned_message(text, timestamp), payload[8:]):
            raise VerificationError(f"the cosignature by {key.name} does not verify over this checkpoint")
        times.append(timestamp)
    return max(times)


def verify_witnessed(note: str, witnesses: list[VerifierKey], quorum: int) -> list[tuple[str, int]]:
    """(name, time) of every listed witness whose cosignature verifies; raises unless at least `quorum` do.

    A witness's line that is present but fails counts as missing, and its reason is in the error.
    """
    cosigned, failures = [], []
    for witness in witnesses:
        try:
            cosigned.append((witness.name, verify_cosignature(note, witness)))
        except VerificationError as error:
            failures.append(str(error))
    if len(cosigned) < quorum:
        raise VerificationError(
            f"{len(cosigned)} of {len(witnesses)} witnesses cosigned this checkpoint, {quorum} required"
            + (f" ({'; '.join(failures)})" if failures else "")
        )
    return cosigned


# --- What the API serves ------------------------------------------------------------------------------


def _paths(values, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise VerificationError(f"{what} is not a list")
    return [b64decode(value, what) if isinstance(value, str) else b"" for value in values]


def verify_inclusion_document(document: dict, key: VerifierKey) -> Checkpoint:
    """An events/{id}/proof/ response: its checkpoint is signed by `key`, its canonical bytes hash to the
    leaf hash, and the inclusion path leads from that leaf to the checkpoint's root."""
    _not_an_error_body(document)
    try:
        checkpoint = verify_checkpoint(document["checkpoint"], key)
        canonical = b64decode(document["canonical"], "canonical")
        leaf = b64decode(document["leaf_hash"], "leaf_hash")
        index, size = int(document["leaf_index"]), int(document["tree_size"])
        path = _paths(document["inclusion_path"], "inclusion_path")
    except (KeyError, TypeError, ValueError) as error:
        raise VerificationError(f"proof document is malformed: {error!r}") from error
    if leaf_hash(canonical) != leaf:
        raise VerificationError("the row's canonical bytes do not hash to the leaf hash")
    if size != checkpoint.size:
        raise VerificationError(f"proof is for tree size {size}, its checkpoint for {checkpoint.size}")
    verify_inclusion(leaf, index, size, path, checkpoint.root_hash)
    return checkpoint


def _not_an_error_body(document) -> None:
    """A saved API error ({"detail": …}, a 404 or a 409) is reported as what it is, not as a proof that
    lacks its fields."""
    if isinstance(document, dict) and "detail" in document and "inclusion_path" not in document \
            and "consistency_path" not in document:
        raise VerificationError(f"the server answered an error, not a proof: {document['detail']}")


def verify_consistency_document(document: dict, old: Checkpoint, new: Checkpoint) -> None:
    """A ledger/consistency/ response proves that checkpoint `new` extends checkpoint `old`."""
    _not_an_error_body(document)
    try:
        first, second = int(document["first"]), int(document["second"])
        path = _paths(document["consistency_path"], "consistency_path")
    except (KeyError, TypeError, ValueError) as error:
        raise VerificationError(f"consistency document is malformed: {error!r}") from error
    if (first, second) != (old.size, new.size):
        raise VerificationError(f"proof is for sizes {first}→{second}, the checkpoints are {old.size}→{new.size}")
    if old.origin != new.origin:
        raise VerificationError("the two checkpoints are of different logs")
    verify_consistency(first, second, old.root_hash, new.root_hash, path)


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _witness_options(argv: list[str]) -> tuple[list[str], list[str], int | None]:
    """Split `--witness FILE` (repeatable) and `--quorum K` out of the arguments."""
    rest, files, quorum = [], [], None
    items = iter(argv)
    for item in items:
        if item in ("--witness", "--quorum"):
            value = next(items, None)
            if value is None:
                raise ValueError(f"{item} needs a value")
            if item == "--witness":
                files.append(value)
            else:
                quorum = int(value)
        else:
            rest.append(item)
    return rest, files, quorum


def main(argv: list[str]) -> int:
    usage = (
        "usage: verifier.py KEYFILE checkpoint NOTE                      [--witness KEYFILE ... [--quorum K]]\n"
        "       verifier.py KEYFILE inclusion PROOF.json                 [--witness KEYFILE ... [--quorum K]]\n"
        "       verifier.py KEYFILE consistency OLD_NOTE NEW_NOTE PROOF.json [--witness KEYFILE ... [--quorum K]]\n"
    )
    try:
        argv, witness_files, quorum = _witness_options(argv)
    except ValueError as error:
        sys.stderr.write(f"{error}\n{usage}")
        return 2
    if len(argv) < 3 or argv[1] not in ("checkpoint", "inclusion", "consistency"):
        sys.stderr.write(usage)
        return 2
    command, args = argv[1], argv[2:]
    if len(args) != {"checkpoint": 1, "inclusion": 1, "consistency": 3}[command]:
        sys.stderr.write(usage)
        return 2
    if quorum is not None and not 0 < quorum <= len(witness_files):
        sys.stderr.write(f"--quorum must be between 1 and the number of --witness keys ({len(witness_files)})\n")
        return 2
    try:
        key = parse_verifier_key(_read(argv[0]))
        witnesses = [parse_verifier_key(_read(path), ALG_COSIGNATURE_V1) for path in witness_files]
        needed = len(witnesses) if quorum is None else quorum

        def witnessed(note: str) -> str:
            if not witnesses:
                return ""
            cosigned = verify_witnessed(note, witnesses, needed)
            return f", cosigned by {len(cosigned)} of {len(witnesses)} witnesses ({', '.join(name for name, _ in cosigned)})"

        if command == "checkpoint":
            note = _read(args[0])
            checkpoint = verify_checkpoint(note, key)
            print(f"OK checkpoint of {checkpoint.origin}: tree size {checkpoint.size}, root {b64encode(checkpoint.root_hash)}"
                  f"{witnessed(note)}")
        elif command == "inclusion":
            document = json.loads(_read(args[0]))
            checkpoint = verify_inclusion_document(document, key)
            print(f"OK leaf {document['leaf_index']} is in tree size {checkpoint.size} of {checkpoint.origin}"
                  f"{witnessed(document['checkpoint'])}")
        else:
            old = verify_checkpoint(_read(args[0]), key)
            new_note = _read(args[1])
            new = verify_checkpoint(new_note, key)
            verify_consistency_document(json.loads(_read(args[2])), old, new)
            print(f"OK tree size {new.size} extends tree size {old.size} of {new.origin}{witnessed(new_note)}")
    except (VerificationError, json.JSONDecodeError) as error:
        sys.stderr.write(f"FAILED: {error}\n")
        return 1
    except OSError as error:
        sys.stderr.write(f"cannot read {error.filename}: {error.strerror}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
