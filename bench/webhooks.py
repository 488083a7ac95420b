"""Webhook delivery: throughput and end-to-end latency with one task worker and a local receiver.

    .venv/bin/python -m bench.webhooks [--events 500] [--paced 200] [--rate 20] [--interval 0.2]

On a throwaway SQLite database (production settings, WEBHOOK_ALLOW_PRIVATE on): one project, one
subscription to a receiver on 127.0.0.1 (a thread in this process that answers 200 at once), and ONE
`manage.py db_worker` process polling every --interval seconds.

- throughput: --events audit rows written in a burst by a writer process (service calls, each its own
  transaction and seal); rows/s = events / (last arrival - first write);
- latency: --paced rows written at --rate per second; for each, arrival at the receiver minus the audit
  row's timestamp (its commit, give or take the write), p50 / p99 / max;
- bursts then silence, with the production sealing interval (AUDIT_SEAL_MIN_INTERVAL=1): --bursts
  bursts of --burst-size rows, each followed by --silence seconds without a write, from a writer that
  stays alive (so its deferred seal, not its exit, seals the last rows): the seal lag of every row
  (leaf sealed_at minus row timestamp) and commit → receipt, p50 / p99 / max.

Prints both and returns them as a dict (bench.run adds them to its JSON). The worker's poll interval
bounds the latency of an idle worker: a row sealed just after a poll waits for the next one.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys, time
from accounts.models import User
from projects.models import Project
from projects.services import project_update
owner = User.objects.get(email="bench-owner@example.com")
project = Project.objects.get(slug="bench-webhooks")
count, rate = int(sys.argv[1]), float(sys.argv[2])
for n in range(count):
    started = time.monotonic()
    project_update(project=project, actor=owner, description=f"take {n}")
    if rate > 0:
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
"""

BURSTS = """
import sys, time
from accounts.models import User
from projects.models import Project
from projects.services import project_update
owner = User.objects.get(email="bench-owner@example.com")
project = Project.objects.get(slug="bench-webhooks")
bursts, size, silence = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for b in range(bursts):
    for n in range(size):
        project_update(project=project, actor=owner, description=f"burst {b} take {n}")
    time.sleep(silence)
"""

SETUP = """
from accounts.models import User
from projects.services import project_create
from webhooks.services import subscription_create
owner = User.objects.create_user("bench-owner@example.com", "bench-owner-password-1")
project = project_create(actor=owner, name="Bench webhooks", slug="bench-webhooks")
subscription_create(project=project, actor=owner, url=URL)
"""


class Receiver:
    def __init__(self):
        self.arrivals: list[tuple[float, dict]] = []
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrivals.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def updates(self) -> list[tuple[float, dict]]:
        return [(at, event) for at, event in self.arrivals if event["type"] == "project.updated"]


def _env(database: Path) -> dict:
    return {**os.environ, "ENV_FILE": os.devnull, "DJANGO_SETTINGS_MODULE": "commandcentral.settings", "DEBUG": "0",
            "SECRET_KEY": "bench-webhooks-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": f"sqlite:///{database}", "WEBHOOK_ALLOW_PRIVATE": "1", "LOG_LEVEL": "ERROR",
            "AUDIT_SEAL_MIN_INTERVAL": "0", "SQLITE_SYNCHRONOUS": "NORMAL"}


def _manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def _wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.updates()) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bench(options) -> dict:
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="cc-bench-webhooks-") as tmp:
        env = _env(Path(tmp) / "bench.sqlite3")
        _manage(env, "migrate", "--noinput")
        _manage(env, "shell", "-c", f"URL = {receiver.url!r}\n{SETUP}")
        worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--no-reload",
                                   "--no-startup-delay", "--interval", str(options.interval), "--verbosity", "0"],
                                  cwd=ROOT, env=env)
        try:
            started = time.time()
            _manage(env, "shell", "-c", f"import sys; sys.argv = ['', '{options.events}', '0']\n{WRITER}")
            written = time.time()
            _wait_for(receiver, options.events, timeout=120)
            burst = receiver.updates()
            finished = burst[-1][0] if burst else time.time()
            receiver.arrivals.clear()
            _manage(env, "shell", "-c", f"import sys; sys.argv = ['', '{options.paced}', '{options.rate}']\n{WRITER}")
            _wait_for(receiver, options.paced, timeout=60)
            paced = receiver.updates()
            receiver.arrivals.clear()
            first_row = _last_row(Path(tmp) / "bench.sqlite3")
            grouped = {**env, "AUDIT_SEAL_MIN_INTERVAL": "1"}  # production sealing: one deferred seal per second
            _manage(grouped, "shell", "-c",
                    f"import sys; sys.argv = ['', '{options.bursts}', '{options.burst_size}', '{options.silence}']\n{BURSTS}")
            _wait_for(receiver, options.bursts * options.burst_size, timeout=60)
            bursts = receiver.updates()
            seal_lags = _seal_lags(Path(tmp) / "bench.sqlite3", first_row)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    receiver.server.shutdown()
    order_ok = [event["data"]["leaf_index"] for _, event in burst] == sorted(event["data"]["leaf_index"] for _, event in burst)
    latencies = [(at - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000 for at, event in paced]
    after_bursts = [(at - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000 for at, event in bursts]
    result = {
        "events": options.events, "delivered": len(burst), "in_order": order_ok,
        "write_seconds": round(written - started, 2),
        "rows_per_second": round(len(burst) / (finished - started), 1) if burst else 0.0,
        "paced": options.paced, "rate": options.rate, "paced_delivered": len(paced),
        "latency_ms": {"p50": round(_percentile(latencies, 50), 1), "p99": round(_percentile(latencies, 99), 1),
                       "max": round(max(latencies), 1)} if latencies else None,
        "worker_interval_s": options.interval,
        "bursts": {"bursts": options.bursts, "size": options.burst_size, "silence_s": options.silence,
                   "delivered": len(bursts), "seal_lag_ms": _summary(seal_lags), "commit_to_receipt_ms": _summary(after_bursts)},
    }
    print()
    print(f"Webhooks (1 db_worker polling every {options.interval:g} s, SQLite, local receiver answering 200):")
    print(f"  burst: {result['delivered']}/{options.events} delivered in order={order_ok}, "
          f"{result['rows_per_second']} rows/s end to end (writes took {result['write_seconds']} s)")
    if latencies:
        lat = result["latency_ms"]
        print(f"  paced {options.rate:g}/s: {len(paced)}/{options.paced} delivered; row committed → receiver got it: "
              f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    groups = result["bursts"]
    print(f"  {options.bursts} bursts of {options.burst_size}, each then {options.silence:g} s of silence (AUDIT_SEAL_MIN_INTERVAL=1): "
          f"{groups['delivered']}/{options.bursts * options.burst_size} delivered")
    for label, key in (("seal lag (row → leaf)", "seal_lag_ms"), ("commit → receipt", "commit_to_receipt_ms")):
        if groups[key]:
            print(f"    {label}: p50 {groups[key]['p50']} ms, p99 {groups[key]['p99']} ms, max {groups[key]['max']} ms")
    return result


def _summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"p50": round(_percentile(values, 50), 1), "p99": round(_percentile(values, 99), 1), "max": round(max(values), 1)}


def _last_row(database: Path) -> int:
    import sqlite3

    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COALESCE(MAX(id), 0) FROM audit_auditentry").fetchone()[0]


def _seal_lags(database: Path, after: int) -> list[float]:
    """Milliseconds from each row's timestamp to its leaf's sealed_at, for the rows after `after`."""
    import sqlite3

    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT e.timestamp, l.sealed_at FROM audit_auditentry e JOIN audit_ledgerleaf l ON l.entry_id = e.id WHERE e.id > ?",
            [after],
        ).fetchall()
    return [(datetime.fromisoformat(sealed).timestamp() - datetime.fromisoformat(stamp).timestamp()) * 1000 for stamp, sealed in rows]


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=int(env("BENCH_WEBHOOK_EVENTS", "500")))
    parser.add_argument("--paced", type=int, default=int(env("BENCH_WEBHOOK_PACED", "200")))
    parser.add_argument("--rate", type=float, default=float(env("BENCH_WEBHOOK_RATE", "20")))
    parser.add_argument("--interval", type=float, default=float(env("BENCH_WEBHOOK_INTERVAL", "0.2")))
    parser.add_argument("--bursts", type=int, default=int(env("BENCH_WEBHOOK_BURSTS", "5")))
    parser.add_argument("--burst-size", type=int, default=int(env("BENCH_WEBHOOK_BURST_SIZE", "20")))
    parser.add_argument("--silence", type=float, default=float(env("BENCH_WEBHOOK_SILENCE", "3")))
    return parser.parse_args(argv)


if __name__ == "__main__":
    bench(parse_args())
