"""The live event stream under load: one uvicorn process holding many streams beside gunicorn.

    .venv/bin/python -m bench.stream [--streams 1000] [--rate 50] [--seconds 10] [--churn 1000]
                                     [--throughput-seconds 10] [--backend sqlite|postgres]

On a throwaway database (SQLite by default; --backend postgres uses BENCH_POSTGRES_URL as bench.run does),
seeded with bench.seed `base` (the bench user, a non-operator, and its projects):

1. gunicorn (ONE sync worker, production settings, as bench.run) serves the JSON API. Its throughput on
   GET /api/v1/projects/?limit=50 (wrk, 8 connections) is measured without the stream process, then
   again with uvicorn running beside it on the same CPU and holding --streams idle streams.
2. uvicorn (commandcentral.asgi, one process) serves GET /api/v1/events/stream/. --streams clients connect
   (asyncio, raw sockets, a JWT each); its resident memory (VmRSS) and threads before and after.
3. Writes: POST /api/v1/projects/ through gunicorn at --rate per second for --seconds, with the sealing
   interval of the settings (AUDIT_SEAL_MIN_INTERVAL, unless BENCH_STREAM_SEAL_INTERVAL is set). Every
   stream reads everything. Per row the bench user may see (read from the database afterwards): the
   fraction of streams that received it, and the delay from the row's timestamp (taken in the writing
   transaction, just before its commit) to its receipt on each stream: p50/p99/max.
4. The streams are closed; then --churn connects and disconnects (50 at a time). VmRSS after closing,
   before and after the churn.

Prints the figures and writes JSON to bench-results/stream-<time>.json and stream-latest.json.
Environment equivalents: BENCH_STREAM_CLIENTS, BENCH_STREAM_RATE, BENCH_STREAM_SECONDS, BENCH_STREAM_CHURN,
BENCH_STREAM_THROUGHPUT_SECONDS, BENCH_STREAM_BACKEND. From another driver (bench/__main__.py):
`measured = stream.measure(stream.parse_args([]))`, then `stream.report(measured)` and `stream.save(measured)`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from datetime import datetime, timezone
from pathlib import Path

from . import lua, run
from .comments import percentile

PATH = "/api/v1/events/stream/"
ID = re.compile(rb"(?:^|\n)id: (\d+)\n")
TARGETS = {"idle_rss_mb": 150, "delivered": 0.99, "p99_s": 1.0, "throughput_change": 0.05}


class Uvicorn:
    """The stream's ASGI server, as `make serve-stream` starts it."""

    def __init__(self, env: dict, prefix: list[str], logfile: Path):
        self.env, self.prefix, self.logfile = env, prefix, logfile
        self.port = run.free_port()
        self.process = None

    def start(self) -> None:
        self._log = open(self.logfile, "ab")
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "uvicorn", "commandcentral.asgi:application", "--host", run.HOST,
             "--port", str(self.port), "--no-access-log", "--no-proxy-headers", "--timeout-graceful-shutdown", "1",
             "--backlog", "4096"],
            cwd=run.ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: uvicorn exited at start; see {self.logfile}")
            try:
                with urllib.request.urlopen(f"http://{run.HOST}:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"bench: uvicorn did not answer /health within 60 s; see {self.logfile}")

    def rss_mb(self) -> float:
        return round(run.rss_kb(self.process.pid) / 1024, 1)

    def threads(self) -> int:
        return run.rss_kb(self.process.pid, "Threads")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()

    def problems(self) -> list[str]:
        lines = self.logfile.read_text(errors="replace").splitlines()
        return [line[:300] for line in lines if any(word in line for word in ("ERROR", "Traceback", "CRITICAL"))]


class Client(asyncio.Protocol):
    """One stream, read by an asyncio protocol on a raw socket (no stream reader, no HTTP library): the
    leaf ids it receives and when."""

    def __init__(self):
        self.leaves, self.at = array("q"), array("d")
        self.ready = asyncio.Event()
        self.head = b""
        self.pending = b""
        self.transport = None
        self.closed = asyncio.Event()

    async def open(self, port: int, token: str) -> None:
        await asyncio.get_running_loop().create_connection(lambda: self, run.HOST, port)
        self.transport.write(f"GET {PATH} HTTP/1.1\r\nHost: {run.HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
                             f"Accept: text/event-stream\r\n\r\n".encode())

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.ready.is_set():
            self.head += data
            if b"retry:" not in self.head:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"bench: the stream answered {self.head[:200]!r}")
            self.ready.set()
            data, self.head = self.head[self.head.index(b"retry:"):], b""
        data = self.pending + data
        end = data.rfind(b"\n\n")
        if end < 0:
            self.pending = data
            return
        self.pending = data[end + 2:]
        for leaf in ID.findall(data, 0, end + 2):
            self.leaves.append(int(leaf))
            self.at.append(now)

    def connection_lost(self, exc) -> None:
        self.closed.set()

    async def close(self) -> None:
        self.transport.close()
        await self.closed.wait()


async def open_streams(count: int, port: int, token: str, *, at_once: int = 50) -> list[Client]:
    clients = []
    for start in range(0, count, at_once):
        batch = [Client() for _ in range(min(at_once, count - start))]
        await asyncio.gather(*(client.open(port, token) for client in batch))
        await asyncio.wait_for(asyncio.gather(*(client.ready.wait() for client in batch)), 30)
        clients.extend(batch)
    return clients


async def churn(count: int, port: int, token: str) -> None:
    for start in range(0, count, 50):
        batch = await open_streams(min(50, count - start), port, token)
        await asyncio.gather(*(client.close() for client in batch))


def writer(base: str, token: str, rate: float, seconds: float) -> None:
    """POST /api/v1/projects/ at `rate` per second, paced (a late request is not made up for by a burst).
    Runs in a process of its own (the readers' event loop keeps this process's one interpreter lock);
    exits with the number of failed requests."""
    interval, started, failed = 1 / rate, time.monotonic(), 0
    for n in range(int(rate * seconds)):
        delay = started + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        request = urllib.request.Request(f"{base}/api/v1/projects/", data=json.dumps({"name": f"Streamed {n}"}).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                failed += response.status != 201
        except OSError:
            failed += 1
    sys.exit(min(failed, 255))


def write_at_rate(server: run.Server, token: str, rate: float, seconds: float) -> int:
    process = multiprocessing.get_context("spawn").Process(target=writer, args=(server.base, token, rate, seconds))
    process.start()
    process.join()
    return process.exitcode


def visible_rows(database, after: int, email: str) -> dict[int, tuple[float, float]]:
    """{leaf index: (the row's timestamp, when it was sealed) (epoch seconds)} of the rows after leaf `after`
    the bench user may see."""
    query = ("SELECT l.leaf_index, e.timestamp, l.sealed_at FROM audit_ledgerleaf l JOIN audit_auditentry e ON e.id = l.entry_id "
             "JOIN projects_project p ON p.id = e.project_id JOIN accounts_user u ON u.id = p.owner_id "
             "WHERE l.leaf_index > %s AND u.email = %s")
    if isinstance(database, run.SQLiteDatabase):
        with sqlite3.connect(database.path) as connection:
            rows = connection.execute(query.replace("%s", "?"), (after, email)).fetchall()
        epoch = lambda stamp: datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()  # noqa: E731
        return {leaf: (epoch(stamp), epoch(sealed)) for leaf, stamp, sealed in rows}
    import psycopg

    with psycopg.connect(database.url) as connection:
        rows = connection.execute(query, (after, email)).fetchall()
    return {leaf: (stamp.timestamp(), sealed.timestamp()) for leaf, stamp, sealed in rows}


def _scalar(database, query: str):
    if isinstance(database, run.SQLiteDatabase):
        with sqlite3.connect(database.path) as connection:
            return connection.execute(query).fetchone()[0]
    import psycopg

    with psycopg.connect(database.url) as connection:
        return connection.execute(query).fetchone()[0]


def tip(database) -> int:
    return _scalar(database, "SELECT COALESCE(MAX(leaf_index), -1) FROM audit_ledgerleaf")


def unsealed(database) -> int:
    return _scalar(database, "SELECT (SELECT COUNT(*) FROM audit_auditentry) - (SELECT COUNT(*) FROM audit_ledgerleaf)")


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def measure(options) -> dict:
    raise_file_limit(2 * options.streams + 1024)
    server_prefix, load_prefix, pinned = run.pinning()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-stream-"))
    if options.backend == "postgres":
        database = run.PostgresDatabase(options.postgres_url)
        database.create()
    else:
        database = run.SQLiteDatabase(workdir)
    env = run.server_env(database.url)
    if os.environ.get("BENCH_STREAM_SEAL_INTERVAL"):
        env["AUDIT_SEAL_MIN_INTERVAL"] = os.environ["BENCH_STREAM_SEAL_INTERVAL"]
    state_path = workdir / "state.json"
    results: dict = {}
    try:
        run.log("stream bench: seeding")
        run.seed("base", env, state_path, projects=20)
        state = json.loads(state_path.read_text())
        server = run.Server(env, server_prefix, workdir / "gunicorn.log")
        server.start()
        # Not pinned: on the bench's two CPUs gunicorn has CPU 0 and the load CPU 1; uvicorn takes whatever
        # is free, as it would beside gunicorn on one machine.
        stream_server = Uvicorn(env, [], workdir / "uvicorn.log")
        try:
            token = run.login(server, state)
            run.warm_up(server, token, state)
            script = lua.script("get", token=token, path="/api/v1/projects/?limit=50")
            run.log(f"stream bench: API throughput without the stream process ({options.throughput_seconds:g} s)")
            alone = run.wrk(server, script, connections=8, duration=options.throughput_seconds, load_prefix=load_prefix,
                            workdir=workdir, name="stream_alone")
            stream_server.start()
            results = asyncio.run(_streams(options, server, stream_server, token, state, database, script,
                                           load_prefix, workdir))
            problems = server.log_problems() + stream_server.problems()
            stream_server.stop()
            # Alone once more, after: the machine's load drifts; the figure compares with the mean of both.
            again = run.wrk(server, script, connections=8, duration=options.throughput_seconds, load_prefix=load_prefix,
                            workdir=workdir, name="stream_alone_again")
            results["throughput_alone"] = {"before": alone, "after": again, "rps": round((alone["rps"] + again["rps"]) / 2, 1)}
            results["throughput_change"] = round(results["throughput_beside"]["rps"] / results["throughput_alone"]["rps"] - 1, 4)
        finally:
            stream_server.stop()
            server.stop()
    finally:
        database.drop()
    seal = env.get("AUDIT_SEAL_MIN_INTERVAL", "the settings' default")
    return {"machine": run.machine(), "pinning": pinned, "backend": f"{database.label} {database.version()}",
            "streams": options.streams, "throughput_seconds": options.throughput_seconds, "rate": options.rate, "seconds": options.seconds, "churn": options.churn,
            "seal_interval": seal, "results": results, "server_problems": problems[:20],
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


async def _streams(options, server, stream_server, token, state, database, script, load_prefix, workdir) -> dict:
    loop = asyncio.get_running_loop()
    os.sched_setaffinity(0, range(os.cpu_count()))  # the readers take whatever CPU is free, as uvicorn does
    warm = await open_streams(2, stream_server.port, token)  # imports and first-connect work, not measured
    await asyncio.gather(*(client.close() for client in warm))
    await settle(1.0)
    rss_empty, threads_empty = stream_server.rss_mb(), stream_server.threads()
    run.log(f"stream bench: {options.streams} idle streams")
    started = time.monotonic()
    clients = await open_streams(options.streams, stream_server.port, token)
    connect_seconds = time.monotonic() - started
    await settle(2.0)
    rss_idle, threads_idle = stream_server.rss_mb(), stream_server.threads()
    run.log(f"stream bench: API throughput beside {options.streams} idle streams")
    cpu_before = run.cpu_seconds(stream_server.process.pid)
    beside = await loop.run_in_executor(None, lambda: run.wrk(server, script, connections=8, duration=options.throughput_seconds,
                                                             load_prefix=load_prefix, workdir=workdir, name="stream_beside"))
    beside["stream_process_cpu_share"] = round((run.cpu_seconds(stream_server.process.pid) - cpu_before) / beside["seconds"], 3)
    # The same, alternately with the stream process stopped (SIGSTOP: its connections stay open, it does
    # nothing) and running, three times each: the machine's load drifts between two long runs.
    paired = {"stopped": [], "running": []}
    for _ in range(3):
        for state_name in ("stopped", "running"):
            stream_server.process.send_signal(signal.SIGSTOP if state_name == "stopped" else signal.SIGCONT)
            measured = await loop.run_in_executor(None, lambda: run.wrk(
                server, script, connections=8, duration=max(2, options.throughput_seconds / 3), load_prefix=load_prefix,
                workdir=workdir, name="stream_paired"))
            paired[state_name].append(measured["rps"])
    stream_server.process.send_signal(signal.SIGCONT)
    await settle(1.0)  # the streams' heartbeats, due meanwhile, go out
    run.log(f"stream bench: {options.rate:g} writes/s for {options.seconds:g} s through gunicorn")
    first = tip(database)
    stream_cpu, client_cpu, wall = run.cpu_seconds(stream_server.process.pid), time.process_time(), time.monotonic()
    failures = await loop.run_in_executor(None, write_at_rate, server, token, options.rate, options.seconds)
    wrote = time.monotonic()
    stream_cpu = (run.cpu_seconds(stream_server.process.pid) - stream_cpu) / (wrote - wall)
    client_cpu = (time.process_time() - client_cpu) / (wrote - wall)
    while unsealed(database) and time.monotonic() - wrote < 15:
        await settle(0.1)  # the last rows wait for their process's deferred seal
    expected = visible_rows(database, first, state["email"])
    last = max(expected) if expected else first
    while time.monotonic() - wrote < 15 and not all(client.leaves and client.leaves[-1] >= last for client in clients):
        await settle(0.1)  # then the poll interval and the delivery
    delays, after_seal, got = [], [], dict.fromkeys(expected, 0)
    for client in clients:
        for leaf, at in zip(client.leaves, client.at):
            if leaf in got:
                got[leaf] += 1
                delays.append(at - expected[leaf][0])
                after_seal.append(at - expected[leaf][1])
    seal_lags = [sealed - stamp for stamp, sealed in expected.values()]
    delivered = min(got.values()) / len(clients) if got else 0.0
    everywhere = sum(1 for n in got.values() if n == len(clients))
    await asyncio.gather(*(client.close() for client in clients))
    clients.clear()
    await settle(2.0)
    rss_closed = stream_server.rss_mb()
    run.log(f"stream bench: {options.churn} connects and disconnects")
    started = time.monotonic()
    await churn(options.churn, stream_server.port, token)
    churn_seconds = time.monotonic() - started
    await settle(2.0)
    rss_churned, threads_churned = stream_server.rss_mb(), stream_server.threads()
    return {
        "rss_mb_empty": rss_empty, "rss_mb_idle": rss_idle, "idle_growth_mb": round(rss_idle - rss_empty, 1),
        "idle_kb_per_stream": round((rss_idle - rss_empty) * 1024 / max(1, options.streams), 1),
        "threads_empty": threads_empty, "threads_idle": threads_idle, "connect_seconds": round(connect_seconds, 2),
        "throughput_beside": beside, "throughput_paired": paired,
        "throughput_paired_change": round(sum(paired["running"]) / max(1e-9, sum(paired["stopped"])) - 1, 4),
        "writes": int(options.rate * options.seconds), "write_failures": failures, "rows": len(expected),
        "delivered_min_fraction": round(delivered, 4), "rows_at_every_stream": everywhere,
        "delay_p50_s": round(percentile(delays, 0.50), 3), "delay_p99_s": round(percentile(delays, 0.99), 3),
        "delay_max_s": round(max(delays), 3) if delays else None,
        "seal_p50_s": round(percentile(seal_lags, 0.50), 3), "seal_p99_s": round(percentile(seal_lags, 0.99), 3),
        "after_seal_p50_s": round(percentile(after_seal, 0.50), 3), "after_seal_p99_s": round(percentile(after_seal, 0.99), 3),
        "writes_stream_cpu_share": round(stream_cpu, 3), "writes_client_cpu_share": round(client_cpu, 3),
        "rss_mb_closed": rss_closed, "rss_mb_churned": rss_churned, "churn_seconds": round(churn_seconds, 2),
        "threads_churned": threads_churned,
    }


def report(measured: dict) -> str:
    r = measured["results"]
    n = measured["streams"]
    verdict = {
        "idle": r["idle_growth_mb"] <= TARGETS["idle_rss_mb"],
        "delivered": r["delivered_min_fraction"] >= TARGETS["delivered"],
        "p99": r["delay_p99_s"] <= TARGETS["p99_s"],
        "throughput": abs(r["throughput_change"]) <= TARGETS["throughput_change"],
    }
    mark = {True: "ok", False: "MISSED"}
    lines = [
        f"Live event stream: uvicorn (1 process) beside gunicorn (1 sync worker), {measured['backend']} "
        f"({measured['pinning']}); sealing interval {measured['seal_interval']}",
        f"  {n} idle streams: VmRSS {r['rss_mb_empty']} -> {r['rss_mb_idle']} MB (+{r['idle_growth_mb']} MB, "
        f"{r['idle_kb_per_stream']} KB/stream; target <= {TARGETS['idle_rss_mb']} MB) {mark[verdict['idle']]}; "
        f"threads {r['threads_empty']} -> {r['threads_idle']}; connected in {r['connect_seconds']} s",
        f"  {measured['rate']:g} writes/s for {measured['seconds']:g} s ({r['writes']} POSTs, {r['write_failures']} failed, "
        f"{r['rows']} visible rows): every row reached >= {r['delivered_min_fraction']:.2%} of the streams "
        f"({r['rows_at_every_stream']}/{r['rows']} reached all; target >= 99%) {mark[verdict['delivered']]}",
        f"  row timestamp -> receipt: p50 {r['delay_p50_s']} s, p99 {r['delay_p99_s']} s, max {r['delay_max_s']} s "
        f"(target p99 <= {TARGETS['p99_s']} s) {mark[verdict['p99']]}",
        f"    of which timestamp -> sealed: p50 {r['seal_p50_s']} s, p99 {r['seal_p99_s']} s; sealed -> receipt: "
        f"p50 {r['after_seal_p50_s']} s, p99 {r['after_seal_p99_s']} s; CPU meanwhile: uvicorn "
        f"{r['writes_stream_cpu_share']:.0%}, these clients {r['writes_client_cpu_share']:.0%}",
        f"  {measured['churn']} connects+disconnects in {r['churn_seconds']} s: VmRSS {r['rss_mb_closed']} -> "
        f"{r['rss_mb_churned']} MB, threads {r['threads_churned']}",
        f"  GET /api/v1/projects/?limit=50 (wrk, 8 connections): {r['throughput_alone']['rps']} req/s alone (mean of "
        f"{r['throughput_alone']['before']['rps']} before and {r['throughput_alone']['after']['rps']} after), "
        f"{r['throughput_beside']['rps']} req/s beside {n} idle streams ({r['throughput_change']:+.1%}; target ±5%) "
        f"{mark[verdict['throughput']]}; the stream process used {r['throughput_beside']['stream_process_cpu_share']:.1%} of a CPU meanwhile",
        f"    alternately, the stream process stopped / running (3 x {max(2, measured['throughput_seconds'] / 3):g} s each): "
        f"{r['throughput_paired']['stopped']} / {r['throughput_paired']['running']} req/s ({r['throughput_paired_change']:+.1%})",
    ]
    lines += [f"server log: {line}" for line in measured["server_problems"]]
    return "\n".join(lines)


def save(measured: dict) -> None:
    run.save_results("stream", measured)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="The live event stream under load (uvicorn beside gunicorn).")
    parser.add_argument("--streams", type=int, default=int(os.environ.get("BENCH_STREAM_CLIENTS", 1000)))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_STREAM_RATE", 50)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_STREAM_SECONDS", 10)))
    parser.add_argument("--churn", type=int, default=int(os.environ.get("BENCH_STREAM_CHURN", 1000)))
    parser.add_argument("--throughput-seconds", type=float,
                        default=float(os.environ.get("BENCH_STREAM_THROUGHPUT_SECONDS", os.environ.get("BENCH_DURATION", 10))))
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default=os.environ.get("BENCH_STREAM_BACKEND", "sqlite"))
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    measured = measure(parse_args(argv))
    save(measured)
    print("\n" + report(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
