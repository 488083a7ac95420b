"""Profile one benchmark operation in-process: the WSGI app called directly, no server, no network.

    .venv/bin/python -m bench.profile [--op list_projects,...] [--requests 300] [--html] [--database-url URL]

Seeds a throwaway SQLite database (or uses --database-url, e.g. a throwaway PostgreSQL database you
created), then for each operation times --requests calls of the WSGI application with the same
settings as bench.run's server, and prints CPU ms and wall ms per request (best of --rounds) and the SQL
queries per request. With --html it also writes a pyinstrument profile per operation to bench-results/. Numbers
here are per request on one core, independent of the load generator, so a change can be judged on a
busy machine where wrk's figures move with the neighbours.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .run import RESULTS_DIR, ROOT, seed, server_env

OPS = ("health", "list_projects", "get_project", "list_events", "create_project", "transition", "filter_project",
       "filter_event_type", "filter_actor")


def _request(app, method: str, path: str, *, token: str | None, body: bytes = b"") -> int:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.version": (1, 0), "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    status = []
    result = app(environ, lambda s, headers, exc_info=None: status.append(s))
    for _ in result:
        pass
    if hasattr(result, "close"):
        result.close()
    return int(status[0].split()[0])


def _calls(op: str, state: dict, count: int, start: int = 0):
    """(method, path, body) for calls start..start+count of `op`; transitions alternate pause/resume over a pool."""
    projects, active = state["projects"], state["active_projects"][:-1]
    for n in range(start, start + count):
        if op == "health":
            yield "GET", "/health", b""
        elif op == "list_projects":
            yield "GET", "/api/v1/projects/?limit=50", b""
        elif op == "get_project":
            yield "GET", f"/api/v1/projects/{projects[n % 200]}/", b""
        elif op == "list_events":
            yield "GET", "/api/v1/events/?limit=50", b""
        elif op == "create_project":
            yield "POST", "/api/v1/projects/", json.dumps({"name": f"Profiled {time.time_ns()}"}).encode()
        elif op == "transition":
            name = "pause" if (n // len(active)) % 2 == 0 else "resume"
            yield "POST", f"/api/v1/projects/{active[n % len(active)]}/{name}/", b'{"rationale":"bench"}'
        elif op == "filter_project":
            yield "GET", f"/api/v1/events/?project={projects[0]}&limit=50", b""
        elif op == "filter_event_type":
            yield "GET", "/api/v1/events/?event_type=transition_denied&limit=50", b""
        elif op == "filter_actor":
            yield "GET", f"/api/v1/events/?actor={state['actors'][1]}&limit=50", b""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default=",".join(OPS[:6]))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="the best (least disturbed) round is reported")
    parser.add_argument("--audit-rows", type=int, default=10_000)
    parser.add_argument("--html", action="store_true", help="write pyinstrument HTML per operation to bench-results/")
    parser.add_argument("--text", action="store_true", help="print pyinstrument's text profile per operation")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top functions by own time")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request per operation")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cc-profile-"))
    url = args.database_url or f"sqlite:///{workdir / 'profile.sqlite3'}"
    env = server_env(url)
    state_path = workdir / "state.json"
    seed("base", env, state_path, projects=1000)
    seed("audit", env, state_path, rows=args.audit_rows)
    state = json.loads(state_path.read_text())
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("BENCH_SETTINGS", "commandcentral.settings")
    sys.path.insert(0, str(ROOT))
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    app = get_wsgi_application()
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    token = str(AccessToken.for_user(User.objects.get(email=state["email"])))
    queries = [0]

    def count_queries(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    # Django empties connection.queries at every request start; a wrapper counts across requests.
    connection.execute_wrappers.append(count_queries)
    for op in args.op.split(","):
        for method, path, body in _calls(op, state, 10):  # warm-up, outside the measurement
            _request(app, method, path, token=token, body=body)
        if args.sql:
            from django.test.utils import CaptureQueriesContext

            method, path, body = next(_calls(op, state, 1, start=args.requests * args.rounds + 20))
            with CaptureQueriesContext(connection) as captured:
                _request(app, method, path, token=token, body=body)
            print(f"{op}: {method} {path}")
            for query in captured.captured_queries:
                print(f"  [{float(query['time']) * 1000:5.2f} ms] {query['sql'][:400]}")
        profiler = None
        if args.cprofile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        elif args.html or args.text:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        statuses: dict[int, int] = {}
        best_cpu = best_wall = float("inf")
        start = 10
        for _ in range(args.rounds):
            queries[0] = 0
            cpu, wall = time.process_time(), time.perf_counter()
            for method, path, body in _calls(op, state, args.requests, start=start):
                code = _request(app, method, path, token=token, body=body)
                statuses[code] = statuses.get(code, 0) + 1
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
            start += args.requests
        print(f"{op:<18} cpu {best_cpu / args.requests * 1000:6.2f} ms  wall {best_wall / args.requests * 1000:6.2f} ms  "
              f"queries {queries[0] / args.requests:5.1f}/request  statuses {statuses}", flush=True)
        if args.cprofile:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        elif profiler is not None:
            profiler.stop()
            if args.html:
                RESULTS_DIR.mkdir(exist_ok=True)
                target = RESULTS_DIR / f"profile-{op}.html"
                target.write_text(profiler.output_html())
                print(f"  profile: {target.relative_to(ROOT)}")
            if args.text:
                print(profiler.output_text(unicode=False, color=False, show_all=True, time="percent_of_total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
