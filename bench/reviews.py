"""Deciding a reviewed decision over HTTP, on a throwaway SQLite database.

    .venv/bin/python -m bench.reviews [--decisions 200] [--projects 20]

1. Seeds it: bench.seed `base` (the bench user and its projects, through the services), then, in a
   separate process (`python -m bench.reviews seed`), five reviewers on the team of each active project
   and, through the services, --decisions active decisions of each kind: `reviewed` names the five
   reviewers and needs three approvals, each reviewer has given a verdict (three approvals, one
   abstention, and one objection withdrawn by a later approval, so the latest-verdict rule reads more
   than one row per reviewer); `alone` names no reviewer (required_approvals 0, the owner decides
   alone), the baseline; `objected` is `reviewed` with the objection left standing.
2. Starts gunicorn as bench.run does (ONE sync worker, DEBUG off, throttles out of the way; pinned to
   CPU 0 when taskset exists), logs in for a JWT and times, one request at a time (so the figures are
   latencies, not queueing), POST /api/v1/decisions/{id}/decide/ on each decision once, the three
   kinds in turn: `reviewed` and `alone` must answer 200, `objected` 400 (a recorded transition_denied).

Prints p50/p99 (ms) per kind and writes JSON to bench-results/reviews-<time>.json and
reviews-latest.json. Environment equivalents: BENCH_REVIEWS_DECISIONS, BENCH_REVIEWS_PROJECTS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import run
from .comments import percentile  # one nearest-rank percentile for both benchmarks

REVIEWERS = 5
REQUIRED = 3


# --- Seeding (runs in its own process, with Django) ----------------------------------------------------


def seed_reviews(*, state_path: str, decisions: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
    import django

    django.setup()

    from accounts.models import User
    from core.transitions import perform_transition
    from decisions.services import decision_create, review_create
    from projects.models import MembershipRole, Project
    from projects.services import membership_add

    with open(state_path, encoding="utf-8") as handle:
        state = json.load(handle)
    owner = User.objects.get(pk=state["bench_user"])
    people = list(User.objects.filter(pk__in=state["actors"]).exclude(pk=owner.pk).order_by("email")[:REVIEWERS])
    if len(people) < REVIEWERS:
        raise SystemExit(f"bench: the base seed has {len(people)} other users; {REVIEWERS} reviewers are needed")
    projects = list(Project.objects.filter(pk__in=state["active_projects"]).order_by("slug"))
    for project in projects:
        for person in people:
            membership_add(project=project, actor=owner, user=person, role=MembershipRole.MEMBER)
    options = [{"id": "a", "label": "Option A"}, {"id": "b", "label": "Option B"}]
    kinds = {"reviewed": [], "alone": [], "objected": []}
    started = time.perf_counter()
    for n in range(decisions * 3):
        kind = ("reviewed", "alone", "objected")[n % 3]
        project = projects[n % len(projects)]
        reviewed = kind != "alone"
        decision = decision_create(actor=owner, project=project, title=f"Bench decision {n:05d}", question="Which?",
                                   options=options, reviewers=people if reviewed else (),
                                   required_approvals=REQUIRED if reviewed else 0)
        perform_transition(decision, "activate", actor=owner, rationale="bench seed")
        if reviewed:
            verdicts = ["approve", "approve", "approve", "abstain", "object"]
            for person, verdict in zip(people, verdicts):
                review_create(decision=decision, actor=person, verdict=verdict, option="a", comment="bench")
            if kind == "reviewed":  # the objection withdrawn: decide is allowed
                review_create(decision=decision, actor=people[-1], verdict="approve", option="a")
        kinds[kind].append(str(decision.pk))
    state["review_decisions"] = kinds
    with open(state_path, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    return {kind: len(ids) for kind, ids in kinds.items()} | {"seconds": round(time.perf_counter() - started, 1)}


# --- Measuring ----------------------------------------------------------------------------------------


def time_decides(server: run.Server, token: str, ids: list[str], *, expect: int) -> list[float]:
    samples = []
    for decision_id in ids:
        started = time.perf_counter()
        status, _ = server.call("POST", f"/api/v1/decisions/{decision_id}/decide/", token=token,
                                body={"selected_option": "a", "rationale": "bench"})
        samples.append((time.perf_counter() - started) * 1000)
        if status != expect:
            raise SystemExit(f"bench: decide answered {status}, expected {expect}:\n{server.log_tail()}")
    return samples


def summary(samples: list[float]) -> dict:
    return {"count": len(samples), "p50_ms": round(percentile(samples, 0.50), 2),
            "p99_ms": round(percentile(samples, 0.99), 2), "max_ms": round(max(samples), 2)}


def measure(options) -> dict:
    server_prefix, _, pinned = run.pinning()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-reviews-"))
    database = run.SQLiteDatabase(workdir)
    env = run.server_env(database.url)
    state_path = workdir / "state.json"
    try:
        run.log(f"seeding {options.projects} projects")
        run.seed("base", env, state_path, projects=options.projects)
        run.log(f"seeding decisions with {REVIEWERS} reviewers and their verdicts")
        seed_env = {**env, "SQLITE_SYNCHRONOUS": "OFF"}
        seeded = json.loads(run.run_python(["-m", "bench.reviews", "seed", "--state", str(state_path),
                                            "--decisions", str(options.decisions)], seed_env).strip().splitlines()[-1])
        state = json.loads(state_path.read_text())
        ids = state["review_decisions"]
        server = run.Server(env, server_prefix, workdir / "gunicorn.log")
        server.start()
        try:
            token = run.login(server, state)
            # Warm-up: the first requests pay imports and caches; two of each, not measured.
            warm = {kind: ids[kind][:2] for kind in ids}
            time_decides(server, token, warm["reviewed"], expect=200)
            time_decides(server, token, warm["alone"], expect=200)
            time_decides(server, token, warm["objected"], expect=400)
            # Interleaved, one of each kind in turn: a burst of load from elsewhere hits all three alike.
            samples = {"decide_reviewed": [], "decide_alone": [], "decide_refused_objection": []}
            for reviewed, alone, objected in zip(ids["reviewed"][2:], ids["alone"][2:], ids["objected"][2:]):
                samples["decide_reviewed"] += time_decides(server, token, [reviewed], expect=200)
                samples["decide_alone"] += time_decides(server, token, [alone], expect=200)
                samples["decide_refused_objection"] += time_decides(server, token, [objected], expect=400)
            results = {key: summary(values) for key, values in samples.items()}
            problems = server.log_problems()
        finally:
            server.stop()
    finally:
        database.drop()
    return {"machine": run.machine(), "pinning": pinned, "backend": f"SQLite {database.version()}",
            "reviewers": REVIEWERS, "required_approvals": REQUIRED, "seeded": seeded, "results": results,
            "server_problems": problems[:20], "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


LABELS = {
    "decide_reviewed": f"decide, {REVIEWERS} reviewers ({REQUIRED} approvals needed, met)",
    "decide_alone": "decide, no reviewers (the owner alone)",
    "decide_refused_objection": f"decide refused: {REVIEWERS} reviewers, a standing objection (400)",
}


def report(measured: dict) -> None:
    print(f"\nDecide over HTTP, gunicorn 1 sync worker, {measured['backend']} ({measured['pinning']})")
    print(f"{'operation':<66} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}")
    for key, label in LABELS.items():
        row = measured["results"][key]
        print(f"{label:<66} {row['count']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    reviewed, alone = measured["results"]["decide_reviewed"], measured["results"]["decide_alone"]
    print(f"reviews cost decide {reviewed['p50_ms'] - alone['p50_ms']:+.2f} ms at p50")
    for line in measured["server_problems"]:
        print(f"server log: {line}")
    run.save_results("reviews", measured)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Deciding a reviewed decision over HTTP (SQLite, 1 worker).")
    parser.add_argument("step", nargs="?", choices=["measure", "seed"], default="measure")
    parser.add_argument("--decisions", type=int, default=int(os.environ.get("BENCH_REVIEWS_DECISIONS", 200)),
                        help="decisions per kind: decided with reviewers, decided alone, refused")
    parser.add_argument("--projects", type=int, default=int(os.environ.get("BENCH_REVIEWS_PROJECTS", 20)))
    parser.add_argument("--state", help="seed: the JSON file shared with the measuring process")
    args = parser.parse_args(argv)
    if args.step == "seed":
        print(json.dumps(seed_reviews(state_path=args.state, decisions=args.decisions)))
        return 0
    report(measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
