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


# Where a request's time goes, in parts that do not overlap: each sample belongs to the part of the
# *deepest* frame on its stack that names one (so "SQL: the database itself" inside a seal counts as SQL,
# not as the seal). (part, function name, file path ending); checked in this order at each frame.
COST_PARTS = (
    ("commit (SQLite: the WAL fsync)", "_commit", "django/db/backends/base/base.py"),
    ("SQL: the database itself", "execute", "django/db/backends/sqlite3/base.py"),
    ("SQL: the database itself", "execute", "django/db/backends/postgresql/base.py"),
    ("SQL: the database itself", "execute", "psycopg/cursor.py"),
    ("SQL: compiling queries", "as_sql", "django/db/models/sql/compiler.py"),
    ("SQL: compiling queries", "pre_sql_setup", "django/db/models/sql/compiler.py"),
    ("SQL: cursor wrappers (Django, metrics)", "execute", "django/db/backends/utils.py"),
    ("SQL: cursor wrappers (Django, metrics)", "executemany", "django/db/backends/utils.py"),
    ("SQL: rows to objects", "from_db", "django/db/models/base.py"),
    ("SQL: rows to objects", "results_iter", "django/db/models/sql/compiler.py"),
    ("transaction, savepoints", "__enter__", "django/db/transaction.py"),
    ("transaction, savepoints", "__exit__", "django/db/transaction.py"),
    ("ledger: sealing after commit", "seal_pending", "audit/ledger/sequencer.py"),
    ("ledger: sealing after commit", "run_and_clear_commit_hooks", "django/db/backends/base/base.py"),
    ("audit row: auditlog's diff", "model_instance_diff", "auditlog/diff.py"),
    ("audit row: fields and context", "_fill_derived_fields", "audit/models.py"),
    ("audit row: fields and context", "record_event", "core/recording.py"),
    ("audit row: fields and context", "log_create", "auditlog/models.py"),
    ("audit row: fields and context", "_create_log_entry", "auditlog/receivers.py"),
    ("model instances (__init__, copy)", "__init__", "django/db/models/base.py"),
    ("model instances (__init__, copy)", "copy", "copy.py"),
    ("model save() machinery", "save_base", "django/db/models/base.py"),
    ("model save() machinery", "save", "django_fsm/__init__.py"),
    ("state machine: guards, allowed transitions", "allowed_specs", "core/transitions.py"),
    ("state machine: guards, allowed transitions", "ensure_allowed", "core/transitions.py"),
    ("state machine: guards, allowed transitions", "body", "core/api/governed.py"),
    ("visibility and role", "visible_project", "core/access.py"),
    ("visibility and role", "role_of", "core/access.py"),
    ("JWT authentication (token, user row)", "perform_authentication", "rest_framework/views.py"),
    ("throttles and permissions", "check_throttles", "rest_framework/views.py"),
    ("throttles and permissions", "check_permissions", "rest_framework/views.py"),
    ("request body: parsing, validation", "data", "rest_framework/request.py"),
    ("request body: parsing, validation", "is_valid", "rest_framework/serializers.py"),
    ("response: serializing", "data", "rest_framework/serializers.py"),
    ("response: serializing", "to_representation", "rest_framework/serializers.py"),
    ("response: rendering JSON", "finalize_response", "rest_framework/views.py"),
    ("response: rendering JSON", "rendered_content", "rest_framework/response.py"),
    ("signals (other receivers)", "send", "django/dispatch/dispatcher.py"),
    ("request logging (django-structlog)", "prepare", "django_structlog/middlewares/request.py"),
    ("request logging (django-structlog)", "handle_response", "django_structlog/middlewares/request.py"),
    ("request logging (django-structlog)", "log", "structlog/_native.py"),
    ("metrics (django-prometheus middleware)", "process_request", "django_prometheus/middleware.py"),
    ("metrics (django-prometheus middleware)", "process_response", "django_prometheus/middleware.py"),
    ("security headers (CSP, CORS, HSTS, frame)", "process_response", "csp/middleware.py"),
    ("security headers (CSP, CORS, HSTS, frame)", "process_response", "django/middleware/security.py"),
    ("security headers (CSP, CORS, HSTS, frame)", "process_response", "django/middleware/clickjacking.py"),
    ("security headers (CSP, CORS, HSTS, frame)", "__call__", "corsheaders/middleware.py"),
    ("sessions, CSRF, messages (page middleware)", "process_view", "django/middleware/csrf.py"),
    ("sessions, CSRF, messages (page middleware)", "process_request", "django/contrib/sessions/middleware.py"),
    ("sessions, CSRF, messages (page middleware)", "process_response", "django/contrib/sessions/middleware.py"),
    ("sessions, CSRF, messages (page middleware)", "process_request", "django/contrib/messages/middleware.py"),
    ("sessions, CSRF, messages (page middleware)", "process_response", "django/contrib/messages/middleware.py"),
    ("sessions, CSRF, messages (page middleware)", "process_response", "django/middleware/csrf.py"),
    ("request and audit context (client IP, actor)", "__call__", "core/request_context.py"),
    ("view call: Django's view middleware hooks", "_get_response", "django/core/handlers/base.py"),
    ("DRF dispatch (request, negotiation, view)", "dispatch", "rest_framework/views.py"),
    ("URL resolving", "resolve_request", "django/core/handlers/base.py"),
    ("middleware (the rest of the stack)", "get_response", "django/core/handlers/base.py"),
    ("WSGI handler (request and response objects)", "__call__", "django/core/handlers/wsgi.py"),
)


def cost_breakdown(root, *, requests: int) -> str:
    """The profile's time split into COST_PARTS, with each part's share and its ms per request."""
    parts: dict[str, float] = {}
    stack = [(root, "the profiler's own loop")]
    while stack:
        frame, part = stack.pop()
        if not frame.function.startswith("["):
            path = frame.file_path or ""
            for name, function, ending in COST_PARTS:
                if frame.function == function and path.endswith(ending):
                    part = name
                    break
        own_time = frame.time - sum(child.time for child in frame.children)
        parts[part] = parts.get(part, 0.0) + own_time
        stack.extend((child, part) for child in frame.children)
    total = root.time or 1.0
    lines = [f"  {'share':>6} {'ms/req':>7}  part (profiled time; the profiler adds its own overhead)"]
    for name, spent in sorted(parts.items(), key=lambda item: -item[1]):
        lines.append(f"  {spent / total:6.1%} {spent / requests * 1000:7.3f}  {name}")
    return "\n".join(lines)


def versus_health(app, op: str, state: dict, token: str, *, batches: int, batch: int) -> None:
    """CPU of `op` against /health's, batch by batch, alternating: the machine's speed drifts by tens of
    percent within minutes on a shared VM, but two neighbouring batches see the same speed, so the
    median of their ratios is steady where either CPU figure alone is not. Python function calls per
    request (counted with sys.setprofile over one batch) do not move at all."""
    import statistics

    for name in ("health", op):
        for method, path, body in _calls(name, state, 20):  # warm-up
            _request(app, method, path, token=token, body=body)
    ratios, health_ms, op_ms = [], [], []
    start = 20
    for _ in range(batches):
        spent = {}
        for name in ("health", op):
            calls = list(_calls(name, state, batch, start=start))
            cpu = time.process_time()
            for method, path, body in calls:
                _request(app, method, path, token=token, body=body)
            spent[name] = (time.process_time() - cpu) / batch
        start += batch
        health_ms.append(spent["health"] * 1000)
        op_ms.append(spent[op] * 1000)
        ratios.append(spent["health"] / spent[op])
    counted = [0]

    def count(frame, event, arg):
        if event == "call":
            counted[0] += 1

    # The least of four batches of 50: a batch that met the ledger's seal after a commit (every
    # AUDIT_SEAL_MIN_INTERVAL) counts the seal's calls too.
    fewest = float("inf")
    for _ in range(4):
        calls = list(_calls(op, state, 50, start=start))
        start += 50
        counted[0] = 0
        sys.setprofile(count)
        for method, path, body in calls:
            _request(app, method, path, token=token, body=body)
        sys.setprofile(None)
        fewest = min(fewest, counted[0])
    counted[0] = fewest
    print(f"{op:<18} health/op CPU ratio median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max "
          f"{max(ratios):.3f}, {batches} batches of {batch})  cpu ms: op {statistics.median(op_ms):.2f}, health "
          f"{statistics.median(health_ms):.2f}  python calls/request {counted[0] / 50:.0f}", flush=True)


def call_tree(app, op: str, state: dict, token: str, *, count: int, requests: int = 50) -> str:
    """The functions under which the most Python calls happen, per request: each call counts once for
    every distinct function on its stack. Deterministic (the same figures on a busy or a quiet
    machine), so it shows where Python work goes when timings are too noisy to compare."""
    for method, path, body in _calls(op, state, 20, start=10_000):  # warm-up
        _request(app, method, path, token=token, body=body)
    inclusive: dict = {}
    total = [0]

    def count_call(frame, event, arg):
        if event != "call":
            return
        total[0] += 1
        seen = set()
        while frame is not None:
            code = frame.f_code
            if code not in seen:
                seen.add(code)
                inclusive[code] = inclusive.get(code, 0) + 1
            frame = frame.f_back

    # The least of four batches, as in versus_health: a batch that met the ledger's seal after a
    # commit counts the seal's calls too.
    fewest = None
    for batch in range(4):
        inclusive.clear()
        total[0] = 0
        calls = list(_calls(op, state, requests, start=10_020 + batch * requests))
        sys.setprofile(count_call)
        for method, path, body in calls:
            _request(app, method, path, token=token, body=body)
        sys.setprofile(None)
        if fewest is None or total[0] < fewest[0]:
            fewest = (total[0], dict(inclusive))
    total[0], inclusive = fewest
    lines = [f"{op}: {total[0] / requests:.0f} Python calls per request; under each function (inclusive):"]
    for code, calls_under in sorted(inclusive.items(), key=lambda item: -item[1])[:count]:
        where = code.co_filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        lines.append(f"  {calls_under / requests:8.0f}  {code.co_name} ({where}:{code.co_firstlineno})")
    return "\n".join(lines)


def top_functions(root, count: int) -> str:
    """The functions with the largest inclusive share of a pyinstrument tree: a function's time counts
    once per stack, however often it recurses, so the shares of nested functions overlap."""
    inclusive: dict[str, float] = {}
    own: dict[str, float] = {}
    stack = [(root, frozenset(), "")]
    while stack:
        frame, above, parent = stack.pop()
        if frame.function.startswith("["):  # pyinstrument's "[self]" and the like: the parent's own time
            name, here = parent, above
        else:
            name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
            here = above | {name}
        own_time = frame.time - sum(child.time for child in frame.children)
        own[name] = own.get(name, 0.0) + own_time
        for function in here:
            inclusive[function] = inclusive.get(function, 0.0) + own_time
        stack.extend((child, here, name) for child in frame.children)
    total = root.time or 1.0
    lines = [f"  {'incl':>6} {'own':>6}  function"]
    for name, spent in sorted(inclusive.items(), key=lambda item: -item[1])[:count]:
        lines.append(f"  {spent / total:6.1%} {own.get(name, 0.0) / total:6.1%}  {name}")
    return "\n".join(lines)


def prepare(url: str, workdir: Path, *, audit_rows: int, **settings_env) -> tuple:
    """Seed a throwaway database at `url` and load the WSGI application on it with the bench server's
    settings (plus `settings_env`): (app, seeded state, an access token of the bench user)."""
    env = server_env(url)
    state_path = workdir / "state.json"
    seed("base", env, state_path, projects=1000)
    seed("audit", env, state_path, rows=audit_rows)
    state = json.loads(state_path.read_text())
    os.environ.update(env)
    os.environ.update(settings_env)
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("BENCH_SETTINGS", "commandcentral.settings")
    sys.path.insert(0, str(ROOT))
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    return app, state, str(AccessToken.for_user(User.objects.get(email=state["email"])))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", default=",".join(OPS[:6]))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="the best (least disturbed) round is reported")
    parser.add_argument("--audit-rows", type=int, default=10_000)
    parser.add_argument("--html", action="store_true", help="write pyinstrument HTML per operation to bench-results/")
    parser.add_argument("--text", action="store_true", help="print pyinstrument's text profile per operation")
    parser.add_argument("--top", type=int, default=0,
                        help="print the N functions with the largest inclusive share of the time (pyinstrument)")
    parser.add_argument("--costs", action="store_true",
                        help="print where a request's time goes, in disjoint parts with their shares (pyinstrument)")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top functions by own time")
    parser.add_argument("--cprofile-dump", default="", help="with --cprofile: also write the pstats file, {op} in the name")
    parser.add_argument("--call-tree", type=int, default=0, metavar="N",
                        help="print the N functions under which the most Python calls happen per request "
                             "(deterministic, unlike the timings)")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request per operation")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--versus-health", action="store_true",
                        help="alternate batches of /health and each operation; print the median of the CPU ratios "
                             "health/operation (the bench's req/s ratio without the server) and Python calls per request")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cc-profile-"))
    # The call tree counts the request's own work: the ledger's seal after commit, which under steady
    # traffic runs on the request's thread twice a second (and under the tracer's slowdown in every
    # batch), is held off as in bench.instructions.
    held_off = {"AUDIT_SEAL_MIN_INTERVAL": "1000000"} if args.call_tree else {}
    app, state, token = prepare(args.database_url or f"sqlite:///{workdir / 'profile.sqlite3'}", workdir,
                                audit_rows=args.audit_rows, **held_off)
    from django.db import connection

    queries = [0]

    def count_queries(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    # Django empties connection.queries at every request start; a wrapper counts across requests.
    connection.execute_wrappers.append(count_queries)
    if args.call_tree:
        for op in args.op.split(","):
            print(call_tree(app, op, state, token, count=args.call_tree), flush=True)
        return 0
    if args.versus_health:
        for op in args.op.split(","):
            versus_health(app, op, state, token, batches=args.rounds, batch=args.requests)
        return 0
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
        elif args.html or args.text or args.top or args.costs:
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
            if args.cprofile_dump:
                profiler.dump_stats(args.cprofile_dump.format(op=op))
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        elif profiler is not None:
            profiler.stop()
            if args.html:
                RESULTS_DIR.mkdir(exist_ok=True)
                target = RESULTS_DIR / f"profile-{op}.html"
                target.write_text(profiler.output_html())
                print(f"  profile: {target.relative_to(ROOT)}")
            if args.costs:
                print(cost_breakdown(profiler.last_session.root_frame(), requests=args.requests * args.rounds))
            if args.top:
                print(top_functions(profiler.last_session.root_frame(), args.top))
            if args.text:
                print(profiler.output_text(unicode=False, color=False, show_all=True, time="percent_of_total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
