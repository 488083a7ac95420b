"""Transitions per second with and without the audit hash chain, on a throwaway SQLite database.

    .venv/bin/python -m bench.chain_overhead [--transitions 500] [--rounds 3]
    SQLITE_SYNCHRONOUS=OFF .venv/bin/python -m bench.chain_overhead   # without fsync: the CPU cost alone

Never touches the configured database: it migrates a temporary SQLite file and copies it per run.
"Without the chain" replaces audit.integrity.seal with a stub that hands out a counter and fixed
hashes (no head read, no hashing, no lock), so the difference is the chain's whole cost per row.
"""

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def _setup(workdir: Path) -> Path:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'template.sqlite3'}"
    os.environ.setdefault("DEBUG", "1")  # the settings refuse to start without SECRET_KEY otherwise
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connections

    connections.close_all()
    return workdir / "template.sqlite3"


@contextmanager
def _database_copy(template: Path, name: str):
    from django.db import connections

    target = template.with_name(name)
    shutil.copyfile(template, target)
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = str(target)
    try:
        yield
    finally:
        connection.close()


@contextmanager
def _chain_disabled():
    from audit import integrity

    counter = itertools.count(1)
    original = integrity.seal

    def unchained(entry, *, using="default"):
        entry.seq, entry.prev_hash, entry.entry_hash = next(counter), "-", "-"

    integrity.seal = unchained
    try:
        yield
    finally:
        integrity.seal = original


def _transitions_per_second(count: int) -> float:
    from accounts.models import User
    from commandcentral.core.transitions import perform_transition
    from projects.services import project_create

    owner = User.objects.create_user(email="bench@example.com", password="bench-password-123", name="Bench")
    project = project_create(actor=owner, name="Benchmark")
    perform_transition(project, "activate", actor=owner)
    return _timed(count, lambda n: perform_transition(project, "pause" if n % 2 == 0 else "resume", actor=owner, rationale=f"run {n}"))


def _appends_per_second(count: int) -> float:
    from commandcentral.core.recording import record_event

    return _timed(count, lambda n: record_event(event_type="auth_login", event_name="auth.login", extra={"n": n}))


def _timed(count: int, step) -> tuple[float, float]:
    """(operations per wall-clock second, per CPU second of this process): the second ignores other load."""
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        step(n)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def _seal_cost(count: int) -> float:
    """Microseconds per row for what the chain adds to an append: the head read and the hash."""
    from django.db import transaction

    from audit import integrity
    from audit.models import AuditEntry
    from commandcentral.core.recording import record_event

    sample = record_event(event_type="auth_login", event_name="auth.login", extra={"n": 1, "list": [1, 2, 3]})
    probe = AuditEntry(**{name: getattr(sample, name) for name in integrity.HASHED_FIELDS})
    with transaction.atomic():
        started = time.perf_counter()
        for _ in range(count):
            integrity.seal(probe)
        return (time.perf_counter() - started) / count * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cc-bench-chain-") as workdir:
        template = _setup(Path(workdir))
        results = {("transitions", True): [], ("transitions", False): [], ("appends", True): [], ("appends", False): []}
        run = itertools.count()
        for round_number in range(args.rounds):
            # Interleaved, alternating which goes first, so drift in machine load hits both alike.
            for chained in (True, False) if round_number % 2 == 0 else (False, True):
                for kind, measure in (("transitions", _transitions_per_second), ("appends", _appends_per_second)):
                    with _database_copy(template, f"run-{next(run)}.sqlite3"):
                        if chained:
                            results[(kind, chained)].append(measure(args.transitions))
                        else:
                            with _chain_disabled():
                                results[(kind, chained)].append(measure(args.transitions))
        with _database_copy(template, "seal.sqlite3"):
            seal_microseconds = _seal_cost(2000)
    synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    print(f"SQLite (WAL, synchronous={synchronous}), {args.transitions} per run, median of {args.rounds} rounds:")
    print(f"  the chain's own work (head read + hash) per row: {seal_microseconds:.0f} µs")
    for kind in ("transitions", "appends"):
        for clock, index in (("wall", 0), ("cpu", 1)):
            chained, plain = (statistics.median(run[index] for run in results[(kind, flag)]) for flag in (True, False))
            print(
                f"  {kind:<11} per {clock} second: with chain {chained:8.1f}   without {plain:8.1f}   "
                f"{(1 - chained / plain) * 100:+5.1f}% slower"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
