"""The ledger's guarantees with real processes: gunicorn servers, task workers and management commands.

1. A burst of writes followed by silence is sealed within two seconds, by the servers themselves (one
   deferred seal per process), with and without a task worker beside them.
2. Two instances witness each other over HTTP (A on the test's PostgreSQL database, B on a SQLite
   file). A database writer then rewrites A's history: A's signer refuses to sign it, `verify_audit`
   says "ledger diverged", and no size is ever signed with two roots. With the signer's record wiped
   too, A signs the rewritten tree, but B refuses to cosign it and records the evidence.

The rows come from other processes, so the suite's ledger guard does not see them: the tests check
what they need themselves.
"""

from __future__ import annotations

import concurrent.futures
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.ledger.notes import generate_signing_key
from audit.ledger.verifier import (
    ALG_COSIGNATURE_V1,
    VerificationError,
    b64encode,
    parse_verifier_key,
    verify_checkpoint,
    verify_witnessed,
)
from audit.models import AuditEntry, LedgerCheckpoint, LedgerLeaf, LedgerQueue
from audit.tests.tampering import as_database_admin
from audit.tests.test_ledger import _rebuild_tree_from_rows
from audit.tests.test_live_server_ledger import BASE_DIR, GUNICORN, _call, _free_port, _server_env, _stop, _wait_for_health

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): runs gunicorn against the test database"),
]

SEAL_BOUND = 2.0  # seconds from the last response of a burst until every row is a leaf
WAIT_LIMIT = 30.0  # how long a wait may last before the test gives up (bounds the wait, asserts nothing)


def _user() -> User:
    user = UserFactory(email=f"live-{os.getpid()}-{time.monotonic_ns()}@example.com", is_staff=True)
    hasher = PBKDF2PasswordHasher()  # the servers run the production hashers, not the suite's MD5
    User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    return user


def _start(env: dict, log_path: Path, *command: str) -> subprocess.Popen:
    with open(log_path, "w") as log:
        return subprocess.Popen(list(command), cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def _gunicorn(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    server = _start(env, log_path, str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
    _wait_for_health(f"http://127.0.0.1:{port}", server, log_path)
    return server


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def _token(base: str, user: User) -> str:
    status, _, body = _call(base, "POST", "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD})
    assert status == 200, body
    return body["access_token"]


# --- Sealed within seconds ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_worker", [False, True], ids=["gunicorn-alone", "gunicorn-and-a-task-worker"])
def test_a_burst_then_silence_is_sealed_within_two_seconds(with_worker, tmp_path):
    user = _user()
    env = {**_server_env(), "AUDIT_SEAL_MIN_INTERVAL": "1", "AUDIT_SIGNER_STATE": str(tmp_path / "signer.state"),
           "AUDIT_CHECKPOINT_INTERVAL": "60"}  # the sweep is far off: only the servers' own seals count
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _gunicorn(env, port, tmp_path / "gunicorn.log")
    worker = None
    try:
        if with_worker:
            assert _manage(env, "schedule_maintenance").returncode == 0
            worker = _start(env, tmp_path / "worker.log", sys.executable, "manage.py", "db_worker", "--queue-name", "*",
                            "--no-reload", "--verbosity", "0")
        token = _token(base, user)
        first_id = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()

        def create(n: int) -> int:
            return _call(base, "POST", "/api/v1/projects/", {"name": f"Burst {n}"}, token=token)[0]

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(create, range(40)))
        burst_ended = time.monotonic()
        assert statuses == [201] * 40
        written = AuditEntry.objects.filter(id__gt=first_id).count()
        assert written >= 40  # a row per project at least

        while LedgerQueue.objects.exists() and time.monotonic() - burst_ended < WAIT_LIMIT:
            time.sleep(0.05)
        waited = time.monotonic() - burst_ended
        assert not LedgerQueue.objects.exists(), f"rows still unsealed {waited:.1f} s after the burst"
        assert waited <= SEAL_BOUND, f"the last rows of the burst waited {waited:.2f} s"
        assert LedgerLeaf.objects.count() == AuditEntry.objects.count()
    finally:
        _stop(server)
        if worker is not None:
            _stop(worker)
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()


# --- Two instances witness each other -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_instances_witness_each_other_and_a_rewritten_history_is_refused(settings, tmp_path):
    signing_a, signing_b = generate_signing_key("a.test/audit"), generate_signing_key("b.test/audit")
    witness_a = generate_signing_key("a.test/witness", ALG_COSIGNATURE_V1)
    witness_b = generate_signing_key("b.test/witness", ALG_COSIGNATURE_V1)
    port_a, port_b = _free_port(), _free_port()
    base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    env_a = {**_server_env(), "AUDIT_SIGNING_KEY": str(signing_a), "AUDIT_SIGNER_STATE": str(tmp_path / "a.state"),
             "AUDIT_WITNESS_KEY": str(witness_a), "AUDIT_WITNESS_LOGS": str(signing_b.verifier),
             "AUDIT_WITNESSES": f"{base_b}/api/v1/witness/add-checkpoint {witness_b.verifier}"}
    database_b = tmp_path / "b.sqlite3"
    env_b = {**env_a, "DATABASE_URL": f"sqlite:///{database_b}", "AUDIT_SIGNING_KEY": str(signing_b),
             "AUDIT_SIGNER_STATE": str(tmp_path / "b.state"), "AUDIT_WITNESS_KEY": str(witness_b),
             "AUDIT_WITNESS_LOGS": str(signing_a.verifier), "AUDIT_WITNESSES": f"{base_a}/api/v1/witness/add-checkpoint {witness_a.verifier}",
             "GUNICORN_WORKERS": "1"}
    migrated = _manage(env_b, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    settings.AUDIT_SIGNING_KEY, settings.AUDIT_SIGNER_STATE = str(signing_a), env_a["AUDIT_SIGNER_STATE"]
    user = _user()
    server_a = _gunicorn(env_a, port_a, tmp_path / "a.log")
    server_b = _gunicorn(env_b, port_b, tmp_path / "b.log")
    try:
        token = _token(base_a, user)
        for n in range(3):
            assert _call(base_a, "POST", "/api/v1/projects/", {"name": f"Witnessed {n}"}, token=token)[0] == 201
        for env in (env_a, env_b):  # each signs its checkpoint and submits it to the other over HTTP
            signed = _manage(env, "audit_checkpoint")
            assert signed.returncode == 0 and signed.stderr == "", signed.stderr
        note_a = _text(base_a, "/api/v1/ledger/checkpoint/")
        note_b = _text(base_b, "/api/v1/ledger/checkpoint/")
        first = verify_checkpoint(note_a, signing_a.verifier)
        assert verify_witnessed(note_a, [witness_b.verifier], 1)[0][0] == "b.test/witness"
        assert verify_witnessed(note_b, [witness_a.verifier], 1)[0][0] == "a.test/witness"
        assert _text(base_a, "/api/v1/witness/key/").strip() == str(witness_a.verifier)
        assert parse_verifier_key(_text(base_b, "/api/v1/witness/key/"), ALG_COSIGNATURE_V1) == witness_b.verifier

        # More rows, a second round: B's witness checks A's consistency proof from the size it cosigned.
        for n in range(3):
            assert _call(base_a, "POST", "/api/v1/projects/", {"name": f"Later {n}"}, token=token)[0] == 201
        assert _manage(env_a, "audit_checkpoint").stderr == ""
        second = verify_checkpoint(_text(base_a, "/api/v1/ledger/checkpoint/"), signing_a.verifier)
        assert second.size > first.size and verify_witnessed(_text(base_a, "/api/v1/ledger/checkpoint/"), [witness_b.verifier], 1)

        # Reads sign nothing and store nothing.
        checkpoints, rows = LedgerCheckpoint.objects.count(), AuditEntry.objects.count()
        row = AuditEntry.objects.filter(event_name="project.created").order_by("id").first()
        _text(base_a, "/api/v1/ledger/checkpoint/")
        for path in (f"/api/v1/events/{row.pk}/proof/", f"/api/v1/events/{row.pk}/proof/?tree_size={first.size}",
                     f"/api/v1/ledger/consistency/?first={first.size}&second={second.size}"):
            assert _call(base_a, "GET", path, token=token)[0] == 200, path
        assert (LedgerCheckpoint.objects.count(), AuditEntry.objects.count()) == (checkpoints, rows)

        # A database writer rewrites A's history and rebuilds the tree (dropping the stored checkpoints).
        with as_database_admin() as cursor:
            cursor.execute("UPDATE audit_auditentry SET object_repr = 'it was always like this' WHERE id = %s", [row.pk])
        _rebuild_tree_from_rows()
        refused = _manage(env_a, "audit_checkpoint")
        assert refused.returncode == 1 and "ledger diverged" in refused.stderr
        assert not LedgerCheckpoint.objects.exists()  # nothing was signed
        status, _, body = _call(base_a, "GET", f"/api/v1/events/{row.pk}/proof/?tree_size={first.size}", token=token)
        assert status == 409  # the attack of old: a freshly signed size-N checkpoint with another root; now nothing
        verified = _manage(env_a, "verify_audit")
        assert verified.returncode == 1 and "(diverged)" in verified.stderr and "ledger diverged:" in verified.stderr
        status, _, ready = _call(base_a, "GET", "/ready")
        assert status == 503 and ready["checks"]["ledger"].startswith("ledger diverged"), ready

        # ... and wipes the signer's record too: A signs again, but B will not cosign.
        Path(env_a["AUDIT_SIGNER_STATE"]).unlink()
        rewritten = _manage(env_a, "audit_checkpoint")
        assert rewritten.returncode == 0 and "witness b.test/witness: HTTP 422" in rewritten.stderr, rewritten.stderr
        served = _text(base_a, "/api/v1/ledger/checkpoint/")
        forked = verify_checkpoint(served, signing_a.verifier)  # signed by A, over a history that does not extend ...
        assert forked.size > second.size
        with pytest.raises(VerificationError, match="0 of 1 witnesses cosigned"):
            verify_witnessed(served, [witness_b.verifier], 1)  # ... which no witness vouches for
        with sqlite3.connect(database_b) as b:
            evidence = b.execute("SELECT failure_reason, extra FROM audit_auditentry WHERE event_name = 'witness.refused'").fetchall()
            seen = b.execute("SELECT tree_size, root_hash FROM audit_witnessedcheckpoint WHERE origin = 'a.test/audit' "
                             "ORDER BY tree_size DESC LIMIT 1").fetchone()
        assert len(evidence) == 1 and evidence[0][0].startswith("HTTP 422") and b64encode(forked.root_hash) in evidence[0][1]
        assert seen == (second.size, second.root_hash)  # B still holds the history it cosigned
    finally:
        _stop(server_a)
        _stop(server_b)
    for name in ("a.log", "b.log"):
        assert "Traceback" not in (tmp_path / name).read_text(), (tmp_path / name).read_text()


def _text(base: str, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{base}{path}", timeout=10) as response:
        return response.read().decode("utf-8")
