"""Production configuration: the deploy check, the SECRET_KEY guard, gunicorn, and the documented env."""

import importlib.util
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
GUNICORN = Path(sys.executable).parent / "gunicorn"
GUNICORN_ENV_VARS = ["GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_ACCESS_LOG", "PROMETHEUS_MULTIPROC_DIR"]


def production_env(**overrides) -> dict:
    """Only what an operator must set; ENV_FILE keeps a developer's .env out of the picture."""
    key = "".join(secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(50))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": os.devnull,
        "DEBUG": "False",
        "SECRET_KEY": key,
        "ALLOWED_HOSTS": "example.com",
        # The ledger's checkpoint signing key (audit.W001 warns without one).
        "AUDIT_SIGNING_KEY": "PRIVATE+KEY+deploy.test/audit+6c0d7cf7+AUySg4nmMmFkivbQ0/4TbzHbYEIEizkLxzOI6EExKwNZ",
        "AUDIT_SIGNER_STATE": "/var/lib/commandcentral/audit-signer.state",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_is_clean_with_only_the_required_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_fails_when_a_protection_is_switched_off():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(SECURE_SSL_REDIRECT="0"))

    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize("secret_key", [None, "", "django-insecure-dev-only-commandcentral-key-never-use-in-production"])
def test_settings_refuse_to_start_without_a_real_secret_key_in_one_line(secret_key):
    result = manage("check", env=production_env(SECRET_KEY=secret_key))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandCentral refuses to start: set SECRET_KEY to a secret value (or DEBUG=1 for local use)."
    ]
    assert "Traceback" not in result.stderr


def test_debug_runs_without_a_secret_key():
    result = manage("check", env=production_env(SECRET_KEY=None, DEBUG="1"))

    assert result.returncode == 0, result.stderr


def settings_env_vars() -> set[str]:
    source = (BASE_DIR / "commandcentral" / "settings.py").read_text()
    return set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))


def test_the_docs_document_every_environment_variable():
    docs = (BASE_DIR / "docs" / "configuration.md").read_text()
    configuration = docs.split("## Configuration", 1)[1].split("\n## ", 1)[0]

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TRUSTED_PROXIES"} <= settings_env_vars()
    undocumented = sorted(name for name in settings_env_vars() | set(GUNICORN_ENV_VARS) if f"`{name}`" not in configuration)
    assert undocumented == []


# --- gunicorn.conf.py ---------------------------------------------------------------------------


@pytest.fixture
def gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf_under_test", BASE_DIR / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "environ,sqlite,expected",
    [
        ({"GUNICORN_WORKERS": "3", "WEB_CONCURRENCY": "7"}, True, 3),
        ({"WEB_CONCURRENCY": "5"}, True, 5),
        ({}, True, 2),
        ({}, False, 5),  # 2 × 2 CPUs + 1
    ],
)
def test_worker_count_comes_from_the_environment(gunicorn_conf, environ, sqlite, expected):
    assert gunicorn_conf.worker_count(environ, sqlite=sqlite, cpus=2) == expected


def test_a_bad_worker_count_stops_gunicorn_with_a_message(gunicorn_conf):
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be a positive integer"):
        gunicorn_conf.worker_count({"GUNICORN_WORKERS": "many"}, sqlite=True, cpus=2)


def test_gunicorn_trusts_forwarded_headers_only_from_trusted_proxies(gunicorn_conf):
    assert gunicorn_conf.trusted_proxy_networks([]) == ""
    assert gunicorn_conf.trusted_proxy_networks(["10.0.0.7/24", "127.0.0.1", "junk"]) == "10.0.0.0/24,127.0.0.1/32"


class FakeLog:
    def __init__(self):
        self.warnings = []

    def warning(self, message, *args):
        self.warnings.append(message % args)


@pytest.mark.parametrize("workers,redis,warned", [(1, False, False), (3, False, True), (3, True, False)])
def test_several_workers_without_redis_warn_that_throttles_are_per_worker(
    gunicorn_conf, monkeypatch, tmp_path, workers, redis, warned
):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # restored after the test
    monkeypatch.setattr(gunicorn_conf, "USES_REDIS", redis)
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    server = SimpleNamespace(cfg=SimpleNamespace(workers=workers), log=FakeLog())

    gunicorn_conf.on_starting(server)

    assert [("throttles" in message and "REDIS_URL" in message) for message in server.log.warnings] == ([True] if warned else [])
    assert (tmp_path / "counter_123.db").exists() is (workers == 1)  # stale multiprocess counters are cleared


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_gunicorn_serves_the_probes_with_two_workers(tmp_path):
    """`make serve` minus collectstatic: the config loads, warns, and the probes answer."""
    port = _free_port()
    env = production_env(ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", GUNICORN_WORKERS="2")
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # waiting for boot, not asserting on speed
        while True:
            try:
                status, headers, body = _get(f"{base}/health", {"X-Correlation-ID": "gunicorn-smoke-1"})
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        assert status == 200 and '"status": "ok"' in body
        assert headers["X-Correlation-ID"] == "gunicorn-smoke-1"
        assert _get(f"{base}/ready")[0] == 200
        for _ in range(5):
            _get(f"{base}/health")
        metrics = _get(f"{base}/metrics")[2]
        # Multiprocess mode: the six /health requests are summed over both workers.
        assert re.search(r'django_http_requests_total_by_view_transport_method_total\{[^}]*view="health"[^}]*\} 6\.0', metrics)
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log_path.read_text()
    assert "Running 2 workers without REDIS_URL/CACHE_URL" in output
    assert '"correlation_id": "gunicorn-smoke-1"' in output and '"event": "request_finished"' in output
