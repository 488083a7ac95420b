"""The event stream with real processes on PostgreSQL: gunicorn serves the JSON API (the writes), uvicorn
serves the stream (commandcentral.asgi), a task worker runs beside them (`manage.py db_worker`).

1. A write through gunicorn arrives on the stream; the stream is dropped, more writes are made, and a
   reconnect with Last-Event-ID gets every one of them, in leaf order, none missing.
2. Every database connection of the test database is terminated (pg_terminate_backend, this database
   only): the stream's watcher logs, reconnects and goes on from its last leaf; nothing is lost.

The rows come from other processes, so the suite's ledger guard does not see them: the tests check
what they need themselves.
"""

from __future__ import annotations

import http.client
import sys
import time

import pytest
from django.db import connection

from audit.models import AuditEntry, LedgerLeaf
from audit.tests.test_live_ledger_guarantees import _manage, _start, _token, _user
from audit.tests.test_live_server_ledger import GUNICORN, _call, _free_port, _server_env, _stop, _wait_for_health
from live.tests.sse import parse

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): runs gunicorn, uvicorn and a task worker against the test database"),
]

WAIT_LIMIT = 30.0  # how long a wait may last before the test gives up (bounds the wait, asserts nothing)
STREAM = "/api/v1/events/stream/"


class StreamClient:
    """One Server-Sent Events connection to a real server, read as it comes."""

    def __init__(self, port: int, path: str = STREAM, **headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_LIMIT)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **headers})
        self.response = self.conn.getresponse()
        self.buffer = ""
        self.messages = []

    def until(self, predicate, timeout: float = WAIT_LIMIT):
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            assert time.monotonic() < deadline, f"timed out; got {self.messages[-5:]!r}"
            self.conn.sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = self.response.read1(65536)
            assert chunk, "the server ended the stream"
            self.buffer += chunk.decode()
            found, self.buffer = parse(self.buffer)
            self.messages.extend(found)
        return self.messages

    def events(self):
        return [m for m in self.messages if m.id is not None]

    def close(self):
        self.conn.close()


def _uvicorn(env: dict, port: int, log_path) -> object:
    server = _start(env, log_path, sys.executable, "-m", "uvicorn", "commandcentral.asgi:application", "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "1")
    _wait_for_health(f"http://127.0.0.1:{port}", server, log_path)
    return server


def _tip() -> int:
    return LedgerLeaf.objects.order_by("-leaf_index").values_list("leaf_index", flat=True).first()


def _wait_sealed(until: float) -> None:
    """Until every audit row is a leaf (the servers seal after their commits)."""
    while LedgerLeaf.objects.count() != AuditEntry.objects.count():
        assert time.monotonic() < until, "rows left unsealed"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_writes_through_gunicorn_arrive_on_uvicorns_stream_without_a_gap(tmp_path):
    user = _user()
    env = {**_server_env(), "AUDIT_SIGNER_STATE": str(tmp_path / "signer.state"), "LIVE_STREAM_POLL_INTERVAL": "0.05",
           "GUNICORN_WORKERS": "1"}
    api_port, stream_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{api_port}"
    servers = []
    try:
        servers.append(_start(env, tmp_path / "gunicorn.log", str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{api_port}"))
        _wait_for_health(base, servers[-1], tmp_path / "gunicorn.log")
        servers.append(_uvicorn(env, stream_port, tmp_path / "uvicorn.log"))
        assert _manage(env, "schedule_maintenance").returncode == 0
        servers.append(_start(env, tmp_path / "worker.log", sys.executable, "manage.py", "db_worker", "--queue-name", "*",
                              "--no-reload", "--verbosity", "0"))
        token = _token(base, user)
        auth = {"Authorization": f"Bearer {token}"}

        # Refused without credentials, as the API is, and no row written for it.
        status, _, body = _call(f"http://127.0.0.1:{stream_port}", "GET", STREAM)
        assert status == 401 and "detail" in body
        # gunicorn (WSGI) does not hold streams: a clear refusal, at once.
        status, _, body = _call(base, "GET", STREAM, token=token)
        assert status == 503 and "ASGI" in body["detail"]

        stream = StreamClient(stream_port, **auth)
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type").startswith("text/event-stream")
        stream.until(lambda m: m and m[0].retry)
        status, _, created = _call(base, "POST", "/api/v1/projects/", {"name": "Streamed live"}, token=token)
        assert status == 201
        stream.until(lambda m: any(e.json["project"] == created["id"] and e.event == "project.created"
                                   for e in m if e.id is not None))
        last = int(stream.events()[-1].id)
        stream.close()

        for n in range(5):
            assert _call(base, "POST", "/api/v1/projects/", {"name": f"While away {n}"}, token=token)[0] == 201
        _wait_sealed(time.monotonic() + WAIT_LIMIT)
        tip = _tip()
        assert tip > last
        stream = StreamClient(stream_port, **auth, **{"Last-Event-ID": str(last)})
        stream.until(lambda m: any(int(e.id) >= tip for e in m if e.id is not None))
        assert [int(e.id) for e in stream.events()] == list(range(last + 1, tip + 1))  # an operator sees every row

        # Every connection to this database is terminated (the stream's watcher's included).
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1
        for n in range(5):
            deadline = time.monotonic() + WAIT_LIMIT
            while (status := _call(base, "POST", "/api/v1/projects/", {"name": f"After the cut {n}"}, token=token)[0]) != 201:
                assert status in (500, 503) and time.monotonic() < deadline, status  # a request on a dying connection
                time.sleep(0.1)
        _wait_sealed(time.monotonic() + WAIT_LIMIT)
        tip = _tip()
        stream.until(lambda m: any(int(e.id) >= tip for e in m if e.id is not None))
        assert [int(e.id) for e in stream.events()] == list(range(last + 1, tip + 1))
        ids = {e.json["id"] for e in stream.events()}
        assert ids == set(LedgerLeaf.objects.filter(leaf_index__gt=last).values_list("entry_id", flat=True))
        stream.close()
    finally:
        for server in servers:
            _stop(server)
    uvicorn_log = (tmp_path / "uvicorn.log").read_text()
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()
    # Reading the stream writes no row: every row is a login, or one of the writes above.
    assert not AuditEntry.objects.filter(extra__path__contains="events/stream").exists()
    assert not AuditEntry.objects.filter(event_type="auth_failed").exists()
    # The watcher's connection was cut: it said so, and read on from its last leaf (checked above).
    assert "reading the ledger failed" in uvicorn_log
