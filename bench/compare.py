"""Two checkouts side by side: one server each, short wrk runs alternating between them.

    git worktree add /tmp/before <commit> && ln -s "$PWD/.venv" /tmp/before/.venv
    .venv/bin/python -m bench.compare --before /tmp/before [--ops health,create_project,transition] [--rounds 5]
    .venv/bin/python -m bench.compare --before . --after-env AUDIT_SEAL_ON_COMMIT=0   # one setting's worth

On a shared VM whose speed drifts by tens of percent within minutes, two `make bench` runs a minute
apart compare the minutes more than the code. Here both servers run at once (each with its own seeded
SQLite database, the bench's settings, one sync worker pinned to CPU 0, wrk on CPU 1) and every round
measures each operation on both, 3 s each, in alternating order: the two sides of a pair see the same
machine. It prints per operation and side the median req/s, the worker's CPU per request, the
median ratio to `/health` and the median p99. The `--before` checkout needs the same bench (copy
`bench/` over if older).
`--before-env`/`--after-env NAME=VALUE` (repeatable) set a server's environment: with `--before .` the
same code is measured under two settings.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import run

OPS = tuple(name for name, _ in run.OPERATIONS)


def start(side: str, root: Path, workdir: Path, server_prefix, extra_env: dict) -> tuple:
    run.ROOT = root  # where the seeding and gunicorn run (module global of bench.run)
    (workdir / side).mkdir()
    database = run.SQLiteDatabase(workdir / side)
    env = {**run.server_env(database.url), **extra_env}
    state_path = workdir / side / "state.json"
    run.seed("base", env, state_path, projects=1000)
    run.seed("audit", env, state_path, rows=10_000)
    state = json.loads(state_path.read_text())
    server = run.Server(env, server_prefix, workdir / side / "server.log")
    server.start()
    token = run.login(server, state)
    run.warm_up(server, token, state)
    return server, token, state


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the other checkout (e.g. a git worktree of the old commit)")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    extra_env = {"before": dict(item.split("=", 1) for item in args.before_env),
                 "after": dict(item.split("=", 1) for item in args.after_env)}
    ops = args.ops.split(",")
    if "health" not in ops:
        ops.insert(0, "health")
    server_prefix, load_prefix, note = run.pinning()
    print(f"pinning: {note}", flush=True)
    here = run.ROOT
    sides = {"before": Path(args.before).resolve(), "after": here}
    servers = {}
    with tempfile.TemporaryDirectory(prefix="cc-compare-") as workdir:
        workdir = Path(workdir)
        try:
            for side, root in sides.items():
                servers[side] = start(side, root, workdir, server_prefix, extra_env[side])
            run.ROOT = here
            results = {(side, op): [] for side in sides for op in ops}
            for round_number in range(args.rounds):
                order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
                for op in ops:
                    for side in order:
                        server, token, state = servers[side]
                        text = run.operation_scripts(token, state, tag=f"{side}-{round_number}-{time.time_ns()}")[op]
                        result = run.wrk(server, text, connections=8, duration=args.seconds, load_prefix=load_prefix,
                                         workdir=workdir, name=op)
                        results[(side, op)].append(result)
        finally:
            for server, _, _ in servers.values():
                server.stop()
    print(f"{'operation':<15} {'side':<7} {'req/s':>7} {'CPU ms':>7} {'/health':>8} {'p99 ms':>7}  req/s of each round")
    for op in ops:
        for side in sides:
            runs = results[(side, op)]
            health = results[(side, "health")]
            ratios = [r["rps"] / h["rps"] for r, h in zip(runs, health)]
            print(f"{op:<15} {side:<7} {statistics.median(r['rps'] for r in runs):7.1f} "
                  f"{statistics.median(r['worker_cpu_ms'] for r in runs):7.2f} {statistics.median(ratios):8.3f} "
                  f"{statistics.median(r['p99_ms'] for r in runs):7.1f}  "
                  f"{[r['rps'] for r in runs]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
