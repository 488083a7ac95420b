"""Audit rows written by a real gunicorn server (2 workers) on PostgreSQL are sealed by the server
itself after each commit, and an outsider checks them with the stand-alone verifier alone.

Also a regression test: django-auditlog's request context fills `remote_addr` at save time (pre_save),
so anything derived from a row before that missed it; every row a web request writes carries the caller's
address. The rows here come from another process, so the suite's ledger guard (conftest.py,
in-process rows only) does not see them: the test verifies explicitly, and fetches the key, the
checkpoint and a proof over HTTP from the server, then runs audit/ledger/verifier.py from a
directory holding nothing else.
"""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import connection

from audit.models import AuditEntry, AuditEventType, LedgerCheckpoint, LedgerLeaf, LedgerQueue
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (set DATABASE_URL): runs gunicorn against the test database",
    ),
]

BASE_DIR = Path(django_settings.BASE_DIR)
GUNICORN = Path(sys.executable).parent / "gunicorn"
SIGNING_KEY = "PRIVATE+KEY+live.test/audit+446bcd85+AdPiowLR59AdV0pAjdJu6OkLX0cR6X4PeZmLYAOWa3xp"
CORRELATION_ID = "live-chain-create-1"
BOOT_TIMEOUT = 30  # seconds to wait for /health; bounds the wait, not a speed assertion


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    """The database this test runs in (test_<name>), as a DATABASE_URL for the server process."""
    db = connection.settings_dict
    user = urllib.parse.quote(db.get("USER") or "", safe="")
    password = urllib.parse.quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or ''}{port}/{urllib.parse.quote(db['NAME'], safe='')}"


def _server_env() -> dict:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": os.devnull,  # a developer's .env stays out of it
        "DJANGO_SETTINGS_MODULE": "commandcentral.settings",  # production settings, not the test ones
        "SECRET_KEY": "live-server-chain-test-secret-key-0123456789-abcdefghijklmnop",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "THROTTLE_ANON": "100000/min",
        "THROTTLE_USER": "100000/min",
        "THROTTLE_LOGIN": "100000/min",
        "DATABASE_URL": _test_database_url(),
        "CONN_MAX_AGE": "0",  # no connection to the test database outlives a request
        "GUNICORN_WORKERS": "2",
        "AUDIT_SIGNING_KEY": SIGNING_KEY,
        "AUDIT_SEAL_MIN_INTERVAL": "0",  # seal after every commit, so the test can see each one sealed
        "LOG_LEVEL": "WARNING",
    }


def _call(base: str, method: str, path: str, body: dict | None = None, *, token: str | None = None,
          headers: dict | None = None) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one request; error statuses are returned, not raised."""
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Accept": "application/json", **(headers or {})})
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, dict(error.headers), error.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"raw": raw.decode(errors="replace")}
    return status, response_headers, data


def _wait_for_health(base: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        try:
            if _call(base, "GET", "/health")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            pass
        assert server.poll() is None, f"gunicorn exited ({server.returncode}):\n{log_path.read_text()}"
        assert time.monotonic() < deadline, f"gunicorn did not answer /health in {BOOT_TIMEOUT} s:\n{log_path.read_text()}"
        time.sleep(0.2)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@pytest.mark.django_db(transaction=True)
def test_rows_written_by_a_live_gunicorn_server_are_sealed_and_verify_outside(settings, tmp_path):
    user = UserFactory(email="live-chain@example.com")
    # The server runs the production PASSWORD_HASHERS (the suite's MD5 is not among them): store a
    # hash it can check, at its default cost, so login does not rehash (and write) the password.
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    rows_before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=BASE_DIR, env=_server_env(), stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_health(base, server, log_path)

        status, _, body = _call(base, "POST", "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD})
        assert status == 200, (body, log_path.read_text())
        token = body["access_token"]

        status, headers, project = _call(
            base, "POST", "/api/v1/projects/", {"name": "Live chain project"}, token=token,
            headers={"X-Correlation-ID": CORRELATION_ID},
        )
        assert status == 201, (project, log_path.read_text())
        assert headers["X-Correlation-ID"] == CORRELATION_ID
        project_path = f"/api/v1/projects/{project['id']}"

        status, _, body = _call(base, "POST", f"{project_path}/activate/", {"rationale": "Go live"}, token=token)
        assert status == 200 and body["project"]["state"] == "active", (body, log_path.read_text())
        status, _, body = _call(base, "POST", f"{project_path}/complete/", {"rationale": "Done"}, token=token)
        assert status == 200 and body["project"]["state"] == "completed", (body, log_path.read_text())
        status, _, body = _call(base, "POST", f"{project_path}/activate/", {"rationale": "Again"}, token=token)
        assert status == 409, (body, log_path.read_text())

        status, _, body = _call(base, "POST", "/api/v1/auth/login/", {"email": user.email, "password": "wrong-password"})
        assert status == 401, (body, log_path.read_text())

        # Sealed by the server after each commit: nothing waits in the queue, no sweep ran.
        served_ids = list(AuditEntry.objects.filter(id__gt=rows_before).values_list("id", flat=True))
        assert not LedgerQueue.objects.exists()
        assert LedgerLeaf.objects.filter(entry_id__in=served_ids).count() == len(served_ids)

        # The maintenance task's work, every few seconds in production: sign and store a checkpoint.
        settings.AUDIT_SIGNING_KEY = SIGNING_KEY
        call_command("audit_checkpoint", stdout=io.StringIO())
        # What an outsider fetches: the key (once), the latest checkpoint, a proof of the transition.
        key_text = _text(base, "/api/v1/ledger/key/")
        note = _text(base, "/api/v1/ledger/checkpoint/")
        activated_id = AuditEntry.objects.get(id__in=served_ids, transition="activate", success=True).pk
        status, _, proof = _call(base, "GET", f"/api/v1/events/{activated_id}/proof/", token=token)
        assert status == 200, proof
        status, _, anonymous = _call(base, "GET", f"/api/v1/events/{activated_id}/proof/")
        assert status == 401, anonymous
    finally:
        _stop(server)

    output = log_path.read_text()
    assert "Traceback" not in output, output

    served = list(AuditEntry.objects.filter(id__gt=rows_before).order_by("id"))
    # Every row the server wrote carries the caller's address: the value that used to miss the hash.
    assert served and {row.remote_addr for row in served} == {"127.0.0.1"}, [(r.event_name, r.remote_addr) for r in served]

    def one(event_type, **filters):
        matches = [row for row in served if row.event_type == event_type
                   and all(getattr(row, name) == value for name, value in filters.items())]
        assert len(matches) == 1, (event_type, filters, [(r.event_type, r.event_name, r.transition) for r in served])
        return matches[0]

    login = one(AuditEventType.AUTH_LOGIN, success=True)
    created = one(AuditEventType.ENTITY_CREATED, entity_type="project", entity_id=project["id"])
    activated = one(AuditEventType.TRANSITION_SUCCESS, transition="activate")
    completed = one(AuditEventType.TRANSITION_SUCCESS, transition="complete")
    denied = one(AuditEventType.TRANSITION_DENIED, transition="activate")
    failed = one(AuditEventType.AUTH_FAILED)

    for row in (login, created, activated, completed, denied):
        assert (row.actor_id, row.actor_email, row.actor_type) == (user.pk, user.email, "user"), row.event_name
    assert created.cid == CORRELATION_ID
    assert CORRELATION_ID not in (login.cid, activated.cid, denied.cid)  # only the call that sent it
    assert (activated.from_state, activated.to_state, activated.rationale) == ("proposed", "active", "Go live")
    assert (denied.success, denied.from_state, denied.rationale) == (False, "completed", "Again")
    assert str(denied.project_id) == project["id"]
    assert failed.success is False and failed.actor_id is None and failed.extra == {"email": user.email}

    total = AuditEntry.objects.count()
    assert LedgerLeaf.objects.count() == total
    stored = LedgerCheckpoint.objects.get()  # audit_checkpoint's; the reads signed nothing more
    assert stored.tree_size == total and stored.note == note
    assert proof["tree_size"] == total and proof["checkpoint"] == note
    assert proof["leaf_index"] == LedgerLeaf.objects.get(entry_id=activated_id).leaf_index

    # The stand-alone verifier, alone in a directory, checks the checkpoint and the proof.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "verifier.py").write_bytes((BASE_DIR / "audit" / "ledger" / "verifier.py").read_bytes())
    (outside / "key.txt").write_text(key_text)
    (outside / "checkpoint.txt").write_text(note)
    (outside / "proof.json").write_text(json.dumps(proof))

    def verifier(*args):
        return subprocess.run([sys.executable, "-I", "verifier.py", "key.txt", *args], cwd=outside,
                              capture_output=True, text=True, timeout=60)

    checked = verifier("checkpoint", "checkpoint.txt")
    assert checked.returncode == 0 and f"tree size {total}" in checked.stdout, checked
    checked = verifier("inclusion", "proof.json")
    assert checked.returncode == 0 and f"leaf {proof['leaf_index']} is in tree size {total}" in checked.stdout, checked
    (outside / "proof.json").write_text(json.dumps({**proof, "leaf_index": proof["leaf_index"] ^ 1}))
    assert verifier("inclusion", "proof.json").returncode == 1

    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    assert f"OK: {total} leaves recomputed from their rows" in out.getvalue(), out.getvalue()


def _text(base: str, path: str) -> str:
    with urllib.request.urlopen(f"{base}{path}", timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode("utf-8")
