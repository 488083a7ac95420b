import re
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import OperationalError, connections
from django.test import Client, override_settings
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.throttling import AnonRateThrottle

from core.transitions import TransitionForbidden, perform_transition


@pytest.fixture
def database_down():
    """Every new cursor on the default database fails as if the server had gone away."""
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("server closed the connection")):
        yield


def test_health_answers_without_touching_the_database(client, settings):
    # No `db` fixture: pytest-django turns any database access here into an error.
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": settings.SERVICE_NAME, "version": settings.VERSION}
    assert response["X-Correlation-ID"]
    assert "no-cache" in response["Cache-Control"]


def test_ready_checks_the_database_and_the_cache(client, db):
    response = client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "ledger": "ok"}


def test_ready_is_503_naming_the_database_when_it_is_unreachable_while_health_stays_up(client, db, database_down):
    ready = client.get("/ready")
    health = client.get("/health")

    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["database", "ledger"]  # the ledger's lag is read from the database too
    assert body["checks"] == {"database": "failed: OperationalError", "cache": "ok", "ledger": "failed: OperationalError"}
    assert "server closed" not in ready.content.decode()  # details go to the log, not to anonymous callers
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_ready_is_503_naming_the_cache_when_redis_is_down(client, db):
    with mock.patch.object(cache, "set", side_effect=RedisConnectionError("Connection refused")):
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
    assert response.json()["checks"]["cache"] == "failed: ConnectionError"


def test_ready_is_503_when_the_cache_loses_what_was_written(client, db):
    with mock.patch.object(cache, "get", return_value=None):
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failed: CacheUnavailable", "ledger": "ok"}


@override_settings(SECURE_SSL_REDIRECT=True)
def test_probes_are_not_redirected_to_https_but_pages_are(db):
    client = Client()  # a fresh handler, so SecurityMiddleware reads the overridden setting

    assert client.get("/admin/login/").status_code == 301
    for path in ("/health", "/ready", "/metrics"):
        assert client.get(path).status_code == 200, path


def test_probes_need_no_credentials_and_ignore_api_throttles(client, db):
    with mock.patch.object(AnonRateThrottle, "THROTTLE_RATES", {"anon": "1/min", "user": "1/min", "login": "1/min"}):
        statuses = [client.get(path).status_code for path in ("/health", "/ready", "/metrics") * 3]

    assert statuses == [200] * 9


def test_probes_only_answer_get(client, db):
    assert client.post("/health").status_code == 405
    assert client.post("/ready").status_code == 405


def _sample(metric: str, **labels) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_metrics_count_transitions_by_model_name_and_outcome(client, owner, member, project):
    success = {"model": "project", "name": "activate", "outcome": "success"}
    refused = {"model": "project", "name": "pause", "outcome": "permission"}
    before = _sample("commandcentral_transitions_total", **success), _sample("commandcentral_transitions_total", **refused)

    perform_transition(project, "activate", actor=owner)
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "pause", actor=member)
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    exported = {
        outcome: float(re.search(
            rf'^commandcentral_transitions_total\{{model="project",name="{name}",outcome="{outcome}"\}} (\S+)$', text, re.M
        ).group(1))
        for name, outcome in (("activate", "success"), ("pause", "permission"))
    }
    assert exported == {"success": before[0] + 1, "permission": before[1] + 1}


def test_metrics_include_request_database_and_cache_families(client, db):
    client.get("/ready")

    text = client.get("/metrics").content.decode()

    for family in (
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_requests_latency_seconds_by_view_method",
        "django_db_execute_total",
        "django_cache_get_total",
    ):
        assert f"\n{family}" in text, family
    assert 'view="ready"' in text


def test_cache_metrics_keep_falsy_values_and_count_hits_and_misses(db):
    backend = cache.metrics_backend  # "locmem", or "redis" when the suite runs with REDIS_URL
    hits_before = _sample("django_cache_get_hits_total", backend=backend)
    misses_before = _sample("django_cache_get_misses_total", backend=backend)

    cache.set("zero", 0)
    assert cache.get("zero", "default") == 0
    assert cache.get("absent", "default") == "default"

    assert _sample("django_cache_get_hits_total", backend=backend) == hits_before + 1
    assert _sample("django_cache_get_misses_total", backend=backend) == misses_before + 1


def test_every_query_is_counted_timed_and_its_failure_counted_and_the_cursor_class_is_built_once(db):
    from django.db import DatabaseError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    labels = {"alias": "default", "vendor": connection.vendor}
    failed = {**labels, "type": "OperationalError" if connection.vendor == "sqlite" else "UndefinedTable"}
    before = {
        "executed": _sample("django_db_execute_total", **labels),
        "many": _sample("django_db_execute_many_total", **labels),
        "timed": _sample("django_db_query_duration_seconds_count", **labels),
        "failed": _sample("django_db_errors_total", **failed),
    }
    with CaptureQueriesContext(connection) as captured, connection.cursor() as first, connection.cursor() as second:
        first.execute("CREATE TEMPORARY TABLE metered (n integer)")
        second.execute("SELECT 2")
        first.executemany("INSERT INTO metered (n) VALUES (%s)", [(1,), (2,), (3,)])
        assert type(first.cursor) is type(second.cursor)  # one class for every cursor, not one per cursor
        with pytest.raises(DatabaseError), transaction.atomic():  # the savepoint's statements count too
            second.execute("SELECT * FROM no_such_table")
    statements = len(captured)  # the executemany is one statement of three rows
    assert _sample("django_db_execute_total", **labels) == before["executed"] + statements - 1 + 3
    assert _sample("django_db_execute_many_total", **labels) == before["many"] + 3
    assert _sample("django_db_query_duration_seconds_count", **labels) == before["timed"] + statements
    assert _sample("django_db_errors_total", **failed) == before["failed"] + 1


def test_a_request_s_queries_reach_the_metrics_page(client, owner, project):
    """Through the real stack: a project read runs its queries through the counted cursor, and /metrics
    shows them."""
    from django.db import connection

    labels = {"alias": "default", "vendor": connection.vendor}
    client.force_login(owner)
    ran = []

    def count(execute, sql, params, many, context):
        ran.append(sql)
        return execute(sql, params, many, context)

    before = _sample("django_db_execute_total", **labels)
    with connection.execute_wrapper(count):
        response = client.get(f"/api/v1/projects/{project.pk}/")
    assert response.status_code == 200 and response.json()["id"] == str(project.pk)
    assert ran
    assert _sample("django_db_execute_total", **labels) == before + len(ran)
    body = client.get("/metrics").content.decode()
    assert re.search(r'django_db_execute_total\{alias="default",vendor="%s"\} \d' % connection.vendor, body)


def test_metrics_under_several_workers_have_each_family_once_and_no_per_worker_ledger_gauges(client, db, tmp_path, monkeypatch):
    """With PROMETHEUS_MULTIPROC_DIR (gunicorn with several workers), a prometheus_client Gauge made at scrape
    time is written to that worker's file and comes back in every later scrape with a pid label, next to
    the fresh value: the ledger's gauges are computed at collection and never touch those files."""
    from prometheus_client import values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())  # as chosen at import under gunicorn
    for _ in range(3):
        body = client.get("/metrics").content.decode()
    families = [line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert len(families) == len(set(families)), sorted(name for name in families if families.count(name) > 1)
    assert "commandcentral_audit_unsealed_rows" in families and "pid=" not in body
    assert not list(tmp_path.glob("gauge_*.db"))


def test_metrics_answer_while_the_database_is_down(client, db, monkeypatch):
    from django.db import OperationalError

    from commandcentral import ops

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ops, "pending_status", down)
    response = client.get("/metrics")
    body = response.content.decode()
    assert response.status_code == 200
    assert "commandcentral_metrics_database_up 0.0" in body and "commandcentral_audit_ledger_diverged 0.0" in body
    assert "commandcentral_audit_unsealed_rows" not in body and "django_http_requests" in body
