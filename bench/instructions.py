"""CPU instructions per request, counted by valgrind's callgrind: the same figure on a busy or a quiet machine.

    .venv/bin/python -m bench.instructions [--op health,create_project,...] [--requests 100]

On a shared VM whose speed drifts by tens of percent within minutes, req/s and CPU time cannot show a
change of 5%. Instructions can: callgrind counts every instruction the process executes in user space
(Python, SQLite, the JSON encoder), repeatably for the same code and data. What it does not count is
time spent waiting or in the kernel: an fsync, the WAL's write() calls, a PostgreSQL round trip. So
the ratio to `/health` printed here is the CPU share of the bench's ratio, and the difference between
the two is what a request waits for (on SQLite, the WAL's `write()` calls, and its fsync where commits wait for it).

Each operation runs in its own process under callgrind (two at a time: the counts do not depend on
what else runs), on a freshly seeded SQLite database, with the same settings as the bench's server.
Only the measured requests are counted (collection is switched on inside the `map()` that sends them),
not start-up, seeding or warm-up. The ledger's seal after commit is held off (it runs at most every
`AUDIT_SEAL_MIN_INTERVAL`, which under callgrind's ~50x slowdown would be every few requests).
Needs valgrind (`apt-get install -y valgrind`); ~1 minute per operation.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .profile import OPS, _calls, _request, prepare
from .run import ROOT


def child(op: str, requests: int, workdir: Path) -> None:
    """Runs under callgrind: set up, warm up, then the measured requests inside one map()."""
    app, state, token = prepare(f"sqlite:///{workdir / 'instructions.sqlite3'}", workdir, audit_rows=10_000,
                                AUDIT_SEAL_MIN_INTERVAL="1000000")
    for method, path, body in _calls(op, state, 30):
        _request(app, method, path, token=token, body=body)
    calls = list(_calls(op, state, requests, start=30))
    # callgrind collects only while map_next (CPython's C function behind map()) is on the stack.
    statuses = list(map(lambda call: _request(app, call[0], call[1], token=token, body=call[2]), calls))
    print(json.dumps({"statuses": {str(code): statuses.count(code) for code in set(statuses)}}))


def measure(op: str, requests: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="cc-instructions-") as workdir:
        out = Path(workdir) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=map_next",
             f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions", "--child", op,
             "--requests", str(requests), "--workdir", workdir],
            cwd=ROOT, capture_output=True, text=True, check=False)
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or not collected:
            raise SystemExit(f"{op}: valgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
        statuses = json.loads(done.stdout.strip().splitlines()[-1])["statuses"]
        return int(collected.group(1)) / requests, statuses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default=",".join(OPS[:6]))
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.requests, Path(args.workdir))
        return 0
    if subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        print("valgrind not found: apt-get install -y valgrind", file=sys.stderr)
        return 1
    ops = args.op.split(",")
    if "health" not in ops:
        ops.insert(0, "health")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(ops, pool.map(lambda op: measure(op, args.requests), ops)))
    health = results["health"][0]
    print(f"{'operation':<16} {'instructions/request':>21} {'/health':>8}  statuses ({args.requests} requests each)")
    for op, (instructions, statuses) in results.items():
        print(f"{op:<16} {instructions:>21,.0f} {health / instructions:>8.3f}  {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
