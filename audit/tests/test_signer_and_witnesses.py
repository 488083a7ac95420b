"""The signer's record and the witnesses, through the real stack.

A database writer rewrites the trail and rebuilds the tree: the signer refuses to sign it and says
"ledger diverged" on every surface until an operator starts over (audited). Witnesses are checked
against an independent implementation of C2SP tlog-witness and tlog-cosignature
(audit/tests/c2sp_reference.py, written from the specifications, not from our code): our witness
endpoint answers a log built with the reference, and our log submits to the reference witness over
HTTP, its cosignatures then verifying with the reference and with our stand-alone verifier.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from audit.ledger import merkle, verifier
from audit.ledger.checkpoints import make_checkpoint
from audit.ledger.checkpoints import signing_key as configured_key
from audit.ledger.notes import generate_signing_key
from audit.ledger.sequencer import seal_pending
from audit.ledger.signer import LedgerDiverged, read_record
from audit.ledger.verifier import ALG_COSIGNATURE_V1
from audit.models import AuditEntry, LedgerCheckpoint, LedgerCosignature, WitnessedCheckpoint, WitnessState
from audit.tasks import run_maintenance
from audit.tests import c2sp_reference as reference
from audit.tests.tampering import as_database_admin
from audit.tests.test_ledger import _rebuild_tree_from_rows
from core.recording import record_event

KEY = "PRIVATE+KEY+ledger.test/audit+a0ca1b43+AVhLrkDgy2r7iipmhdJz5DCiZics3Cqzf/dvrvLVna/T"
VERIFIER_FILE = Path(verifier.__file__)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.AUDIT_SIGNING_KEY = KEY


def _checkpoint():
    seal_pending()
    return make_checkpoint()


def _rows(owner, count: int, **extra):
    for n in range(count):
        record_event(event_type="auth_login", event_name="auth.login", actor=owner, extra={"n": n, **extra})


def _rewrite_history():
    """What a database writer does: edit a sealed row, then rebuild leaves and subtrees from the rows and drop
    the stored checkpoints, so the database agrees with itself again."""
    victim = AuditEntry.objects.order_by("id").first()
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'it was always like this' WHERE id = %s", [victim.pk])
    _rebuild_tree_from_rows()


# --- The signer's record ---------------------------------------------------------------------------------


@pytest.mark.audit_tamper
def test_a_rewritten_history_is_never_signed_and_says_diverged_everywhere_until_an_operator_starts_over(
        api_client, client, operator, owner, project, settings):
    first = _checkpoint()
    record = read_record()
    assert (record.tree_size, record.root_hash, record.note) == (first.tree_size, verifier.b64encode(first.root_hash), first.note)
    assert Path(settings.AUDIT_SIGNER_STATE).stat().st_mode & 0o777 == 0o600
    _rows(owner, 3)
    _rewrite_history()

    with pytest.raises(LedgerDiverged, match="^ledger diverged: the tree of size .* does not extend the tree of size"):
        make_checkpoint()
    assert run_maintenance()["error"].startswith("ledger diverged:")  # the task says so too, and signs nothing
    assert not LedgerCheckpoint.objects.exists()
    noted = AuditEntry.objects.filter(event_name="ledger.diverged")
    assert noted.count() == 1 and noted.get().success is False  # written once, when the signer stopped
    assert noted.get().extra["signed_tree_size"] == first.tree_size

    api_client.force_authenticate(operator)
    status = api_client.get("/api/v1/ledger/status/").json()
    assert status["diverged"].startswith("ledger diverged: the tree of size") and status["signer"]["tree_size"] == first.tree_size
    verify = api_client.get("/api/v1/events/verify/").json()
    assert verify["ok"] is False and verify["break"]["kind"] == "diverged" and verify["break"]["message"].startswith("ledger diverged")
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["ledger"].startswith("ledger diverged:")
    assert "commandcentral_audit_ledger_diverged 1.0" in client.get("/metrics").content.decode()
    with pytest.raises(CommandError, match=r"\(diverged\)"):
        call_command("verify_audit", stdout=io.StringIO())
    shown = io.StringIO()
    call_command("audit_signer", "show", stdout=shown)
    assert "STOPPED since" in shown.getvalue() and f"last signed: tree size {first.tree_size}" in shown.getvalue()

    with pytest.raises(CommandError, match="not an operator"):
        call_command("audit_signer", "start-over", "--actor", owner.email, "--reason", "mine")
    call_command("audit_signer", "start-over", "--actor", operator.email, "--reason", "restored the database from last night's backup",
                 stdout=io.StringIO())
    restart = AuditEntry.objects.get(event_name="ledger.signer_restarted")
    assert restart.actor == operator and restart.rationale == "restored the database from last night's backup"
    assert restart.extra["previous"]["tree_size"] == first.tree_size and restart.extra["previous"]["diverged"]
    head = _checkpoint()
    assert head.created and head.tree_size > first.tree_size and read_record().diverged == ""
    assert client.get("/ready").status_code == 200
    assert api_client.get("/api/v1/ledger/status/").json()["diverged"] == ""
    assert "commandcentral_audit_ledger_diverged 0.0" in client.get("/metrics").content.decode()


@pytest.mark.audit_tamper
def test_the_signer_refuses_a_tree_that_lost_signed_leaves(owner, project):
    signed = _checkpoint().tree_size
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_ledgerleaf WHERE leaf_index >= %s", [signed - 2])
        cursor.execute("DELETE FROM audit_ledgernode")
    with pytest.raises(LedgerDiverged, match=f"the database holds {signed - 2} leaves, but a tree of {signed} was signed"):
        make_checkpoint()


@pytest.mark.audit_tamper
def test_a_signer_without_a_record_starts_from_the_newest_stored_checkpoint(owner, project, settings):
    """A signer whose record is new (or that was upgraded from a version that kept none) still never contradicts
    a checkpoint it published: the newest stored one its key signed stands in for the record."""
    signed = _checkpoint()
    Path(settings.AUDIT_SIGNER_STATE).unlink()
    victim = AuditEntry.objects.order_by("id").first()
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'quietly' WHERE id = %s", [victim.pk])
    _rebuild_tree_from_rows()  # drops the stored checkpoints: put the published one back, as it was
    with as_database_admin() as cursor:
        cursor.execute("INSERT INTO audit_ledgercheckpoint (tree_size, root_hash, note, created_at) VALUES (%s, %s, %s, CURRENT_TIMESTAMP)",
                       [signed.tree_size, signed.root_hash, signed.note])
    _rows(owner, 1)
    seal_pending()
    with pytest.raises(LedgerDiverged, match=f"does not extend the tree of size {signed.tree_size}"):
        make_checkpoint()
    assert read_record().diverged and read_record().tree_size == signed.tree_size


def test_reads_never_sign_seal_or_write(api_client, client, operator, owner, project):
    head = _checkpoint()
    _rows(owner, 4)
    api_client.force_authenticate(owner)
    client.force_login(owner)  # a login is a write (its audit row): before the reads
    row = AuditEntry.objects.filter(project=project).first()
    before = (LedgerCheckpoint.objects.count(), AuditEntry.objects.count(), read_record().tree_size)
    api_client.get("/api/v1/ledger/checkpoint/")
    api_client.get(f"/api/v1/events/{row.pk}/proof/")
    api_client.get(f"/api/v1/ledger/consistency/?first=1&second={head.tree_size}")
    api_client.force_authenticate(operator)
    api_client.get("/api/v1/events/verify/")
    api_client.get("/api/v1/ledger/status/")
    client.get(f"/audit/{row.pk}/")
    client.get(f"/audit/{row.pk}/proof.json")
    assert (LedgerCheckpoint.objects.count(), AuditEntry.objects.count(), read_record().tree_size) == before
    from audit.models import LedgerQueue

    assert LedgerQueue.objects.count() == 5  # the rows and the login stay queued rows stay for the seal; no read sealed them


# --- This instance as a witness, fed by an independent log ---------------------------------------------------


class ReferenceLog:
    """A log built only with the reference module's hashes and signatures."""

    def __init__(self, origin="example.org/reference-log"):
        self.origin, self.key = origin, Ed25519PrivateKey.generate()
        self.leaves: list[bytes] = []

    @property
    def verifier_key(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return reference.format_verifier_key(self.origin, 0x01, self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def grow(self, count: int, tag: bytes = b"") -> None:
        start = len(self.leaves)
        self.leaves += [reference.leaf_hash(tag + f"entry {start + n}".encode()) for n in range(count)]

    def root(self, size: int) -> bytes:
        return verifier.root_from_leaves(self.leaves[:size])

    def note(self, size: int, key=None) -> str:
        body = f"{self.origin}\n{size}\n{verifier.b64encode(self.root(size))}\n"
        return reference.sign_note(body, self.origin, key or self.key)

    def proof(self, first: int, second: int) -> list[bytes]:
        nodes = {(0, index): value for index, value in enumerate(self.leaves[:second])}
        nodes.update(merkle.new_subtrees(0, self.leaves[:second], {}))
        return merkle.hashes_from(merkle.consistency_ranges(first, second), nodes)

    def request(self, old: int, size: int, key=None) -> str:
        return reference.add_checkpoint_request(old, self.proof(old, size) if old else [], self.note(size, key))


@pytest.fixture
def witness_setup(settings):
    log = ReferenceLog()
    ours = generate_signing_key("witness.test/w1", ALG_COSIGNATURE_V1)
    settings.AUDIT_WITNESS_LOGS = log.verifier_key
    settings.AUDIT_WITNESS_KEY = str(ours)
    return log, str(ours.verifier)


def _post(api_client, body: str):
    return api_client.post("/api/v1/witness/add-checkpoint", data=body.encode(), content_type="text/plain")


def test_the_witness_cosigns_only_checkpoints_that_extend_what_it_saw(api_client, witness_setup):
    log, our_key = witness_setup
    key = api_client.get("/api/v1/witness/key/")
    assert key.status_code == 200 and key.content.decode().strip() == our_key
    assert reference.parse_verifier_key(our_key)[2] == 0x04
    log.grow(5)
    first = _post(api_client, log.request(0, 5))
    assert first.status_code == 200 and first["Content-Type"].startswith("text/plain")
    timestamp = reference.verify_cosignature(log.note(5) + first.content.decode(), our_key)  # interop: the reference checks ours
    assert timestamp > 1_700_000_000
    assert list(WitnessedCheckpoint.objects.values_list("origin", "tree_size")) == [(log.origin, 5)]

    log.grow(4)
    stale = _post(api_client, log.request(0, 9))
    assert stale.status_code == 409 and stale["Content-Type"].startswith("text/x.tlog.size") and stale.content == b"5\n"
    assert reference.parse_conflict_response(stale["Content-Type"].split(";")[0], stale.content.decode()) == 5
    grown = _post(api_client, log.request(5, 9))
    assert grown.status_code == 200
    reference.verify_cosignature(log.note(9) + grown.content.decode(), our_key)
    again = _post(api_client, log.request(9, 9))  # the same checkpoint again: cosigned again, recorded once
    assert again.status_code == 200 and WitnessedCheckpoint.objects.filter(tree_size=9).count() == 1
    assert not AuditEntry.objects.filter(event_name="witness.refused").exists()


def test_the_witness_refuses_a_forked_log_and_records_the_evidence(api_client, witness_setup):
    log, _ = witness_setup
    log.grow(6)
    assert _post(api_client, log.request(0, 6)).status_code == 200
    fork = ReferenceLog(log.origin)
    fork.key = log.key  # the log's own key, signing another history: what a split view is
    fork.leaves = list(log.leaves)
    fork.leaves[2] = reference.leaf_hash(b"rewritten entry 2")
    same_size = _post(api_client, fork.request(6, 6))
    assert same_size.status_code == 409 and same_size.content == b"6\n"
    fork.grow(3)
    longer = _post(api_client, fork.request(6, 9))
    assert longer.status_code == 422 and "does not extend" in longer.content.decode()
    assert list(WitnessedCheckpoint.objects.values_list("tree_size", flat=True)) == [6]
    evidence = AuditEntry.objects.filter(event_name="witness.refused").order_by("id")
    assert [row.failure_reason.split(":")[0] for row in evidence] == ["HTTP 409", "HTTP 422"]
    assert evidence.last().extra["tree_size"] == 9 and evidence.last().extra["note"] == fork.note(9)


def test_the_witness_answers_bad_submissions_as_tlog_witness_says(api_client, witness_setup):
    log, _ = witness_setup
    log.grow(4)
    stranger = ReferenceLog("example.org/unknown")
    stranger.grow(2)
    assert _post(api_client, stranger.request(0, 2)).status_code == 404
    assert _post(api_client, log.request(0, 4, key=Ed25519PrivateKey.generate())).status_code == 403
    assert _post(api_client, reference.add_checkpoint_request(5, [], log.note(4))).status_code == 400  # old > size
    for garbage in ("", "old 01\n\n" + log.note(4), "hello\n\n" + log.note(4), "old 0\nnot base64!\n\n" + log.note(4),
                    "old 2\n" + "AAAA\n" * 2 + "\n" + log.note(4), "old 2\n" + f"{verifier.b64encode(bytes(32))}\n" * 64 + "\n" + log.note(4)):
        response = _post(api_client, garbage)
        assert response.status_code == 400, garbage[:40]
    assert _post(api_client, reference.add_checkpoint_request(0, [bytes(32)], log.note(4))).status_code == 422
    assert not WitnessedCheckpoint.objects.exists()
    assert api_client.get("/api/v1/witness/add-checkpoint").status_code == 405


# --- Our log and an independent witness over HTTP ---------------------------------------------------------------


class _ReferenceWitnessServer:
    def __init__(self, witness: reference.ReferenceWitness):
        outer = self
        self.witness, self.requests = witness, []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.requests.append(body)
                status, content_type, answer = outer.witness.add_checkpoint(body)
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/add-checkpoint"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def reference_witness(settings):
    witness = reference.ReferenceWitness("witness.example/reference", Ed25519PrivateKey.generate(),
                                         {configured_key().name: [str(configured_key().verifier)]})
    server = _ReferenceWitnessServer(witness)
    settings.AUDIT_WITNESSES = f"{server.url} {witness.verifier_key}"
    yield server
    server.close()


def _verify_with_cli(tmp_path, note: str, witness_key: str, quorum: int) -> subprocess.CompletedProcess:
    (tmp_path / "key.txt").write_text(str(configured_key().verifier) + "\n")
    (tmp_path / "witness.txt").write_text(witness_key + "\n")
    (tmp_path / "note.txt").write_text(note)
    return subprocess.run([sys.executable, str(VERIFIER_FILE), str(tmp_path / "key.txt"), "checkpoint", str(tmp_path / "note.txt"),
                           "--witness", str(tmp_path / "witness.txt"), "--quorum", str(quorum)], capture_output=True, text=True)


@pytest.mark.audit_tamper
def test_our_log_is_cosigned_by_an_independent_witness_until_its_history_is_rewritten(
        api_client, client, operator, owner, project, reference_witness, settings, tmp_path):
    witness_key = reference_witness.witness.verifier_key
    first = run_maintenance()
    assert first["witnesses"] == {"witness.example/reference": "cosigned"}
    note = api_client.get("/api/v1/ledger/checkpoint/").content.decode()
    reference.verify_note_signature(note, str(configured_key().verifier))
    assert reference.verify_cosignature(note, witness_key) > 0  # the served note carries the cosignature
    assert verifier.verify_witnessed(note, [verifier.parse_verifier_key(witness_key, ALG_COSIGNATURE_V1)], 1)
    assert _verify_with_cli(tmp_path, note, witness_key, 1).returncode == 0

    _rows(owner, 5)
    second = run_maintenance()  # old = the size it cosigned, with our consistency proof: the reference accepts it
    assert second["witnesses"] == {"witness.example/reference": "cosigned"}
    assert reference_witness.requests[-1].startswith(f"old {first['tree_size']}\n")
    assert LedgerCosignature.objects.count() == 2
    api_client.force_authenticate(operator)
    (status,) = api_client.get("/api/v1/ledger/status/").json()["witnesses"]
    assert (status["name"], status["cosigned_size"], status["last_error"]) == ("witness.example/reference", second["tree_size"], "")
    metrics = client.get("/metrics").content.decode()
    assert f'commandcentral_audit_witness_cosigned_size{{witness="witness.example/reference"}} {float(second["tree_size"])}' in metrics

    # Whoever runs the database and the signer's host rewrites history and wipes the signer's record too.
    _rewrite_history()
    Path(settings.AUDIT_SIGNER_STATE).unlink()
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_witnessstate")  # and makes the log forget what the witness saw
    _rows(owner, 1, after="rewrite")
    rewritten = run_maintenance()
    assert "error" not in rewritten  # the signer no longer knows better ...
    outcome = rewritten["witnesses"]["witness.example/reference"]
    assert outcome.startswith("HTTP 422")  # ... but the witness does: its 409 told the size it saw, the proof fails
    served = api_client.get("/api/v1/ledger/checkpoint/").content.decode()
    with pytest.raises(reference.ReferenceVerificationError):
        reference.verify_cosignature(served, witness_key)
    failed = _verify_with_cli(tmp_path, served, witness_key, 1)
    assert failed.returncode == 1 and "0 of 1 witnesses cosigned" in failed.stderr
    (status,) = api_client.get("/api/v1/ledger/status/").json()["witnesses"]
    assert status["last_error"].startswith("HTTP 422") and status["cosigned_size"] == second["tree_size"]
    assert 'commandcentral_audit_witness_failing{witness="witness.example/reference"} 1.0' in client.get("/metrics").content.decode()
    assert json.loads(json.dumps(WitnessState.objects.get().last_error)).startswith("HTTP 422")


@pytest.mark.audit_tamper
def test_the_admin_ledger_page_shows_the_signer_the_witnesses_and_a_divergence(client, operator, owner, project, reference_witness):
    client.force_login(operator)
    page = client.get("/admin/audit/auditentry/ledger-status/").content.decode()
    assert "witness.example/reference" in page and "none on this host yet" in page
    run_maintenance()
    page = client.get("/admin/audit/auditentry/ledger-status/").content.decode()
    assert f"last signed tree size {read_record().tree_size}" in page
    assert f"<td>{LedgerCosignature.objects.get().tree_size}</td>" in page
    _rewrite_history()
    run_maintenance()
    page = client.get("/admin/audit/auditentry/ledger-status/").content.decode()
    assert "ledger diverged: the tree of size" in page and "audit_signer start-over" in page
