"""Tests that the independent C2SP reference (c2sp_reference.py) is itself right.

Every vector below is quoted from a public document or implementation, named where it is used, so
that the reference is pinned to published bytes and not only to a round trip through itself:

* golang.org/x/mod/sumdb/note, note.go (package doc) and note_test.go: the PeterNeumann and
  EnochRoot Ed25519 keys and signatures over "If you think cryptography is the answer to your
  problem, ...", and the manglings a verifier key parser must refuse.
* C2SP/C2SP signed-note.md, tlog-checkpoint.md, tlog-cosignature.md and tlog-witness.md: the
  example notes, checkpoint, cosignature line, signed message, request and response bodies.
* transparency-dev/formats note/note_cosigv1_test.go: a 0x01 and a 0x04 verifier key and a
  cosignature payload with a known timestamp.
* FiloSottile/torchwood cmd/litewitness/testdata/multi-cosigs-ed25519.txt: a real add-checkpoint
  request whose checkpoint is signed by a Sigsum log key given in the same file.
* sigsum-go pkg/client TestProcessConflictResponse: which 409 answers carry a size.
* transparency-dev/merkle proof/verify_test.go: the RFC 6962 test leaves, their roots and
  consistency proofs.

No Django and no project code: plain pytest.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.tests import c2sp_reference as ref
from audit.tests.c2sp_reference import ReferenceVerificationError

EM = "\u2014"

# ---------------------------------------------------------------------------------------------
# golang.org/x/mod/sumdb/note: note.go package documentation and note_test.go (TestSign, TestOpen)
# ---------------------------------------------------------------------------------------------

GO_PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_PETER_SIG = f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_ENOCH_SIG = f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
GO_NOTE = GO_TEXT + "\n" + GO_PETER_SIG


def _go_peter_private_key() -> Ed25519PrivateKey:
    # note.go NewSigner: "PRIVATE+KEY+<name>+<hash>+<keydata>", keydata = 0x01 || 32-byte seed.
    keydata = base64.b64decode(GO_PETER_SKEY.split("+", 4)[4])
    assert keydata[0] == ref.ALG_ED25519 and len(keydata) == 33
    return Ed25519PrivateKey.from_private_bytes(keydata[1:])


def _raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class TestVerifierKeys:
    def test_the_go_verifier_key_parses_and_its_key_hash_is_recomputed(self):
        name, key_hash, alg, public_key = ref.parse_verifier_key(GO_PETER_VKEY)
        assert (name, key_hash.hex(), alg, len(public_key)) == ("PeterNeumann", "c74f20a3", 0x01, 32)
        assert ref.key_id(name, alg, public_key) == key_hash
        assert ref.format_verifier_key(name, alg, public_key) == GO_PETER_VKEY

    def test_the_go_signer_key_derives_the_published_verifier_key(self):
        assert ref.format_verifier_key("PeterNeumann", ref.ALG_ED25519, _raw(_go_peter_private_key())) == GO_PETER_VKEY

    def test_every_mangling_of_note_test_go_is_refused(self):
        # note_test.go TestNewVerifier: every proper substring and every single-byte increment of
        # the key must be refused, and so must two keys whose hash was adjusted to match.
        vkey = GO_PETER_VKEY
        for i in range(len(vkey) + 1):
            for j in range(i + 1, len(vkey) + 1):
                if i == 0 and j == len(vkey):
                    continue
                with pytest.raises(ReferenceVerificationError):
                    ref.parse_verifier_key(vkey[i:j])
        for i in range(len(vkey)):
            with pytest.raises(ReferenceVerificationError):
                ref.parse_verifier_key(vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :])
        with pytest.raises(ReferenceVerificationError):  # wrong length key, with adjusted key hash
            ref.parse_verifier_key("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
        with pytest.raises(ReferenceVerificationError):  # unknown algorithm, with adjusted key hash
            ref.parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")

    def test_transparency_dev_formats_keys_of_both_types(self):
        # transparency-dev/formats note/note_cosigv1_test.go TestCoSigV1NewVerifier: a 0x01 key
        # whose base64 holds a '+', and a native 0x04 (cosignature/v1) key.
        name, key_hash, alg, _ = ref.parse_verifier_key("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
        assert (name, key_hash.hex(), alg) == ("TEST", "7997405c", ref.ALG_ED25519)
        name, key_hash, alg, _ = ref.parse_verifier_key("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        assert (name, key_hash.hex(), alg) == ("remora.n621.de", "da77ade7", ref.ALG_COSIGNATURE_V1)
        # The same file's "incorrect keyhash" and "invalid algo" cases.
        with pytest.raises(ReferenceVerificationError):
            ref.parse_verifier_key("remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        with pytest.raises(ReferenceVerificationError):
            ref.parse_verifier_key("rekor.sigstore.dev+12345678+AwEB")

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "name+c74f20a3",  # two parts
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",  # not standard base64
        ],
    )
    def test_malformed_keys_are_refused(self, bad):
        with pytest.raises(ReferenceVerificationError):
            ref.parse_verifier_key(bad)


class TestSignedNotes:
    def test_the_go_note_verifies_and_opens_to_its_text(self):
        assert ref.verify_note_signature(GO_NOTE, GO_PETER_VKEY) == GO_TEXT
        assert ref.verify_note_signature(GO_NOTE.encode("utf-8"), GO_PETER_VKEY) == GO_TEXT

    def test_signing_with_the_go_signer_key_reproduces_the_published_note_byte_for_byte(self):
        # note_test.go TestSign; Ed25519 (RFC 8032) is deterministic, so the bytes must be equal.
        assert ref.sign_note(GO_TEXT, "PeterNeumann", _go_peter_private_key()) == GO_NOTE

    def test_open_note_splits_the_two_signatures_of_test_open(self):
        body, signatures = ref.open_note(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG)
        assert body == GO_TEXT
        assert [(name, raw[:4].hex(), len(raw)) for name, raw in signatures] == [
            ("PeterNeumann", "c74f20a3", 68),
            ("EnochRoot", "af0cfe78", 68),
        ]

    def test_each_key_finds_its_own_signature_among_others(self):
        note = GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG
        assert ref.verify_note_signature(note, GO_PETER_VKEY) == GO_TEXT
        assert ref.verify_note_signature(note, GO_ENOCH_VKEY) == GO_TEXT

    def test_a_line_sharing_only_the_name_or_only_the_key_id_is_ignored(self):
        # c2sp.org/signed-note: unknown keys are ignored "even if they share a name or ID (but not
        # both) with a known key".
        other = Ed25519PrivateKey.generate()
        same_name = ref.sign_note(GO_TEXT, "PeterNeumann", other).split("\n\n")[1]
        payload = base64.b64decode(GO_PETER_SIG.split(" ")[2])
        same_id = f"{EM} PeterNeumannX {base64.b64encode(payload[:4] + bytes(64)).decode()}\n"
        assert ref.verify_note_signature(GO_TEXT + "\n" + same_name + same_id + GO_PETER_SIG, GO_PETER_VKEY) == GO_TEXT

    def test_a_note_without_the_keys_signature_is_refused(self):
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(GO_TEXT + "\n" + GO_ENOCH_SIG, GO_PETER_VKEY)

    def test_a_changed_text_is_refused(self):
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(GO_NOTE.replace("cryptography", "cryptographY"), GO_PETER_VKEY)

    def test_a_corrupt_signature_of_the_key_is_refused_even_next_to_a_good_one(self):
        # note_test.go TestOpen "Invalid signature": four base64 characters inserted at offset 60.
        corrupt = GO_PETER_SIG[:60] + "ABCD" + GO_PETER_SIG[60:]
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(GO_TEXT + "\n" + corrupt, GO_PETER_VKEY)
        # c2sp.org/signed-note: a failing signature from a known key rejects the whole note.
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(GO_TEXT + "\n" + GO_PETER_SIG + corrupt, GO_PETER_VKEY)

    def test_a_cosignature_key_does_not_verify_ordinary_note_signatures(self):
        name, _, _, public_key = ref.parse_verifier_key(GO_PETER_VKEY)
        cosigner_key = ref.format_verifier_key(name, ref.ALG_COSIGNATURE_V1, public_key)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(GO_NOTE, cosigner_key)

    @pytest.mark.parametrize(
        "bad",
        [
            # note_test.go TestOpen, "Invalid encoded message syntax".
            GO_TEXT,
            GO_TEXT + "\n",
            GO_TEXT + "\n" + GO_PETER_SIG[:-1],
            b"\x01" + (GO_TEXT + "\n" + GO_PETER_SIG).encode(),
            b"\xff" + (GO_TEXT + "\n" + GO_PETER_SIG).encode(),
            GO_TEXT + "\n" + f"{EM} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
            GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
            # Further cases of c2sp.org/signed-note "Format".
            GO_TEXT + "\n" + GO_PETER_SIG.replace(EM, "-"),  # a hyphen is not an em dash
            GO_TEXT + "\n" + GO_PETER_SIG.replace(EM + " ", EM),  # no space after the dash
            GO_TEXT + "\n" + f"{EM} PeterNeumann x08g\n",  # a key ID and no signature
            GO_TEXT + "\n" + GO_PETER_SIG * (ref.MAX_SIGNATURES + 1),
            "tab\there\n\n" + GO_PETER_SIG,
        ],
    )
    def test_malformed_notes_are_refused(self, bad):
        with pytest.raises(ReferenceVerificationError):
            ref.open_note(bad)

    def test_the_signed_note_document_example_splits_on_the_last_empty_line(self):
        # C2SP signed-note.md, the example at its top: the text itself holds an empty line.
        note = (
            "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
            f"{EM} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
        )
        body, signatures = ref.open_note(note)
        assert body == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
        assert [name for name, _ in signatures] == ["quasimodo.example/salvatore"]
        assert signatures[0][1][:4].hex() == "367ba04b"


# ---------------------------------------------------------------------------------------------
# Checkpoints: C2SP tlog-checkpoint.md
# ---------------------------------------------------------------------------------------------

SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


class TestCheckpoints:
    def test_the_tlog_checkpoint_example(self):
        origin, size, root = ref.parse_checkpoint(SOFA_BODY)
        assert (origin, size) == ("example.com/behind-the-sofa", 20852163)
        assert root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")

    def test_extension_lines_are_allowed_and_an_empty_tree_is_size_zero(self):
        empty_root = base64.b64encode(ref.EMPTY_TREE_ROOT).decode()
        assert ref.parse_checkpoint(f"log.example\n0\n{empty_root}\nextension one\n")[1] == 0

    @pytest.mark.parametrize(
        "bad",
        [
            "example.com/behind-the-sofa\n20852163\n",  # two lines
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  # no final newline
            "\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # empty origin
            "example.com/behind-the-sofa\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  # leading zero
            "example.com/behind-the-sofa\n+20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "example.com/behind-the-sofa\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "example.com/behind-the-sofa\n1e3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2\n",  # 31 bytes
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",  # base64url
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\nx\n",  # empty extension
        ],
    )
    def test_malformed_checkpoints_are_refused(self, bad):
        with pytest.raises(ReferenceVerificationError):
            ref.parse_checkpoint(bad)


# ---------------------------------------------------------------------------------------------
# Cosignatures: C2SP tlog-cosignature.md, Ed25519 cosignature/v1
# ---------------------------------------------------------------------------------------------

# tlog-cosignature.md, the example checkpoint with a cosignature by witness.example.com/w1.
SOFA_COSIGNATURE_LINE = (
    f"{EM} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
    "qhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SOFA_LOG_LINE = (
    f"{EM} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def _cosign_by_hand(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature line built in the test from the words of tlog-cosignature.md alone."""
    # "The signed message MUST be two newline (U+000A) terminated lines (one header line and one
    # timestamp line) followed by the whole note body of the cosigned checkpoint ... The header line
    # MUST be the fixed string cosignature/v1 ... The timestamp line MUST consist of the string time,
    # a single space (0x20), and timestamped_signature.timestamp encoded as an ASCII decimal with no
    # leading zeroes."
    message = ("cosignature/v1\n" + "time " + str(timestamp) + "\n" + body).encode("utf-8")
    signature = private_key.sign(message)
    # "The key ID for Ed25519 cosignatures MUST be computed as
    #  SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 cosigner public key)[:4]"
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + _raw(private_key)).digest()[:4]
    # "struct { u64 timestamp; ... opaque ed25519_signature[64]; } timestamped_signature; ...
    #  serialized in sequence, with the timestamp encoded in big-endian order", behind the 32-bit
    #  key ID of a note signature: "— <key name> base64(32-bit key ID || signature)".
    payload = key_id + timestamp.to_bytes(8, "big") + signature
    return f"{EM} {name} {base64.b64encode(payload).decode()}\n"


@pytest.fixture
def witness_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def witness_vkey(witness_key):
    return ref.format_verifier_key("witness.example/w1", ref.ALG_COSIGNATURE_V1, _raw(witness_key))


class TestCosignatures:
    def test_the_signed_message_is_the_one_shown_in_tlog_cosignature(self):
        # tlog-cosignature.md, "Ed25519 signed message", its example block.
        assert ref.cosignature_message(SOFA_BODY, 1679315147) == (
            b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
            b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        )

    def test_the_example_cosignature_line_has_the_documented_layout(self):
        # The example line's timestamp is the 1679315147 of the example signed message.
        body, signatures = ref.open_note(SOFA_BODY + "\n" + SOFA_LOG_LINE + SOFA_COSIGNATURE_LINE)
        assert body == SOFA_BODY
        name, raw = signatures[1]
        key_id, timestamp, signature = ref.parse_cosignature(raw)
        assert (name, len(raw), key_id.hex(), timestamp, len(signature)) == (
            "witness.example.com/w1",
            76,
            "8d66cf3f",
            1679315147,
            64,
        )

    def test_the_transparency_dev_formats_payload_timestamp(self):
        # transparency-dev/formats note/note_cosigv1_test.go TestCosignatureTimestamp.
        raw = base64.b64decode(
            "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
        )
        assert ref.parse_cosignature(raw)[1] == 1727964367
        # Its "wrong type of signature" case: a 68-byte ordinary Ed25519 note signature.
        with pytest.raises(ReferenceVerificationError):
            ref.parse_cosignature(
                base64.b64decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=")
            )

    def test_a_cosignature_made_from_the_document_text_verifies(self, witness_key, witness_vkey):
        line = _cosign_by_hand(SOFA_BODY, "witness.example/w1", witness_key, 1700000000)
        note = SOFA_BODY + "\n" + SOFA_LOG_LINE + line
        assert ref.verify_cosignature(note, witness_vkey) == 1700000000
        # Ed25519 is deterministic: the reference's own cosigner writes the very same line.
        assert ref.cosign_checkpoint(SOFA_BODY, "witness.example/w1", witness_key, 1700000000) == line

    def test_the_cosignature_covers_extension_lines(self, witness_key, witness_vkey):
        body = SOFA_BODY + "extension\n"
        line = _cosign_by_hand(body, "witness.example/w1", witness_key, 1700000000)
        assert ref.verify_cosignature(body + "\n" + line, witness_vkey) == 1700000000
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(body.replace("extension", "extensioN") + "\n" + line, witness_vkey)

    def test_a_changed_checkpoint_or_timestamp_is_refused(self, witness_key, witness_vkey):
        line = _cosign_by_hand(SOFA_BODY, "witness.example/w1", witness_key, 1700000000)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(SOFA_BODY.replace("20852163", "20852164") + "\n" + line, witness_vkey)
        name, b64 = line[2:-1].split(" ")
        raw = bytearray(base64.b64decode(b64))
        raw[11] ^= 1  # the last byte of the big-endian timestamp
        moved = f"{EM} {name} {base64.b64encode(bytes(raw)).decode()}\n"
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(SOFA_BODY + "\n" + moved, witness_vkey)

    def test_other_witnesses_lines_are_ignored_and_their_absence_refused(self, witness_key, witness_vkey):
        other = Ed25519PrivateKey.generate()
        other_line = _cosign_by_hand(SOFA_BODY, "witness.example/w2", other, 1700000001)
        line = _cosign_by_hand(SOFA_BODY, "witness.example/w1", witness_key, 1700000000)
        assert ref.verify_cosignature(SOFA_BODY + "\n" + other_line + line, witness_vkey) == 1700000000
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(SOFA_BODY + "\n" + other_line, witness_vkey)
        # Same name, another key: its key ID differs, so the line is not the witness's. It is
        # ignored (c2sp.org/signed-note: "Verifiers MUST ignore signatures from unknown keys, even
        # if they share a name or ID (but not both) with a known key"), not taken as a failure.
        impostor = _cosign_by_hand(SOFA_BODY, "witness.example/w1", other, 1700000000)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(SOFA_BODY + "\n" + impostor, witness_vkey)
        assert ref.verify_cosignature(SOFA_BODY + "\n" + impostor + line, witness_vkey) == 1700000000

    def test_signature_types_do_not_cross(self, witness_key, witness_vkey):
        # A plain Ed25519 (0x01) note signature by the witness key is not a cosignature ...
        plain = ref.sign_note(SOFA_BODY, "witness.example/w1", witness_key)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(plain, witness_vkey)
        # ... and a cosignature does not verify under the 0x01 key of the same Ed25519 key.
        note_vkey = ref.format_verifier_key("witness.example/w1", ref.ALG_ED25519, _raw(witness_key))
        cosigned = SOFA_BODY + "\n" + _cosign_by_hand(SOFA_BODY, "witness.example/w1", witness_key, 1700000000)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_note_signature(cosigned, note_vkey)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(cosigned, note_vkey)

    def test_payload_length_and_timestamp_range_are_enforced(self, witness_key, witness_vkey):
        name = "witness.example/w1"
        key_id = ref.key_id(name, ref.ALG_COSIGNATURE_V1, _raw(witness_key))
        for payload in (key_id + bytes(8 + 63), key_id + bytes(8 + 65)):
            note = SOFA_BODY + f"\n{EM} {name} {base64.b64encode(payload).decode()}\n"
            with pytest.raises(ReferenceVerificationError):
                ref.verify_cosignature(note, witness_vkey)
        too_late = 2**63
        signature = witness_key.sign(b"cosignature/v1\ntime " + str(too_late).encode() + b"\n" + SOFA_BODY.encode())
        payload = key_id + too_late.to_bytes(8, "big") + signature
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(SOFA_BODY + f"\n{EM} {name} {base64.b64encode(payload).decode()}\n", witness_vkey)

    def test_a_future_timestamp_may_be_refused(self, witness_key, witness_vkey):
        note = SOFA_BODY + "\n" + _cosign_by_hand(SOFA_BODY, "witness.example/w1", witness_key, 1700000000)
        assert ref.verify_cosignature(note, witness_vkey, not_after=1700000000) == 1700000000
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(note, witness_vkey, not_after=1699999999)

    def test_only_checkpoints_are_cosigned(self, witness_key, witness_vkey):
        line = _cosign_by_hand(GO_TEXT, "witness.example/w1", witness_key, 1700000000)
        with pytest.raises(ReferenceVerificationError):
            ref.verify_cosignature(GO_TEXT + "\n" + line, witness_vkey)


# ---------------------------------------------------------------------------------------------
# Witness protocol: C2SP tlog-witness.md
# ---------------------------------------------------------------------------------------------

# tlog-witness.md, add-checkpoint, "Example request body".
WITNESS_EXAMPLE_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE + f"{EM} example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)

# tlog-witness.md, add-checkpoint, "Example response body".
WITNESS_EXAMPLE_RESPONSE = (
    f"{EM} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
    f"{EM} witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
    f"{EM} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
)

# FiloSottile/torchwood cmd/litewitness/testdata/multi-cosigs-ed25519.txt: the log key given to
# "witnessctl add-sigsum-log -key=..." and the body of its add-checkpoint.hurl request.
SIGSUM_LOG_KEY = bytes.fromhex("52c05edad1bf5feffa81354faae59a655d9a9a1a793ed2f62c39c26c0be2aecd")
SIGSUM_ORIGIN = "sigsum.org/v1/tree/985ea163f5af026723561354f51f2ebcdcf2af809ce254ccfb64aa9aadd80f90"
LITEWITNESS_REQUEST = (
    "old 0\n\n"
    f"{SIGSUM_ORIGIN}\n1\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
    f"{EM} {SIGSUM_ORIGIN} 7BKT0gOfNZ1J0So9unY3BZtm2YkPIoNYM/dce0Z2avJDs8dxN6ts9bOSwwrVrbjm6P9K3ZxpK6jJngOG6YvGGzV/lwo=\n"
)


class TestWitnessMessages:
    def test_the_example_request_of_tlog_witness(self):
        old_size, proof, note = ref.parse_add_checkpoint_request(WITNESS_EXAMPLE_REQUEST)
        assert old_size == 20852014
        assert [base64.b64encode(h).decode() for h in proof] == [
            "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
            "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
            "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
            "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
        ]
        body, signatures = ref.open_note(note)
        assert ref.parse_checkpoint(body) == ref.parse_checkpoint(SOFA_BODY)
        assert len(signatures) == 2
        assert ref.add_checkpoint_request(old_size, proof, note) == WITNESS_EXAMPLE_REQUEST

    def test_a_real_litewitness_request_and_its_sigsum_log_signature(self):
        old_size, proof, note = ref.parse_add_checkpoint_request(LITEWITNESS_REQUEST)
        assert (old_size, proof) == (0, [])
        # A Sigsum log's origin is sigsum.org/v1/tree/<hex SHA-256 of its Ed25519 key> and it signs
        # its checkpoints as 0x01 note signatures under that name.
        assert SIGSUM_ORIGIN == "sigsum.org/v1/tree/" + hashlib.sha256(SIGSUM_LOG_KEY).hexdigest()
        log_vkey = ref.format_verifier_key(SIGSUM_ORIGIN, ref.ALG_ED25519, SIGSUM_LOG_KEY)
        assert log_vkey.split("+")[1] == "ec1293d2"
        body = ref.verify_note_signature(note, log_vkey)
        assert ref.parse_checkpoint(body) == (SIGSUM_ORIGIN, 1, bytes([42]) + bytes(31))

    @pytest.mark.parametrize(
        "bad",
        [
            "old 01\n\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,  # leading zero
            "old -1\n\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,
            "old  1\n\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,
            "Old 1\n\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,
            "old 1\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,  # the origin line read as a proof line
            "old 1\nAAAA\n\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,  # a 3-byte hash
            "old 1\n" + "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 64 + "\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE,
            "old 1\n\n" + SOFA_BODY,  # checkpoint without signatures
            "old 1\n",
        ],
    )
    def test_malformed_requests_are_refused(self, bad):
        with pytest.raises(ReferenceVerificationError):
            ref.parse_add_checkpoint_request(bad)

    def test_sixty_three_proof_lines_are_allowed(self):
        request = "old 1\n" + "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 63 + "\n" + SOFA_BODY + "\n" + SOFA_LOG_LINE
        assert len(ref.parse_add_checkpoint_request(request)[1]) == 63

    def test_the_example_response_of_tlog_witness(self):
        lines = ref.parse_add_checkpoint_response(WITNESS_EXAMPLE_RESPONSE)
        assert [(name, len(raw)) for name, raw in lines] == [
            ("witness.example/w1", 76),
            ("witness.example/w1", 76),
            ("witness.example/w2", 76),
        ]
        with pytest.raises(ReferenceVerificationError):
            ref.parse_add_checkpoint_response(WITNESS_EXAMPLE_RESPONSE[:-1])

    @pytest.mark.parametrize(
        "content_type, body, size",
        [
            # sigsum-go pkg/client TestProcessConflictResponse, row by row (None: no size).
            ("text/plain", "10", None),
            ("text/x.tlog.size", "", None),
            ("text/x.tlog.size", "0\n", 0),
            ("text/x.tlog.size", "50\n", 50),
            ("text/x.tlog.size", "50", None),
            ("text/x.tlog.size", "050\n", None),
            ("text/x.tlog.size; charset=utf8", "51\n", None),
        ],
    )
    def test_conflict_responses(self, content_type, body, size):
        if size is None:
            with pytest.raises(ReferenceVerificationError):
                ref.parse_conflict_response(content_type, body)
        else:
            assert ref.parse_conflict_response(content_type, body) == size


# ---------------------------------------------------------------------------------------------
# RFC 9162: a tree built by hand in this file, and transparency-dev/merkle's published vectors
# ---------------------------------------------------------------------------------------------


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, the Merkle Tree Hash, written out recursively."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:  # the largest power of two smaller than n
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m < n."""

    def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    return subproof(m, leaves, True)


# transparency-dev/merkle proof/verify_test.go: the RFC 6962 test leaves, the roots of their
# first 1..8 leaves, and consistency proofs between some of those sizes.
RFC6962_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
RFC6962_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
RFC6962_PROOFS = {
    (1, 8): (
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ),
    (6, 8): (
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ),
    (2, 5): (
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ),
    (6, 7): (
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ),
}

HAND_LEAVES = [f"leaf {i}".encode() for i in range(19)]


def _fails(first, second, first_root, second_root, proof) -> bool:
    try:
        ref.verify_consistency(first, second, first_root, second_root, proof)
    except ReferenceVerificationError:
        return True
    return False


class TestConsistency:
    def test_the_hand_built_tree_reproduces_the_published_roots(self):
        assert [mth(RFC6962_LEAVES[:n]) for n in range(1, 9)] == RFC6962_ROOTS
        assert mth(RFC6962_LEAVES[:1]) == ref.leaf_hash(RFC6962_LEAVES[0])
        assert mth(RFC6962_LEAVES[:2]) == ref.node_hash(ref.leaf_hash(RFC6962_LEAVES[0]), ref.leaf_hash(RFC6962_LEAVES[1]))

    @pytest.mark.parametrize("sizes", sorted(RFC6962_PROOFS))
    def test_the_published_proofs_verify_and_match_the_hand_built_ones(self, sizes):
        m, n = sizes
        proof = [bytes.fromhex(h) for h in RFC6962_PROOFS[sizes]]
        assert consistency_proof(m, RFC6962_LEAVES[:n]) == proof
        ref.verify_consistency(m, n, RFC6962_ROOTS[m - 1], RFC6962_ROOTS[n - 1], proof)

    def test_every_pair_of_sizes_of_a_hand_built_tree_is_consistent(self):
        roots = [mth(HAND_LEAVES[:n]) for n in range(len(HAND_LEAVES) + 1)]
        for n in range(len(HAND_LEAVES) + 1):
            for m in range(n + 1):
                proof = consistency_proof(m, HAND_LEAVES[:n]) if 0 < m < n else []
                ref.verify_consistency(m, n, roots[m], roots[n], proof)

    def test_a_forked_tree_is_not_consistent(self):
        # Two logs agree on nothing after leaf `fork`: no proof from one's old root may reach the
        # other's new root, whichever side builds the proof.
        for fork in (0, 3, 7, 12):
            forked = HAND_LEAVES[:fork] + [b"evil " + leaf for leaf in HAND_LEAVES[fork:]]
            for n in range(2, len(HAND_LEAVES) + 1):
                for m in range(fork + 1, n):
                    honest_old = mth(HAND_LEAVES[:m])
                    assert _fails(m, n, honest_old, mth(forked[:n]), consistency_proof(m, forked[:n]))
                    assert _fails(m, n, honest_old, mth(forked[:n]), consistency_proof(m, HAND_LEAVES[:n]))
                # Same size past the fork, different roots.
                if n > fork:
                    assert _fails(n, n, mth(HAND_LEAVES[:n]), mth(forked[:n]), [])

    @pytest.mark.parametrize("sizes", sorted(RFC6962_PROOFS))
    def test_corrupted_proofs_fail(self, sizes):
        # The probes of transparency-dev/merkle proof/verify_test.go corruptConsistencyProof.
        m, n = sizes
        r1, r2 = RFC6962_ROOTS[m - 1], RFC6962_ROOTS[n - 1]
        proof = [bytes.fromhex(h) for h in RFC6962_PROOFS[sizes]]
        some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
        probes = [
            (m - 1, n, r1, r2, proof),
            (m + 1, n, r1, r2, proof),
            (m ^ 2, n, r1, r2, proof),
            (m, n * 2, r1, r2, proof),
            (m, n // 2, r1, r2, proof),
            (m, n, some, r2, proof),
            (m, n, r1, some, proof),
            (m, n, r2, r1, proof),
            (m, n, r1, r2, []),
            (m, n, r1, r2, proof + [r1]),
            (m, n, r1, r2, proof + [r2]),
            (m, n, r1, r2, [r1] + proof),
            (m, n, r1, r2, [r2] + proof),
            (m, n, r1, r2, [proof[0]] + proof),
            (m, n, r1, r2, proof[:-1]),
        ]
        for i in range(len(proof)):
            flipped = list(proof)
            flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
            probes.append((m, n, r1, r2, flipped))
        for probe in probes:
            if probe[0] == probe[1] == 0:
                continue
            assert _fails(*probe), probe[:2]

    def test_edge_sizes(self):
        empty = ref.EMPTY_TREE_ROOT
        r1, r2 = RFC6962_ROOTS[0], RFC6962_ROOTS[1]
        ref.verify_consistency(0, 0, empty, empty, [])
        ref.verify_consistency(0, 2, empty, r2, [])  # the empty tree is a prefix of every tree
        ref.verify_consistency(1, 1, r1, r1, [])
        assert _fails(0, 2, empty, r2, [empty])  # a proof from size 0 is empty
        assert _fails(0, 2, r1, r2, [])  # size 0 has the empty root
        assert _fails(1, 1, r1, r2, [])  # same size, different roots
        assert _fails(1, 1, r1, r1, [r1])  # same size, non-empty proof
        assert _fails(1, 0, r1, empty, [])  # time travel to the past
        assert _fails(2, 1, r2, r1, [])
        assert _fails(1, 2, r1, r2, [])  # empty proof
        assert _fails(1, 2, r1, r2, [r2[:31]])  # not a 32-byte hash


# ---------------------------------------------------------------------------------------------
# The reference witness answers as tlog-witness.md says
# ---------------------------------------------------------------------------------------------


class TestReferenceWitness:
    ORIGIN = "log.example/ledger"

    def _checkpoint(self, log_key, n: int, leaves=HAND_LEAVES) -> str:
        root = base64.b64encode(mth(leaves[:n])).decode()
        return ref.sign_note(f"{self.ORIGIN}\n{n}\n{root}\n", self.ORIGIN, log_key)

    def test_the_add_checkpoint_status_codes(self):
        log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        log_vkey = ref.format_verifier_key(self.ORIGIN, ref.ALG_ED25519, _raw(log_key))
        witness = ref.ReferenceWitness("witness.example/w1", witness_key, {self.ORIGIN: [log_vkey]}, clock=lambda: 1700000000)

        # 200: first checkpoint from old size 0, with an empty proof; the cosignature verifies.
        first = self._checkpoint(log_key, 5)
        status, content_type, body = witness.add_checkpoint(ref.add_checkpoint_request(0, [], first))
        assert status == 200
        assert ref.verify_cosignature(first + body, witness.verifier_key) == 1700000000

        # 409 with text/x.tlog.size: the old size is not the latest cosigned size.
        later = self._checkpoint(log_key, 9)
        status, content_type, body = witness.add_checkpoint(ref.add_checkpoint_request(0, [], later))
        assert (status, ref.parse_conflict_response(content_type, body)) == (409, 5)

        # 400: old size larger than the checkpoint size.
        assert witness.add_checkpoint(ref.add_checkpoint_request(12, [], later))[0] == 400
        # 400: a body that does not parse.
        assert witness.add_checkpoint("old 5\n")[0] == 400

        # 404: unknown origin.
        stranger = ref.sign_note(f"other.example/log\n1\n{base64.b64encode(mth(HAND_LEAVES[:1])).decode()}\n", "other.example/log", log_key)
        assert witness.add_checkpoint(ref.add_checkpoint_request(0, [], stranger))[0] == 404

        # 403: signed by an untrusted key, or a trusted key's signature does not verify.
        untrusted = self._checkpoint(Ed25519PrivateKey.generate(), 9)
        assert witness.add_checkpoint(ref.add_checkpoint_request(5, consistency_proof(5, HAND_LEAVES[:9]), untrusted))[0] == 403
        tampered = later.replace("\n9\n", "\n10\n", 1)
        assert witness.add_checkpoint(ref.add_checkpoint_request(5, [], tampered))[0] == 403

        # 422: a proof that does not verify (here, from a forked tree).
        forked = HAND_LEAVES[:3] + [b"evil " + leaf for leaf in HAND_LEAVES[3:]]
        fork_cp = self._checkpoint(log_key, 9, forked)
        status = witness.add_checkpoint(ref.add_checkpoint_request(5, consistency_proof(5, forked[:9]), fork_cp))[0]
        assert status == 422

        # 409: same size as the latest, different root.
        same_size_fork = self._checkpoint(log_key, 5, forked)
        status, content_type, _ = witness.add_checkpoint(ref.add_checkpoint_request(5, [], same_size_fork))
        assert (status, content_type) == (409, "text/plain")

        # 200: the honest extension, then the state has moved to 9.
        status, _, body = witness.add_checkpoint(ref.add_checkpoint_request(5, consistency_proof(5, HAND_LEAVES[:9]), later))
        assert status == 200
        assert ref.verify_cosignature(later + body, witness.verifier_key) == 1700000000
        assert witness.latest[self.ORIGIN] == (9, mth(HAND_LEAVES[:9]))
