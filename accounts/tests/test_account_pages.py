"""Password reset end to end (request → mail from the worker → link → new password → login), and the
account page: name and handle, password change, personal API keys, notification preferences."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ServiceKey, User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEntry


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)


def signed_in(user, password=PASSWORD) -> Client:
    client = Client()
    assert client.post("/login", {"username": user.email, "password": password}).status_code == 302
    return client


def test_the_login_page_links_to_password_reset(db):
    assert 'href="/password-reset/"' in Client().get("/login").content.decode()


@pytest.mark.django_db(transaction=True)
def test_password_reset_end_to_end():
    user = UserFactory(email="forgetful@example.com")
    api_token = APIClient().post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD},
                                 format="json").json()["access_token"]
    response = Client().post("/password-reset/", {"email": "Forgetful@example.com"})
    assert response.status_code == 302 and response["Location"] == "/password-reset/done/"
    assert mail.outbox == []  # sent by the worker, not inside the request
    requested = AuditEntry.objects.get(event_name="auth.password_reset_requested")
    assert requested.success and requested.entity_id == str(user.pk)
    run_worker()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.com"]
    link = re.search(r"http://testserver(/reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    client = Client()
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "a-brand-new-passphrase",
                                                         "new_password2": "a-brand-new-passphrase"})
    assert done.status_code == 302 and done["Location"] == "/reset/done/"
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")
    completed = AuditEntry.objects.get(event_name="auth.password_reset_completed")
    assert completed.actor == user
    # The old password and the old API tokens no longer work; the new password does.
    assert Client().post("/login", {"username": user.email, "password": PASSWORD}).status_code == 200
    assert APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {api_token}").status_code == 401
    assert Client().post("/login", {"username": user.email, "password": "a-brand-new-passphrase"}).status_code == 302
    # The link works once.
    assert "no longer works" in Client().get(link, follow=True).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_reset_for_an_unknown_address_answers_the_same_and_sends_nothing():
    UserFactory(email="gone@example.com", is_active=False)
    for email in ("nobody@example.com", "gone@example.com"):
        response = Client().post("/password-reset/", {"email": email})
        assert response.status_code == 302 and response["Location"] == "/password-reset/done/"
    run_worker()
    assert mail.outbox == []
    rows = AuditEntry.objects.filter(event_name="auth.password_reset_requested")
    assert rows.count() == 2 and not any(row.success for row in rows)


def test_password_reset_is_throttled_like_logins(db):
    from accounts.throttles import LoginThrottle

    LoginThrottle.THROTTLE_RATES = {"login": "1/min"}
    try:
        assert Client().post("/password-reset/", {"email": "a@example.com"}).status_code == 302
        response = Client().post("/password-reset/", {"email": "a@example.com"})
        assert response.status_code == 429 and response["Retry-After"]
    finally:
        del LoginThrottle.THROTTLE_RATES  # back to the settings' rates


# --- The account page -------------------------------------------------------------------------------


def test_the_account_page_needs_a_login_and_is_linked_from_the_header(db):
    assert Client().get("/account/").status_code == 302
    user = UserFactory()
    page = signed_in(user).get("/account/")
    assert page.status_code == 200 and 'href="/account/"' in page.content.decode()


def test_name_and_handle(db):
    user = UserFactory(email="me@example.com")
    UserFactory(email="taken@example.com")
    client = signed_in(user)
    response = client.post("/account/", {"section": "profile", "name": "Me Myself", "handle": "Me-2"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.name == "Me Myself" and user.handle == "me-2"
    row = AuditEntry.objects.filter(event_name="user.updated", entity_id=str(user.pk)).latest("id")
    assert row.actor == user and row.changes["handle"] == ["me", "me-2"]
    taken = client.post("/account/", {"section": "profile", "name": "Me", "handle": "taken"})
    assert taken.status_code == 400 and "taken" in taken.content.decode()
    bad = client.post("/account/", {"section": "profile", "name": "Me", "handle": "No Spaces!"})
    assert bad.status_code == 400
    user.refresh_from_db()
    assert user.handle == "me-2"


def test_notification_preferences(db):
    user = UserFactory()
    client = signed_in(user)
    assert client.post("/account/", {"section": "notifications", "notifications": "daily"}).status_code == 302
    user.refresh_from_db()
    assert user.notifications == "daily"
    assert client.post("/account/", {"section": "notifications", "notifications": "hourly"}).status_code == 400
    assert client.post("/account/", {"section": "nonsense"}).status_code == 400


def test_password_change_keeps_this_session_and_is_recorded(db):
    user = UserFactory()
    client = signed_in(user)
    response = client.post("/account/password/", {"old_password": PASSWORD, "new_password1": "a-brand-new-passphrase",
                                                  "new_password2": "a-brand-new-passphrase"})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")
    assert AuditEntry.objects.get(event_name="auth.password_changed").actor == user
    wrong = client.post("/account/password/", {"old_password": "wrong", "new_password1": "x-another-long-pass",
                                               "new_password2": "x-another-long-pass"})
    assert wrong.status_code == 200 and "old_password" in wrong.content.decode()


def test_log_out_everywhere_from_the_account_page(db):
    user = UserFactory()
    client, other = signed_in(user), signed_in(user)
    assert 'action="/logout/everywhere"' in client.get("/account/").content.decode()
    client.post("/logout/everywhere")
    assert other.get("/account/").status_code == 302
    assert AuditEntry.objects.filter(event_name="auth.logout_everywhere", actor=user).exists()


def test_a_personal_key_acts_as_the_user_until_revoked(project, member):
    client = signed_in(member)
    page = client.post("/account/", {"section": "key", "name": "scripts", "expires_in_days": "30"})
    assert page.status_code == 200
    raw = re.search(r"<code data-new-key>([^<]+)</code>", page.content.decode()).group(1)
    key = ServiceKey.objects.get(service=member)
    assert key.expiry_date is not None and raw.startswith(key.prefix)
    assert raw not in client.get("/account/").content.decode()  # shown once
    created = AuditEntry.objects.get(event_name="personal_key.created")
    assert created.actor == member and created.entity_id == key.prefix
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    me = api.get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["id"] == str(member.pk)
    assert api.get(f"/api/v1/projects/{project.pk}/").status_code == 200
    # With the user's own role: a member may not edit the project, and the refusal is recorded as theirs.
    assert api.patch(f"/api/v1/projects/{project.pk}/", {"name": "Renamed"}, format="json").status_code == 403
    assert AuditEntry.objects.filter(event_type="permission_denied", actor=member, project_id=project.pk).exists()
    assert client.post("/account/", {"section": "revoke_key", "prefix": key.prefix}).status_code == 302
    assert AuditEntry.objects.get(event_name="personal_key.revoked").actor == member
    assert api.get("/api/v1/auth/me/").status_code == 401
    assert client.post("/account/", {"section": "revoke_key", "prefix": "nope"}).status_code == 400


def test_a_personal_key_must_expire_within_a_year(db):
    user = UserFactory()
    response = signed_in(user).post("/account/", {"section": "key", "name": "x", "expires_in_days": "3650"})
    assert response.status_code == 400
    assert not ServiceKey.objects.exists()
    assert User.objects.get(pk=user.pk).service_keys.count() == 0


# --- The sign-up page --------------------------------------------------------------------------------


def sign_up(email="fresh@example.com", password="a-long-unusual-pass"):
    return Client().post("/signup/", {"email": email, "name": "Fresh", "password1": password, "password2": password})


def test_open_sign_up_creates_an_account_to_log_in_with(db, settings):
    settings.SIGNUP = "open"
    assert 'href="/signup/"' in Client().get("/login").content.decode()
    response = sign_up()
    assert response.status_code == 302 and response["Location"] == "/login"
    user = User.objects.get(email="fresh@example.com")
    assert user.name == "Fresh" and user.handle == "fresh"
    assert AuditEntry.objects.filter(event_name="user.created", entity_id=str(user.pk)).exists()


def test_a_taken_address_gets_the_same_answer_and_nothing_changes(db, settings):
    settings.SIGNUP = "open"
    user = UserFactory(email="taken@example.com", name="Original")
    response = sign_up("Taken@example.com")
    assert response.status_code == 302 and response["Location"] == "/login"
    user.refresh_from_db()
    assert user.name == "Original" and user.check_password(PASSWORD)
    assert AuditEntry.objects.filter(event_name="auth.register_existing", entity_id=str(user.pk)).exists()


def test_invite_only_sign_up_refuses_an_uninvited_address(db, settings):
    settings.SIGNUP = "invite"
    assert "by invitation" in Client().get("/signup/").content.decode()
    response = sign_up()
    assert response.status_code == 403 and "invitation" in response.content.decode()
    assert not User.objects.filter(email="fresh@example.com").exists()
    assert AuditEntry.objects.get(event_name="user.register").event_type == "permission_denied"


def test_sign_up_with_a_weak_or_mismatched_password_is_a_400(db, settings):
    settings.SIGNUP = "open"
    assert sign_up(password="123").status_code == 400
    mismatch = Client().post("/signup/", {"email": "m@example.com", "name": "M", "password1": "a-long-unusual-pass",
                                          "password2": "another-long-pass"})
    assert mismatch.status_code == 400
    assert not User.objects.filter(email__in=["fresh@example.com", "m@example.com"]).exists()
