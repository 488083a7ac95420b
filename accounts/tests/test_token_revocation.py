"""A refresh token works once, and every way of ending a sign-in ends every token.

Through the real stack: the API with JWTs, the pages with a session, the admin's change and password
forms. Each test asserts the tokens refused afterwards, the response, and the audit row left behind.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies


def login(email, password=PASSWORD) -> dict:
    response = APIClient().post(reverse("api:auth-login"), {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def me(access):
    return APIClient().get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {access}")


def refresh(refresh_token):
    return APIClient().post(reverse("api:auth-refresh"), {"refresh_token": refresh_token}, format="json")


def assert_ended(pair):
    response = me(pair["access_token"])
    assert response.status_code == 401, response.content
    assert refresh(pair["refresh_token"]).status_code == 401


# --- Refresh-token reuse ------------------------------------------------------------------------

def test_a_refresh_token_works_once_and_its_replay_revokes_every_token_of_the_user(db):
    user = UserFactory(email="replay@example.com")
    first = login(user.email)
    other_device = login(user.email)
    rotated = refresh(first["refresh_token"])
    assert rotated.status_code == 200
    rotated = rotated.json()
    assert me(rotated["access_token"]).status_code == 200

    replay = refresh(first["refresh_token"])

    assert replay.status_code == 401
    assert replay.json()["detail"] == "Token has been revoked."
    assert_ended(rotated)
    assert_ended(other_device)
    row = AuditEntry.objects.get(event_name="auth.refresh_reuse")
    assert row.event_type == "auth_failed" and row.success is False
    assert row.entity_id == str(user.pk) and row.actor is None
    assert "presented again" in row.failure_reason
    assert User.objects.get(pk=user.pk).token_generation == user.token_generation + 1
    # A fresh login works again.
    assert me(login(user.email)["access_token"]).status_code == 200
    assert_trail_verifies()


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_refreshes_with_one_token_exactly_one_succeeds():
    user = UserFactory(email="race-refresh@example.com")
    token = login(user.email)["refresh_token"]
    barrier = threading.Barrier(8)

    def attempt(_):
        try:
            barrier.wait()
            response = refresh(token)
            return response.status_code, response.json()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * 7, results
    winner = next(body for status, body in results if status == 200)
    # The losers were replays: the token the winner got is revoked with the rest.
    assert_ended(winner)
    assert AuditEntry.objects.filter(event_name="auth.refresh_reuse", success=False).count() >= 1


# --- Every way of ending a sign-in ends every token ---------------------------------------------

def test_logout_ends_the_access_token_and_every_refresh_token_at_once(db):
    user = UserFactory(email="bye@example.com")
    pair, other_device = login(user.email), login(user.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")

    response = client.post(reverse("api:auth-logout"), {"refresh_token": pair["refresh_token"]}, format="json")

    assert response.status_code == 200
    assert_ended(pair)
    assert_ended(other_device)
    row = AuditEntry.objects.get(event_type="auth_logout")
    assert row.event_name == "auth.logout" and row.actor == user
    assert row.extra["via"] == "jwt" and row.extra["browser_sessions_ended"] is False


def test_a_password_change_in_the_admin_ends_the_users_tokens(client, operator):
    user = UserFactory(email="changed@example.com")
    pair = login(user.email)
    client.force_login(operator)

    response = client.post(reverse("admin:auth_user_password_change", args=[user.pk]),
                           {"password1": "a-brand-new-long-password", "password2": "a-brand-new-long-password",
                            "usable_password": "true"})

    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert user.check_password("a-brand-new-long-password")
    assert_ended(pair)
    assert me(login(user.email, "a-brand-new-long-password")["access_token"]).status_code == 200
    # The row the save left: the generation moved (the password itself never reaches the trail).
    row = AuditEntry.objects.filter(event_name="user.updated", entity_id=str(user.pk)).latest("id")
    assert "token_generation" in row.changes and "password" not in row.changes


def test_a_password_hash_upgrade_at_login_ends_nothing(db):
    user = UserFactory(email="rehash@example.com")
    pair = login(user.email)
    user.refresh_from_db()
    generation = user.token_generation
    # What check_password's setter does when the hasher changes: set_password, then save the hash.
    user.check_password(PASSWORD)
    user.set_password(PASSWORD)
    user._password = None
    user.save(update_fields=["password"])
    assert User.objects.get(pk=user.pk).token_generation == generation
    assert me(pair["access_token"]).status_code == 200


def test_deactivation_in_the_admin_ends_the_users_tokens_for_good(client, operator):
    user = UserFactory(email="leaver@example.com", name="Leaver")
    pair = login(user.email)
    client.force_login(operator)
    form = {"email": user.email, "name": user.name, "handle": user.handle, "is_staff": "", "is_superuser": "",
            "last_login_0": "", "last_login_1": ""}

    response = client.post(f"/admin/accounts/user/{user.pk}/change/", form)  # is_active unchecked

    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.is_active is False
    assert_ended(pair)
    row = AuditEntry.objects.filter(event_name="user.updated", entity_id=str(user.pk)).latest("id")
    assert row.changes["is_active"] == [True, False] and "token_generation" in row.changes
    # Reactivated: the old tokens stay dead.
    client.post(f"/admin/accounts/user/{user.pk}/change/", {**form, "is_active": "on"})
    user.refresh_from_db()
    assert user.is_active is True
    assert_ended(pair)


def test_log_out_everywhere_from_the_api_ends_tokens_and_browser_sessions(client, db):
    user = UserFactory(email="everywhere@example.com")
    pair = login(user.email)
    assert client.post(reverse("login"), {"username": user.email, "password": PASSWORD}).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")

    response = api.post(reverse("api:auth-logout-everywhere"))

    assert response.status_code == 200
    assert_ended(pair)
    assert client.get(reverse("dashboard")).status_code == 302  # the browser session is gone too
    row = AuditEntry.objects.get(event_name="auth.logout_everywhere")
    assert row.actor == user and row.extra["browser_sessions_ended"] is True and row.extra["via"] == "jwt"


def test_log_out_everywhere_from_the_logout_page(client, db):
    user = UserFactory(email="page-everywhere@example.com")
    pair = login(user.email)
    client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    page = client.get(reverse("logout"))
    assert b"Log out everywhere" in page.content

    response = client.post(reverse("logout_everywhere"))

    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert_ended(pair)
    assert client.get(reverse("dashboard")).status_code == 302
    assert AuditEntry.objects.get(event_name="auth.logout_everywhere").extra["via"] == "session"
    assert client.get(reverse("logout_everywhere")).status_code in (302, 405)  # GET ends nothing


def test_an_operator_ends_every_session_of_a_user_from_the_admin(client, operator):
    user = UserFactory(email="suspect@example.com")
    pair = login(user.email)
    client.force_login(operator)

    response = client.post("/admin/accounts/user/", {"action": "end_every_session", "_selected_action": [str(user.pk)]})

    assert response.status_code == 302
    assert_ended(pair)
    row = AuditEntry.objects.get(event_name="auth.sessions_ended")
    assert row.actor == operator and row.entity_id == str(user.pk) and row.extra["via"] == "admin"
    assert client.get("/admin/").status_code == 200  # the operator's own session is untouched
