"""A Redis outage degrades the cache and the API keeps serving. A database outage is a 503 with Retry-After, not a 500.

Redis down: the cache configured against a closed port (no Redis needed), except the recovery test,
which breaks and then heals connections to the real Redis and skips when there is none. Database
down: the default connection refuses to connect, through the whole request stack. Connection lost
during a request: a statement fails as psycopg reports it (on any database), and on PostgreSQL the
request's own backend is really terminated from a second connection.
"""

import io
import json
import logging
import socket
import uuid
from contextlib import contextmanager
from unittest import mock

import psycopg
import pytest
import redis
from django.core.cache import caches
from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError, connection, connections
from django.test import override_settings
from django.urls import reverse
from prometheus_client import REGISTRY

import commandcentral.cache
from accounts.tests.factories import PASSWORD
from accounts.throttles import LoginThrottle
from audit.models import AuditEntry
from commandcentral.cache import CACHE_DEGRADED
from commandcentral.database_outage import RETRY_AFTER_SECONDS
from projects.models import Project, ProjectState


def _redis_cache(location: str, **extra) -> dict:
    return {
        "default": {
            "BACKEND": "commandcentral.cache.FallbackRedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            **extra,
        }
    }


DEAD_REDIS = _redis_cache("redis://127.0.0.1:1/0")  # nothing listens on port 1: connection refused


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True)
def _fresh_circuits(monkeypatch):
    """Every test starts with Redis presumed up; an outage is per process, so it would outlive the test."""
    monkeypatch.setattr(commandcentral.cache, "_circuits", {})
    yield
    CACHE_DEGRADED.set(0)


@pytest.fixture
def dead_redis():
    with override_settings(CACHES=DEAD_REDIS):
        caches["default"]._fallback.clear()  # the per-process memory outlives override_settings
        yield


@pytest.fixture
def cache_log():
    """Lines the cache backend logs, through the configured JSON formatter."""
    logger = logging.getLogger("commandcentral.cache")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.getLogger("commandcentral").handlers[0].formatter)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # the test settings keep the site's loggers at WARNING
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def _login(api_client, email, password=PASSWORD):
    return api_client.post(reverse("api:auth-login"), {"email": email, "password": password}, format="json")


def _gauge() -> float | None:
    return REGISTRY.get_sample_value("commandcentral_cache_degraded")


# --- Redis down --------------------------------------------------------------------------------


def test_api_login_and_lists_keep_working_while_redis_is_down_with_one_warning(
    api_client, member, dead_redis, cache_log
):
    login = _login(api_client, member.email)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")
    lists = [api_client.get(reverse("api:project-list")).status_code for _ in range(3)]

    assert login.status_code == 200
    assert lists == [200, 200, 200]
    [warning] = cache_log()  # once for the outage, not once per request or per call
    assert warning["event"] == "cache_degraded" and warning["level"] == "warning"
    assert warning["server"] == "redis://127.0.0.1:1/0"
    assert "ConnectionError" in warning["error"]


def test_login_throttle_still_stops_the_eleventh_attempt_while_redis_is_down(
    api_client, member, dead_redis, monkeypatch
):
    # Rates are bound on the class at import (DRF #6030): patch the class, not the settings.
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "10/min"})

    statuses = [_login(api_client, member.email, "wrong").status_code for _ in range(11)]

    assert statuses == [401] * 10 + [429]
    assert int(_login(api_client, member.email, "wrong")["Retry-After"]) > 0


def test_a_dead_redis_is_left_alone_between_retries(api_client, member, dead_redis, monkeypatch):
    attempts = []
    connect = redis.connection.AbstractConnection.connect

    def counted_connect(self):
        attempts.append(self)
        return connect(self)

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", counted_connect)
    fallbacks_before = REGISTRY.get_sample_value("commandcentral_cache_fallbacks_total", {"operation": "get"}) or 0

    assert _login(api_client, member.email, "wrong").status_code == 401
    tried = len(attempts)
    statuses = [_login(api_client, member.email, "wrong").status_code for _ in range(5)]

    assert tried == 1  # the first throttle read found Redis down; the rest of the request did not ask again
    assert statuses == [401] * 5
    assert len(attempts) == tried  # within RETRY_SECONDS (5 s) no request waits on the dead server
    # Two throttles (anon, login) read their history on each of the 6 requests.
    fallbacks = REGISTRY.get_sample_value("commandcentral_cache_fallbacks_total", {"operation": "get"})
    assert fallbacks - fallbacks_before == 12


def test_ready_and_metrics_report_the_degraded_cache_and_keep_the_instance_in_rotation(client, db, dead_redis):
    ready = client.get("/ready")
    metrics = client.get("/metrics").content.decode()

    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "cache": "degraded", "ledger": "ok"}
    assert body["degraded"] == ["cache"]
    assert "failing" not in body
    assert "commandcentral_cache_degraded 1.0" in metrics.splitlines()
    assert 'commandcentral_cache_fallbacks_total{operation="set"}' in metrics


@pytest.mark.integration
@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379 to come back")
def test_the_cache_returns_to_redis_when_it_answers_again(client, db, cache_log):
    # RETRY_SECONDS=0: the next call after a failure tries Redis again, so the test need not wait.
    with override_settings(CACHES=_redis_cache("redis://127.0.0.1:6379/15", RETRY_SECONDS=0)):
        refused = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        with mock.patch.object(redis.connection.AbstractConnection, "connect", side_effect=refused):
            during = client.get("/ready")
            gauge_during = _gauge()
        after = client.get("/ready")
        gauge_after = _gauge()
        key = f"commandcentral:outage-test:{uuid.uuid4().hex}"  # its own: another run may share this Redis
        caches["default"].set(key, "in redis", timeout=10)
        stored = redis.Redis.from_url("redis://127.0.0.1:6379/15").exists(f":1:{key}")
        caches["default"].delete(key)

    assert (during.status_code, during.json()["checks"]["cache"]) == (200, "degraded")
    assert gauge_during == 1
    assert (after.status_code, after.json()["status"], after.json()["checks"]["cache"]) == (200, "ok", "ok")
    assert gauge_after == 0
    assert stored  # written to Redis again, where every worker reads it
    assert [(line["event"], line["level"]) for line in cache_log()] == [
        ("cache_degraded", "warning"),
        ("cache_recovered", "info"),
    ]


# --- Database down -----------------------------------------------------------------------------


def _database_refuses_connections():
    """The default database refuses every connection, as a stopped PostgreSQL server would."""
    refused = OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')
    return mock.patch.object(connections["default"], "ensure_connection", side_effect=refused)


@pytest.fixture
def database_down():
    with _database_refuses_connections():
        yield


def test_api_answers_503_with_retry_after_when_the_database_is_down(api_client, member):
    token = _login(api_client, member.email).json()["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    with _database_refuses_connections():
        listed = api_client.get(reverse("api:project-list"))  # JWT: the user is read from the database
        api_client.credentials()
        login = _login(api_client, member.email)

    for response in (listed, login):
        assert response.status_code == 503
        assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert response.json() == {"detail": "The database is unavailable; retry later.", "code": "database_unavailable"}
        assert "Connection refused" not in response.content.decode()  # details go to the log only


def test_ready_is_503_naming_the_database_when_it_refuses_connections(client, db, database_down):
    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["database", "ledger"]


def test_a_page_answers_503_with_retry_after_when_the_database_is_down(client, member, database_down):
    response = client.post(reverse("login"), {"username": member.email, "password": PASSWORD})

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "cannot reach its database" in response.content.decode()


def test_a_session_request_answers_503_when_a_middleware_meets_the_dead_database(client, member):
    # django_structlog's middleware reads the session's user before any view runs.
    client.force_login(member)
    client.raise_request_exception = False  # the error reaches handler500, which the test client would re-raise

    with _database_refuses_connections():
        api = client.get(reverse("api:project-list"))
        page = client.get(reverse("dashboard"))

    assert (api.status_code, api["Retry-After"], api.json()) == (
        503, str(RETRY_AFTER_SECONDS), {"detail": "The database is unavailable; retry later.", "code": "database_unavailable"}
    )
    assert (page.status_code, page["Retry-After"]) == (503, str(RETRY_AFTER_SECONDS))
    assert "cannot reach its database" in page.content.decode()


def _from_driver(django_error_class, driver_error):
    """What Django raises for a psycopg error: its own class of the same name, caused by the driver's."""
    error = django_error_class(*driver_error.args)
    error.__cause__ = driver_error
    return error


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("no such table: projects_project"),  # a missing migration, not an outage
        ProgrammingError('relation "projects_project" does not exist'),
        IntegrityError("UNIQUE constraint failed"),
        # The statement failed on a connection that is still there: a slow query, a misused cursor.
        _from_driver(OperationalError, psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        _from_driver(InterfaceError, psycopg.InterfaceError("the cursor is closed")),
    ],
    ids=["missing-table", "programming", "integrity", "statement-timeout", "closed-cursor"],
)
def test_a_query_error_from_a_database_that_answers_stays_a_500(api_client, member, error):
    api_client.force_authenticate(member)
    api_client.raise_request_exception = False

    with mock.patch("projects.api.ProjectViewSet.get_object", side_effect=error):
        response = api_client.get(reverse("api:project-detail", args=[uuid.uuid4()]))

    assert response.status_code == 500
    assert "Retry-After" not in response


# --- A connection lost during the request --------------------------------------------------------

# How psycopg reports a connection that ended: the server's farewell (57P01, 57P05, 08006), or libpq
# finding the socket closed (no SQLSTATE).
LOST = {
    "admin-shutdown": psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    "idle-session-timeout": psycopg.errors.IdleSessionTimeout("terminating connection due to idle-session timeout"),
    "connection-failure": psycopg.errors.ConnectionFailure("could not receive data from server"),
    "socket-closed": psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
}


@contextmanager
def _connection_lost_at(statement: str, driver_error):
    """The first statement starting with `statement` fails as psycopg reports a lost connection; yields
    the statements that ran before it, so a test can show the request had used its connection."""
    ran = []

    def execute(run, sql, params, many, context):
        if sql.startswith(statement):
            raise _from_driver(OperationalError, driver_error)
        ran.append(sql)
        return run(sql, params, many, context)

    with connections["default"].execute_wrapper(execute):
        yield ran


def _assert_503(response, *, api: bool):
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    if api:
        assert response.json() == {"detail": "The database is unavailable; retry later.", "code": "database_unavailable"}
    else:
        assert "cannot reach its database" in response.content.decode()


@pytest.mark.parametrize("lost", LOST.values(), ids=LOST.keys())
def test_an_api_read_whose_connection_is_lost_answers_503(api_client, member, project, lost):
    api_client.force_authenticate(member)
    api_client.raise_request_exception = False

    # The project is read, then the connection is lost as the member's role is looked up.
    with _connection_lost_at('SELECT "projects_membership"', lost) as ran:
        response = api_client.get(reverse("api:project-detail", args=[project.pk]))

    assert ran  # the connection had answered within this request
    _assert_503(response, api=True)
    assert str(lost) not in response.content.decode()


def test_a_transition_whose_connection_is_lost_answers_503_and_changes_nothing(api_client, owner, project):
    api_client.force_authenticate(owner)
    api_client.raise_request_exception = False
    rows = AuditEntry.objects.count()

    with _connection_lost_at('UPDATE "projects_project"', LOST["admin-shutdown"]) as ran:
        response = api_client.post(reverse("api:project-activate", args=[project.pk]), {"rationale": "go"},
                                   format="json")

    assert ran  # the project was read and locked, then the connection was lost
    _assert_503(response, api=True)
    assert Project.objects.get(pk=project.pk).state == ProjectState.PROPOSED
    assert AuditEntry.objects.count() == rows  # rolled back, and an outage is not a refusal to record


@pytest.mark.parametrize("lost", [LOST["admin-shutdown"], LOST["socket-closed"]],
                         ids=["admin-shutdown", "socket-closed"])
def test_a_page_whose_connection_is_lost_answers_the_503_page(client, member, project, lost):
    client.force_login(member)
    client.raise_request_exception = False

    # The session and the user are read first; the connection is lost as the project is.
    with _connection_lost_at('SELECT "projects_project"', lost) as ran:
        response = client.get(reverse("project_detail", args=[project.pk]))

    assert any("django_session" in sql for sql in ran)
    _assert_503(response, api=False)


@contextmanager
def _backend_terminated_at(statement: str):
    """Before the first statement starting with `statement`, a second connection terminates this
    request's PostgreSQL backend (pg_terminate_backend), as an operator, a failover or an idle timeout
    would; the statement then meets the closed connection for real."""
    ran = []

    def execute(run, sql, params, many, context):
        if sql.startswith(statement) and "terminated" not in ran:
            backend = connections["default"].connection.info.backend_pid
            settings = connections["default"].settings_dict
            with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                                 password=settings["PASSWORD"] or None, dbname=settings["NAME"],
                                 autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [backend])
            ran.append("terminated")
        else:
            ran.append(sql)
        return run(sql, params, many, context)

    try:
        with connections["default"].execute_wrapper(execute):
            yield ran
    finally:
        connections["default"].close()  # a dead connection left behind would fail the test's teardown


@pytest.mark.integration
@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "surface,statement",
    [
        ("api-read", 'SELECT "projects_membership"'),
        ("api-transition", 'UPDATE "projects_project"'),  # inside the transition's transaction
        ("page", 'SELECT "projects_project"'),
    ],
)
def test_a_postgresql_backend_terminated_mid_request_answers_503(api_client, client, owner, member, project,
                                                                 surface, statement):
    api_client.raise_request_exception = client.raise_request_exception = False
    if surface == "page":
        client.force_login(member)
    api_client.force_authenticate(owner if surface == "api-transition" else member)
    rows = AuditEntry.objects.count()

    with _backend_terminated_at(statement) as ran:
        if surface == "api-read":
            response = api_client.get(reverse("api:project-detail", args=[project.pk]))
        elif surface == "api-transition":
            response = api_client.post(reverse("api:project-activate", args=[project.pk]), {"rationale": "go"},
                                       format="json")
        else:
            response = client.get(reverse("project_detail", args=[project.pk]))

    assert "terminated" in ran and ran.index("terminated") > 0  # the backend had answered this request
    _assert_503(response, api=surface != "page")
    assert Project.objects.get(pk=project.pk).state == ProjectState.PROPOSED
    assert AuditEntry.objects.count() == rows
