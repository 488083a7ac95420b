"""Failed API authentications are limited per client address (THROTTLE_AUTH_FAILED): bad, expired and
garbage tokens and wrong API keys count, past the limit every credential from that address is a 429 with
Retry-After before it is decoded, successes count nothing, and the trail gets one row per cut-off.

Every request goes through the test client with the real middleware and authenticators.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import JWTAuthentication
from accounts.tests.test_service_accounts import create_key
from accounts.throttles import FailedAuthThrottle
from accounts.tokens import SessionRefreshToken
from audit.models import AuditEntry

ME = "/api/v1/auth/me/"


@pytest.fixture
def three_a_minute(monkeypatch):
    # Rates are bound on the class at import (DRF #6030): patch the class, not the settings.
    monkeypatch.setattr(FailedAuthThrottle, "THROTTLE_RATES", {**FailedAuthThrottle.THROTTLE_RATES, "auth_failed": "3/min"})


def get(path, authorization, **extra):
    return APIClient().get(path, HTTP_AUTHORIZATION=authorization, **extra)


def bearer(user) -> str:
    return f"Bearer {SessionRefreshToken.for_user(user).access_token}"


def expired_bearer(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return f"Bearer {token}"


def test_bad_tokens_are_cut_off_after_the_limit_even_with_a_good_one(three_a_minute, member, monkeypatch):
    decoded = []
    original = JWTAuthentication.get_validated_token
    monkeypatch.setattr(JWTAuthentication, "get_validated_token",
                        lambda self, raw: decoded.append(raw) or original(self, raw))
    failures = [get(ME, value).status_code for value in ("Bearer garbage", "Bearer a.b.c", expired_bearer(member))]
    assert failures == [401, 401, 401]
    assert len(decoded) == 3

    refused = get(ME, bearer(member))

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many failed authentications" in refused.json()["detail"]
    assert len(decoded) == 3  # refused before the token was even decoded
    assert "X-Correlation-ID" in refused
    assert get(ME, bearer(member), REMOTE_ADDR="192.0.2.44").status_code == 200  # another address: its own budget


def test_wrong_api_keys_are_cut_off_before_any_key_is_looked_up(three_a_minute, project, django_assert_num_queries):
    key = create_key(project)
    prefix = key.partition(".")[0]
    statuses = [get("/api/v1/projects/", f"Api-Key {guess}").status_code
                for guess in (f"{prefix}.wrong-secret", "nosuchkey.x", "not-even-a-key")]
    assert statuses == [401, 401, 401]

    with django_assert_num_queries(0):  # no key read, no audit row: the address is simply refused
        refused = get("/api/v1/projects/", f"Api-Key {key}")

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert get("/api/v1/projects/", f"Api-Key {key}", REMOTE_ADDR="192.0.2.45").status_code == 200


def test_one_audit_row_per_cut_off_and_none_for_each_guess(three_a_minute, db):
    statuses = [get(ME, f"Api-Key guess{n}.secret").status_code for n in range(10)]

    assert statuses == [401] * 3 + [429] * 7
    rows = AuditEntry.objects.filter(event_type="auth_failed")
    assert [(row.event_name, row.success, row.remote_addr, row.actor_id) for row in rows] == [
        ("auth.throttled", False, "127.0.0.1", None)]
    assert rows[0].extra == {"via": "api_key", "limit": "3/min"}
    assert AuditEntry.objects.count() == 1  # the failed guesses themselves leave no rows, as before


def test_successful_authentications_count_nothing(three_a_minute, member):
    token = bearer(member)
    assert [get(ME, token).status_code for _ in range(8)] == [200] * 8

    assert [get(ME, "Bearer garbage").status_code for _ in range(4)] == [401, 401, 401, 429]
    assert not AuditEntry.objects.filter(event_type="auth_failed").exclude(event_name="auth.throttled").exists()


def test_the_budget_follows_the_client_address_a_listed_proxy_forwards(three_a_minute, member, settings):
    settings.TRUSTED_PROXIES = ["10.9.9.9"]

    def attempt(remote, forwarded, authorization="Bearer garbage"):
        return get(ME, authorization, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded).status_code

    # Not a listed proxy: its X-Forwarded-For is ignored, so rotating it dodges nothing.
    assert [attempt("127.0.0.1", f"203.0.113.{n}") for n in range(4)] == [401, 401, 401, 429]
    # Through the listed proxy, each forwarded client has its own budget.
    assert [attempt("10.9.9.9", "198.51.100.7") for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("10.9.9.9", "198.51.100.8", bearer(member)) == 200
    assert list(AuditEntry.objects.filter(event_name="auth.throttled").values_list("remote_addr", flat=True)
                .order_by("id")) == ["127.0.0.1", "198.51.100.7"]


def test_headers_that_carry_no_credential_of_ours_are_not_counted(three_a_minute, db):
    assert [get(ME, "Basic dXNlcjpwYXNz").status_code for _ in range(5)] == [401] * 5
    assert get(ME, "Bearer garbage").status_code == 401  # the budget is untouched
