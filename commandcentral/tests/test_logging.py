import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from audit.models import AuditEntry, AuditEventType

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def json_log_lines():
    """Lines written by django-structlog's request logger through the configured JSON formatter."""
    logger = logging.getLogger("django_structlog")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.getLogger("django_structlog").handlers[0].formatter)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # the test settings keep it at WARNING
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def finished(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["event"] == "request_finished"]


def test_a_requests_correlation_id_is_in_its_log_line_response_header_and_audit_rows(client, json_log_lines, member):
    cid = "ops-test-0f3a9c"

    # The admin login form sends user_login_failed, which writes an auth_failed row.
    response = client.post(
        "/admin/login/", {"username": member.email, "password": "wrong-password"}, HTTP_X_CORRELATION_ID=cid
    )

    assert response.status_code == 200
    assert response["X-Correlation-ID"] == cid
    rows = AuditEntry.objects.filter(cid=cid)
    assert [(row.event_type, row.success) for row in rows] == [(AuditEventType.AUTH_FAILED, False)]
    [line] = finished(json_log_lines())
    assert line["correlation_id"] == cid
    assert (line["method"], line["path"], line["status"]) == ("POST", "/admin/login/", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["level"] == "info" and line["timestamp"]


def test_the_log_line_names_the_signed_in_user(client, json_log_lines, operator):
    client.force_login(operator)

    response = client.get("/admin/", HTTP_X_CORRELATION_ID="admin-visit-1")

    assert response.status_code == 200
    [line] = finished(json_log_lines())
    assert line["user_id"] == str(operator.pk)
    assert line["correlation_id"] == "admin-visit-1"
    assert line["client_ip"] == "127.0.0.1"


def test_a_jwt_api_call_is_logged_with_the_token_user(client, json_log_lines, member):
    token = RefreshToken.for_user(member).access_token

    response = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_CORRELATION_ID="jwt-call-1")

    assert response.status_code == 200
    [line] = finished(json_log_lines())
    assert (line["user_id"], line["correlation_id"], line["status"]) == (str(member.pk), "jwt-call-1", 200)


def test_a_malformed_correlation_id_is_replaced_everywhere_by_a_generated_one(client, json_log_lines):
    response = client.get("/health", HTTP_X_CORRELATION_ID="not valid; " + "x" * 300)

    generated = response["X-Correlation-ID"]
    assert generated and "not valid" not in generated and len(generated) <= 64
    [line] = finished(json_log_lines())
    assert line["correlation_id"] == generated


def test_a_client_error_is_logged_with_its_status(client, json_log_lines, db):
    response = client.get("/no-such-page/", HTTP_X_CORRELATION_ID="missing-page")

    assert response.status_code == 404
    [line] = finished(json_log_lines())
    assert (line["status"], line["level"], line["path"]) == (404, "warning", "/no-such-page/")


def _log_format_under(env: dict) -> str:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ENV_FILE": os.devnull, **env}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.LOGGING['handlers']['default']['formatter'])"],
        cwd=BASE_DIR, env={**clean, "DJANGO_SETTINGS_MODULE": "commandcentral.settings"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_logs_are_json_in_production_and_readable_with_debug_on():
    assert _log_format_under({"DEBUG": "0", "SECRET_KEY": "k" * 50}) == "json"
    assert _log_format_under({"DEBUG": "1"}) == "console"
    assert _log_format_under({"DEBUG": "1", "LOG_FORMAT": "json"}) == "json"


def test_the_development_console_prints_one_line_per_request():
    """The console drops request_started and keeps request_finished (status, time)."""
    import logging

    from commandcentral.request_logging import OneLinePerRequest

    def record(event):
        return logging.LogRecord("django_structlog", logging.INFO, __file__, 1, {"event": event}, None, None)

    keep = OneLinePerRequest()
    assert keep.filter(record("request_finished")) is True
    assert keep.filter(record("request_started")) is False
    assert keep.filter(logging.LogRecord("x", logging.INFO, __file__, 1, "plain text", None, None)) is True
