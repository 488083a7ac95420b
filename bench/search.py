"""Global search (GET /api/v1/search/) on PostgreSQL at scale: the latency of typical palette queries.

    .venv/bin/python -m bench.search                 # 10,000 projects, 10,000 decisions, 1,000,000 audit rows
    .venv/bin/python -m bench.search --quick         # 1,000 / 1,000 / 10,000, 20 calls: under a minute
    .venv/bin/python -m bench.search --projects 5000 --decisions 20000 --rows 200000 --calls 200

PostgreSQL only (search ranks with full-text search there; SQLite's substring fallback is not what a
large deployment runs); skipped with a message when BENCH_POSTGRES_URL is unreachable. On a throwaway
`bench_search_<pid>` database, dropped at the end (`--keep cc_search_bench`: seeded once into that
database and kept; a later run with the same name and scale migrates it and measures again, no seeding):

1. **Seed.** Migrate (search's GIN and leaf-hash indexes included). Projects and decisions go in with
   multi-row INSERTs of values prepared by the model fields (they are not audit rows, and 10,000 of
   each through the services would take longer than everything measured): names, descriptions,
   questions and contexts are drawn from a Zipf-distributed vocabulary of 5,000 words, so some words
   are in a third of the decisions and most in a handful. A *member* owns 50 projects and is on the
   team of 50 more; an *operator* sees everything. Audit rows: bench.seed's `audit` step, the one bulk
   path (rows with their ledger queue entries, then sealed by the real sequencer: leaf indices and
   hashes are real). Then VACUUM/ANALYZE as autovacuum would (bench.seed.analyze).
2. **Measure**, in-process through the whole stack (Django's test client: middleware, session
   authentication, DRF, the view, JSON), one request at a time, for the operator and the member:
   `--calls` requests per query kind, each with another query of that kind, after 5 unmeasured ones;
   every answer must be 200 and, for the identifiers, hold the row asked for (the operator's).

Query kinds: a word of a decision's context (a mid-frequency word: in ~0.5–2% of decisions), a common
word (in a third of them: ranking reads many rows), two words with the last one half typed (the palette
while typing), a project name's first word as a 4-letter prefix, an audit row id (#123), a leaf index
(leaf 65), a leaf hash (64 hex digits) and an 8-hex-digit hash prefix.

Prints p50/p95 (ms) per kind and user; writes bench-results/search-<time>.json and search-latest.json.
Target: p50 ≤ 30 ms. From another driver: `measured = search.bench(search.parse_args([]))`, then
`search.report(measured)`. Environment equivalents: BENCH_SEARCH_PROJECTS, BENCH_SEARCH_DECISIONS,
BENCH_SEARCH_ROWS, BENCH_SEARCH_CALLS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import run

TARGET_P50_MS = 30.0
VOCABULARY = 5000
KINDS = ("context word", "common word", "typing: word + prefix", "project name prefix", "audit id", "leaf index",
         "leaf hash", "hash prefix (8 hex)")
BASE_WORDS = (
    "ledger budget migration database schedule backup release rollout pipeline deploy cluster storage queue "
    "latency capacity vendor contract review approval security audit compliance incident outage recovery "
    "network gateway billing invoice customer support onboarding training hiring roadmap quarter planning "
    "forecast revenue pricing discount partner integration platform service monitoring alerting logging "
    "metrics dashboard report analytics warehouse search index cache session token password encryption "
    "certificate firewall access permission role policy retention archive export import format schema "
    "version upgrade rollback testing staging production region failover replica shard partition cost"
).split()
# Made-up words of two to four syllables: ninety syllables, so that a four-letter prefix is shared by
# a few words, as in a real vocabulary (not by a tenth of it).
SYLLABLES = tuple(consonant + vowel for consonant in "bcdfghjklmnprstvz" for vowel in "aeiou")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--projects", type=int, default=int(env("BENCH_SEARCH_PROJECTS", "10000")))
    parser.add_argument("--decisions", type=int, default=int(env("BENCH_SEARCH_DECISIONS", "10000")))
    parser.add_argument("--rows", type=int, default=int(env("BENCH_SEARCH_ROWS", "1000000")), help="audit rows in total")
    parser.add_argument("--calls", type=int, default=int(env("BENCH_SEARCH_CALLS", "100")), help="timed requests per query kind and user")
    parser.add_argument("--quick", action="store_true", help="1,000 projects, 1,000 decisions, 10,000 audit rows, 20 calls")
    parser.add_argument("--postgres-url", default=env("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", metavar="DBNAME", default=env("BENCH_SEARCH_KEEP", ""),
                        help="seed into this database and keep it; a later run with the same name and scale measures it "
                             "again without seeding (1M audit rows take ~15 minutes to seed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the measuring process: its state file
    parser.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)  # the child: measure what --keep kept
    options = parser.parse_args(argv)
    if options.quick:
        options.projects, options.decisions, options.rows, options.calls = 1000, 1000, 10_000, 20
    return options


# --- The parent: a throwaway database, one child process that seeds and measures -------------------


def bench(options) -> dict:
    import psycopg

    started = time.monotonic()
    database = run.PostgresDatabase(options.postgres_url)
    database.dbname = options.keep or f"bench_search_{os.getpid()}"
    database.url = f"{options.postgres_url.rsplit('/', 1)[0]}/{database.dbname}"
    try:
        version = database.version()
        reuse = bool(options.keep) and database._admin(
            f"SELECT count(*) FROM pg_database WHERE datname = '{database.dbname}'")[0] == 1
    except psycopg.Error as error:
        return {"skipped": f"PostgreSQL unreachable at {options.postgres_url}: {error}"}
    run.log(f"search: PostgreSQL {version}, database {database.dbname}{' (kept, not seeded again)' if reuse else ''}: "
            f"{options.projects} projects, {options.decisions} decisions, {options.rows} audit rows, "
            f"{options.calls} calls per query kind")
    if not reuse:
        database.create()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-bench-search-") as tmp:
            state = Path(tmp) / "state.json"
            env = run.server_env(database.url)
            env["AUDIT_SIGNER_STATE"] = str(Path(tmp) / "audit-signer.state")
            args = ["-m", "bench.search", "--child", str(state), "--projects", str(options.projects),
                    "--decisions", str(options.decisions), "--rows", str(options.rows), "--calls", str(options.calls)]
            result = json.loads(run.run_python(args + (["--reuse"] if reuse else []), env).strip().splitlines()[-1])
    finally:
        if not options.keep:
            database.drop()
    result.update(postgres=version, seconds=round(time.monotonic() - started, 1), load_average=round(os.getloadavg()[0], 1),
                  started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return result


def report(result: dict) -> str:
    if "skipped" in result:
        return f"Search (bench.search): skipped: {result['skipped']}"
    scale = result["scale"]
    lines = [
        f"Search (bench.search): GET /api/v1/search/ in-process (Django test client, full stack), PostgreSQL "
        f"{result['postgres']}; {scale['projects']:,} projects, {scale['decisions']:,} decisions, "
        f"{scale['audit_rows']:,} audit rows ("
        f"{'a kept database' if result.get('reused') else 'seeded in %.0f s' % result['seed_seconds']}); {result['calls']} calls per cell",
        "",
        "| query | operator p50 / p95 ms | member p50 / p95 ms | Python CPU p50 ms (op. / member) | results (operator) |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS:
        cells = [result["timings"][who][kind] for who in ("operator", "member")]
        lines.append(f"| {kind} | {cells[0]['p50_ms']:.1f} / {cells[0]['p95_ms']:.1f} | "
                     f"{cells[1]['p50_ms']:.1f} / {cells[1]['p95_ms']:.1f} | "
                     f"{cells[0]['python_cpu_p50_ms']:.1f} / {cells[1]['python_cpu_p50_ms']:.1f} | {cells[0]['mean_results']:.1f} |")
    worst = max(result["timings"][who][kind]["p50_ms"] for who in ("operator", "member") for kind in KINDS)
    verdict = "met" if worst <= TARGET_P50_MS else "MISSED"
    lines += ["", f"target p50 ≤ {TARGET_P50_MS:.0f} ms for every query: {verdict} (slowest p50 {worst:.1f} ms); "
              f"load average at the end {result.get('load_average', '?')} on {os.cpu_count()} CPUs (wall time includes "
              f"waiting for a CPU; Python CPU is this process's own work, PostgreSQL's is apart)"]
    return "\n".join(lines)


def save(result: dict) -> Path:
    return run.save_results("search", result)


def main(argv=None) -> int:
    options = parse_args(argv)
    if options.child:
        return child(options)
    result = bench(options)
    if "skipped" not in result:
        out = save(result)
        print(report(result))
        print(f"\nResults: {out.relative_to(run.ROOT)}   total time {result['seconds']:.0f} s")
    else:
        print(report(result))
    return 0


# --- The child: seed, then measure ------------------------------------------------------------------


def _vocabulary(rng: random.Random) -> list[str]:
    words, seen = list(BASE_WORDS), set(BASE_WORDS)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    rng.shuffle(words)  # which words are frequent is random, not the list's order
    return words


class Text:
    """Words drawn with Zipf frequencies: rank r is drawn in proportion to 1/(r+1)."""

    def __init__(self, rng: random.Random, words: list[str]):
        self.rng, self.words = rng, words
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))

    def __call__(self, count: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))

    def title(self, count: int) -> str:
        return self(count).capitalize()


def _insert(connection, model, instances, *, batch: int = 1000) -> None:
    """Multi-row INSERTs of `instances`, each value prepared by its field as save() would (auto fields
    left to the database)."""
    from django.db.models import AutoField, BigAutoField

    fields = [f for f in model._meta.concrete_fields if not isinstance(f, (AutoField, BigAutoField))]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for first in range(0, len(instances), batch):
            chunk = instances[first:first + batch]
            values = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in chunk for f in fields]
            cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([one] * len(chunk))}", values)


def seed(options, rng: random.Random) -> dict:
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import User
    from bench import seed as audit_seed
    from decisions.models import Decision
    from projects.models import Membership, MembershipRole, Project

    call_command("migrate", verbosity=0, interactive=False)
    text = Text(rng, _vocabulary(rng))
    operator = User.objects.create_user("search-operator@example.com", audit_seed.BENCH_PASSWORD, name="Search Operator", is_staff=True)
    member = User.objects.create_user("search-member@example.com", audit_seed.BENCH_PASSWORD, name="Search Member")
    others = [User.objects.create_user(f"search-owner{n}@example.com", audit_seed.BENCH_PASSWORD, name=f"Owner {n}") for n in range(9)]
    with transaction.atomic():
        projects = []
        for n in range(options.projects):
            owner = member if n % 100 == 0 else others[n % len(others)]
            projects.append(Project(name=f"{text.title(2)} {n:05d}", slug=f"search-bench-{n:05d}",
                                    description=text(rng.randint(10, 40)), owner=owner, state="active"))
        _insert(connection, Project, projects)
        _insert(connection, Membership, [Membership(project=p, user=member, role=MembershipRole.MEMBER)
                                         for n, p in enumerate(projects) if n % 100 == 50])
        decisions = []
        for n in range(options.decisions):
            project = projects[n % len(projects)]
            options_list = [{"id": letter, "label": text.title(rng.randint(1, 3)), "description": text(8)} for letter in "ab"]
            decisions.append(Decision(project=project, title=text.title(rng.randint(2, 5)), question=text(12) + "?",
                                      context=text(rng.randint(30, 90)), options=options_list, tags=[text(1)],
                                      created_by=project.owner))
        _insert(connection, Decision, decisions)
    state = Path(options.child)
    state.write_text(json.dumps({"projects": [str(p.pk) for p in projects], "actors": [str(u.pk) for u in [operator, member, *others]]}))
    audit = audit_seed.seed_audit(rows=options.rows, state_path=str(state))
    audit_seed.analyze()
    return {"operator": operator, "member": member, "text": text, "projects": projects, "audit": audit}


def kept(options) -> dict:
    """What seed() returned, read back from a database a run with --keep seeded (migrated again: a
    migration added since then applies). Refused unless it is that scale, fully seeded."""
    from django.core.management import call_command

    from accounts.models import User
    from audit.models import AuditEntry
    from decisions.models import Decision
    from projects.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    projects = list(Project.objects.filter(slug__startswith="search-bench-").order_by("slug"))
    scale = (len(projects), Decision.objects.count(), AuditEntry.objects.count())
    if scale[:2] != (options.projects, options.decisions) or scale[2] < options.rows:
        raise SystemExit(f"bench.search: the kept database holds {scale} (projects, decisions, audit rows), not "
                         f"{(options.projects, options.decisions, options.rows)}: drop it or pick another name")
    users = {u.email: u for u in User.objects.filter(email__in=["search-operator@example.com", "search-member@example.com"])}
    return {"operator": users["search-operator@example.com"], "member": users["search-member@example.com"],
            "text": None, "projects": projects, "audit": None}


def _frequencies(text: Text, decisions) -> dict:
    counts: dict[str, int] = {}
    for context in decisions:
        for word in set(context.split()):
            counts[word] = counts.get(word, 0) + 1
    return counts


def _queries(rng: random.Random, seeded: dict) -> dict:
    """Per kind, a function of the call number giving (q, what the operator's answer must hold or None)."""
    from audit.models import LedgerLeaf
    from decisions.models import Decision

    contexts = list(Decision.objects.values_list("context", flat=True))
    counts = _frequencies(seeded["text"], contexts)
    total = len(contexts)
    mid = sorted(w for w, c in counts.items() if 0.005 * total <= c <= 0.02 * total) or sorted(counts)
    common = sorted(w for w, c in counts.items() if c >= total / 3) or sorted(counts, key=counts.get)[-5:]
    names = [p.name.split()[0].lower() for p in seeded["projects"]]
    prefixes = sorted({name[:4] for name in names if len(name) >= 6})
    leaves = list(LedgerLeaf.objects.order_by("?").values_list("leaf_index", "entry_id", "leaf_hash")[:2000])
    pick = rng.choice
    return {
        "context word": lambda n: (pick(mid), None),
        "common word": lambda n: (pick(common), None),
        "typing: word + prefix": lambda n: (f"{pick(mid)} {pick(mid)[:4]}", None),
        "project name prefix": lambda n: (pick(prefixes), None),
        "audit id": lambda n: (lambda leaf: (f"#{leaf[1]}", str(leaf[1])))(pick(leaves)),
        "leaf index": lambda n: (lambda leaf: (f"leaf {leaf[0]}", str(leaf[1])))(pick(leaves)),
        "leaf hash": lambda n: (lambda leaf: (bytes(leaf[2]).hex(), str(leaf[1])))(pick(leaves)),
        "hash prefix (8 hex)": lambda n: (lambda leaf: (bytes(leaf[2]).hex()[:8], str(leaf[1])))(pick(leaves)),
    }


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def measure(options, rng: random.Random, seeded: dict) -> dict:
    from django.test import Client

    queries = _queries(rng, seeded)
    timings = {}
    for who in ("operator", "member"):
        client = Client()
        client.force_login(seeded[who])
        timings[who] = {}
        for kind in KINDS:
            samples, cpu, found = [], [], []
            for n in range(options.calls + 5):
                q, expected = queries[kind](n)
                started, started_cpu = time.perf_counter(), time.thread_time()
                response = client.get("/api/v1/search/", {"q": q})
                elapsed = (time.perf_counter() - started) * 1000
                elapsed_cpu = (time.thread_time() - started_cpu) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"bench.search: {q!r} answered {response.status_code}: {response.content[:300]!r}")
                results = response.json()["results"]
                if expected is not None and who == "operator" and expected not in {r["id"] for r in results if r["type"] == "event"}:
                    raise SystemExit(f"bench.search: {q!r} did not find audit row {expected}: {results}")
                if n >= 5:  # the first five of each kind warm it up
                    samples.append(elapsed)
                    cpu.append(elapsed_cpu)
                    found.append(len(results))
            timings[who][kind] = {"p50_ms": round(_percentile(samples, 0.5), 2), "p95_ms": round(_percentile(samples, 0.95), 2),
                                  "max_ms": round(max(samples), 2), "python_cpu_p50_ms": round(_percentile(cpu, 0.5), 2),
                                  "mean_results": round(sum(found) / len(found), 1)}
            run.log(f"search: {who:8} {kind:24} p50 {timings[who][kind]['p50_ms']:7.2f} ms  p95 {timings[who][kind]['p95_ms']:7.2f} ms")
    return timings


def child(options) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
    import django

    django.setup()
    from audit.models import AuditEntry

    rng = random.Random(20261207)
    started = time.perf_counter()
    seeded = kept(options) if options.reuse else seed(options, rng)
    seed_seconds = time.perf_counter() - started
    if not options.reuse:
        run.log(f"search: seeded in {seed_seconds:.0f} s (audit rows: insert {seeded['audit']['insert_seconds']} s, "
                f"seal {seeded['audit']['seal_seconds']} s)")
    timings = measure(options, rng, seeded)
    print(json.dumps({
        "scale": {"projects": options.projects, "decisions": options.decisions, "audit_rows": AuditEntry.objects.count()},
        "calls": options.calls, "reused": options.reuse, "seed_seconds": round(seed_seconds, 1), "audit_seed": seeded["audit"], "timings": timings,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
