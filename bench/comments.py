"""Writing and reading comments over HTTP, on a throwaway SQLite database.

    .venv/bin/python -m bench.comments [--comments 500] [--lists 200] [--projects 20]

1. Seeds it: bench.seed `base` (the bench user and its projects, through the services), then, over the
   API, one active decision on each of --projects active projects.
2. Starts gunicorn as bench.run does (ONE sync worker, DEBUG off, throttles out of the way, the comment
   throttle too; pinned to CPU 0 when taskset exists), logs in for a JWT and times, one request at a time
   (so the figures are latencies, not queueing):
   - POST /api/v1/decisions/{id}/comments/, --comments times spread over the decisions: plain Markdown,
     and every other one with an @mention of the bench user (resolved against the team);
   - GET /api/v1/decisions/{id}/comments/?limit=50, --lists times: the first page of a decision holding
     --comments / --projects comments (each rendered from Markdown and sanitized);
   - GET /api/v1/projects/{id}/comments/?limit=50 on a project with no project-level comments (the floor).
   Every answer must be 201 or 200.

Prints p50/p99 (ms) per operation and writes JSON to bench-results/comments-<time>.json and
comments-latest.json. Environment equivalents: BENCH_COMMENTS, BENCH_COMMENTS_LISTS, BENCH_COMMENTS_PROJECTS.
From another driver: `measured = comments.measure(comments.parse_args([]))`, then `comments.report(measured)`
(the table as text) and `comments.save(measured)`.
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

BODY = ("Looks right to me. **Two things** before we decide:\n\n1. the [runbook](https://example.com/runbook) needs "
        "the new limits;\n2. `max_connections` stays at 200 until the load test.\n\n> We can revisit in Q3.")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: list[float]) -> dict:
    return {"count": len(samples), "p50_ms": round(percentile(samples, 0.50), 2),
            "p99_ms": round(percentile(samples, 0.99), 2), "max_ms": round(max(samples), 2)}


def timed(server: run.Server, method: str, path: str, token: str, *, expect: int, body: dict | None = None):
    started = time.perf_counter()
    status, answer = server.call(method, path, token=token, body=body)
    elapsed = (time.perf_counter() - started) * 1000
    if status != expect:
        raise SystemExit(f"bench: {method} {path} answered {status}, expected {expect}:\n{server.log_tail()}")
    return elapsed, answer


def decisions_to_discuss(server: run.Server, token: str, projects: list[str]) -> list[str]:
    """One active decision per project, made over the API (not measured)."""
    ids = []
    for n, project in enumerate(projects):
        _, decision = timed(server, "POST", "/api/v1/decisions/", token, expect=201, body={
            "project": project, "title": f"Bench discussion {n:03d}", "question": "Which one?",
            "context": "Measured by bench.comments.", "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]})
        timed(server, "POST", f"/api/v1/decisions/{decision['id']}/activate/", token, expect=200, body={"rationale": "bench"})
        ids.append(decision["id"])
    return ids


def measure(options) -> dict:
    server_prefix, _, pinned = run.pinning()
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-comments-"))
    database = run.SQLiteDatabase(workdir)
    env = {**run.server_env(database.url), "THROTTLE_COMMENT": "1000000/s"}
    state_path = workdir / "state.json"
    try:
        run.log(f"seeding {options.projects} projects")
        run.seed("base", env, state_path, projects=options.projects)
        state = json.loads(state_path.read_text())
        server = run.Server(env, server_prefix, workdir / "gunicorn.log")
        server.start()
        try:
            token = run.login(server, state)
            _, me = timed(server, "GET", "/api/v1/auth/me/", token, expect=200)
            handle = me.get("handle") or "nobody"
            projects = state["active_projects"][:options.projects]
            decisions = decisions_to_discuss(server, token, projects)
            run.log(f"{options.comments} comments on {len(decisions)} decisions, then {options.lists} first pages")
            for decision in decisions[:2]:  # warm-up: imports, caches; not measured
                timed(server, "POST", f"/api/v1/decisions/{decision}/comments/", token, expect=201, body={"body": BODY})
                timed(server, "GET", f"/api/v1/decisions/{decision}/comments/?limit=50", token, expect=200)
            plain, mentioning = [], []
            for n in range(options.comments):
                decision = decisions[n % len(decisions)]
                body = BODY if n % 2 else f"@{handle} {BODY}"
                elapsed, answer = timed(server, "POST", f"/api/v1/decisions/{decision}/comments/", token, expect=201,
                                        body={"body": body})
                (mentioning if n % 2 == 0 else plain).append(elapsed)
                if n == 0 and handle != "nobody" and not answer.get("mentions"):
                    raise SystemExit(f"bench: the mention of @{handle} was not resolved: {answer}")
            decision_pages = [timed(server, "GET", f"/api/v1/decisions/{decisions[n % len(decisions)]}/comments/?limit=50",
                                    token, expect=200)[0] for n in range(options.lists)]
            project_pages = [timed(server, "GET", f"/api/v1/projects/{projects[n % len(projects)]}/comments/?limit=50",
                                   token, expect=200)[0] for n in range(options.lists)]
            results = {
                "create": summary(plain), "create_mention": summary(mentioning),
                "list_decision": summary(decision_pages), "list_project_empty": summary(project_pages),
            }
            problems = server.log_problems()
        finally:
            server.stop()
    finally:
        database.drop()
    per_decision = options.comments // max(1, len(decisions)) + 1
    return {"machine": run.machine(), "pinning": pinned, "backend": f"SQLite {database.version()}",
            "comments": options.comments, "comments_per_decision": per_decision, "results": results,
            "server_problems": problems[:20], "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def report(measured: dict) -> str:
    """The table as text (bench/__main__.py can add it to its own report)."""
    labels = {
        "create": "POST decisions/{id}/comments/ (Markdown)",
        "create_mention": "POST decisions/{id}/comments/ (Markdown + one @mention)",
        "list_decision": f"GET decisions/{{id}}/comments/?limit=50 (~{measured['comments_per_decision']} comments)",
        "list_project_empty": "GET projects/{id}/comments/?limit=50 (none)",
    }
    lines = [f"Comments over HTTP, gunicorn 1 sync worker, {measured['backend']} ({measured['pinning']})",
             f"{'operation':<66} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}"]
    for key, label in labels.items():
        row = measured["results"][key]
        lines.append(f"{label:<66} {row['count']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    lines += [f"server log: {line}" for line in measured["server_problems"]]
    return "\n".join(lines)


def save(measured: dict) -> None:
    run.save_results("comments", measured)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Comment create and list over HTTP (SQLite, 1 worker).")
    parser.add_argument("--comments", type=int, default=int(os.environ.get("BENCH_COMMENTS", 500)))
    parser.add_argument("--lists", type=int, default=int(os.environ.get("BENCH_COMMENTS_LISTS", 200)))
    parser.add_argument("--projects", type=int, default=int(os.environ.get("BENCH_COMMENTS_PROJECTS", 20)))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    measured = measure(parse_args(argv))
    save(measured)
    print("\n" + report(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
