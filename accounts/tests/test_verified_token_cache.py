"""A verified access token is remembered by its bytes (accounts.authentication._VerifiedTokens); what can
change about it is still checked on every request: its expiry and the user's generation."""

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.utils import aware_utcnow

from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies

pytestmark = pytest.mark.django_db


def _login(user) -> str:
    response = APIClient().post(reverse("api:auth-login"), {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def _me(token):
    return APIClient().get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_remembered_token_still_expires(monkeypatch):
    user = UserFactory()
    token = _login(user)
    assert _me(token).status_code == 200  # verified and remembered
    assert _me(token).json()["email"] == user.email  # from memory
    later = aware_utcnow() + timedelta(days=1)
    monkeypatch.setattr("accounts.authentication.aware_utcnow", lambda: later)
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)
    response = _me(token)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"


def test_a_remembered_token_of_a_signed_out_user_is_refused():
    user = UserFactory()
    pair = APIClient().post(reverse("api:auth-login"), {"email": user.email, "password": PASSWORD}, format="json").json()
    token = pair["access_token"]
    assert _me(token).status_code == 200
    logout = APIClient().post(reverse("api:auth-logout"), {"refresh_token": pair["refresh_token"]}, format="json",
                              HTTP_AUTHORIZATION=f"Bearer {token}")
    assert logout.status_code in (200, 204), logout.content
    assert _me(token).status_code == 401
    assert AuditEntry.objects.filter(event_name="auth.logout", actor=user).exists()
    assert_trail_verifies()


def test_a_forged_token_is_never_remembered():
    user = UserFactory()
    token = _login(user)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        assert _me(forged).status_code == 401
    assert _me(token).status_code == 200
