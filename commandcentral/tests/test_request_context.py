import pytest
from django.test import RequestFactory, override_settings

from core.request_context import client_ip, set_correlation_id


@pytest.fixture
def rf():
    return RequestFactory()


def test_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "10.0.0.5"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_trusted_proxy_gives_the_rightmost_untrusted_hop(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.7")
    assert client_ip(request) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_garbage_forwarded_for_behind_a_trusted_proxy_is_dropped(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(request) is None


def test_invalid_remote_addr_is_dropped(rf):
    assert client_ip(rf.get("/", REMOTE_ADDR="garbage")) is None


@pytest.mark.parametrize("value", ["", "x" * 65, "bad value", "'; drop table", None])
def test_invalid_correlation_ids_are_replaced(value):
    cid = set_correlation_id(value)
    assert cid != value and len(cid) == 36


def test_valid_correlation_id_is_kept():
    assert set_correlation_id("req-123.abc:9") == "req-123.abc:9"


def test_correlation_id_is_echoed_and_generated(client, db):
    response = client.get("/admin/login/", HTTP_X_CORRELATION_ID="abc-123")
    assert response["X-Correlation-ID"] == "abc-123"
    generated = client.get("/admin/login/", HTTP_X_CORRELATION_ID="x" * 300)["X-Correlation-ID"]
    assert len(generated) == 36


def test_failed_admin_login_records_auth_failed_with_cid_and_validated_address(client, db):
    from audit.models import AuditEntry

    client.post(
        "/admin/login/",
        {"username": "nobody@example.com", "password": "wrong"},
        HTTP_X_CORRELATION_ID="login-1",
        HTTP_X_FORWARDED_FOR="not-an-ip",
        REMOTE_ADDR="127.0.0.1",
    )
    row = AuditEntry.objects.get(event_type="auth_failed")
    assert (row.cid, row.remote_addr, row.success) == ("login-1", "127.0.0.1", False)
    assert row.extra == {"email": "nobody@example.com"}
    assert "wrong" not in str(row.extra) + row.failure_reason
