import pytest
from django.urls import reverse

from audit.models import AuditEntry
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory


def login(api_client, email, password=PASSWORD):
    return api_client.post(reverse("api:auth-login"), {"email": email, "password": password}, format="json")


def test_register_creates_a_user(api_client, db):
    response = api_client.post(reverse("api:auth-register"),
                               {"email": "New@Example.com", "password": "a-long-unusual-pass", "name": "New"})
    assert response.status_code == 201
    assert response.json()["email"] == "new@example.com"
    assert "password" not in response.json()
    user = User.objects.get(email="new@example.com")
    assert user.check_password("a-long-unusual-pass")
    row = AuditEntry.objects.get(event_name="user.created")
    assert "password" not in row.changes


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "weak@example.com", "password": "123"}, "password"),
        ({"email": "not-an-email", "password": "a-long-unusual-pass"}, "email"),
        ({"password": "a-long-unusual-pass"}, "email"),
    ],
)
def test_register_rejects_bad_input(api_client, db, body, field):
    UserFactory(email="taken@example.com")
    response = api_client.post(reverse("api:auth-register"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert User.objects.count() == 1


def test_registering_a_taken_email_answers_as_a_new_account_would_and_changes_nothing(api_client, db):
    existing = UserFactory(email="taken@example.com", name="Original")
    stored = User.objects.values().get(pk=existing.pk)
    register = reverse("api:auth-register")

    new = api_client.post(register, {"email": "fresh@example.com", "password": "a-long-unusual-pass", "name": "Sam"})
    taken = api_client.post(register, {"email": "Taken@Example.com", "password": "a-long-unusual-pass", "name": "Sam"})

    assert (new.status_code, taken.status_code) == (201, 201)
    assert list(taken.json()) == list(new.json())
    same = {"is_staff", "is_active", "last_login", "name"}
    assert {k: v for k, v in taken.json().items() if k in same} == {k: v for k, v in new.json().items() if k in same}
    assert taken.json()["email"] == "taken@example.com" and taken.json()["id"] != str(existing.pk)
    assert not User.objects.filter(pk=taken.json()["id"]).exists()
    assert User.objects.values().get(pk=existing.pk) == stored  # the account is untouched, password included
    assert User.objects.count() == 2
    row = AuditEntry.objects.get(event_name="auth.register_existing")
    assert (row.event_type, row.success, row.entity_id, row.extra) == ("auth_failed", False, str(existing.pk),
                                                                       {"email": "taken@example.com"})
    assert "a-long-unusual-pass" not in str(row.extra) + row.failure_reason
    created = AuditEntry.objects.filter(event_name="user.created").exclude(entity_id=str(existing.pk))
    assert [row.entity_id for row in created] == [new.json()["id"]]
    assert login(api_client, "taken@example.com").status_code == 200  # its own password still signs in
    assert login(api_client, "taken@example.com", "a-long-unusual-pass").status_code == 401


def test_login_returns_a_token_pair_and_records_auth_login(api_client, member):
    response = login(api_client, member.email, PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["access_token"] and body["refresh_token"]
    row = AuditEntry.objects.get(event_type="auth_login")
    assert row.actor == member and row.extra == {"via": "jwt"}


def test_failed_login_is_401_and_recorded_without_the_password(api_client, member):
    response = login(api_client, member.email, "wrong-password")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    row = AuditEntry.objects.get(event_type="auth_failed")
    assert row.extra == {"email": member.email} and row.success is False
    assert "wrong-password" not in str(row.extra) + row.failure_reason + str(row.changes)


def test_me_needs_credentials_and_answers_401_with_bearer_challenge(api_client, db):
    response = api_client.get(reverse("api:auth-me"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_jwt(api_client, member):
    token = login(api_client, member.email).json()["access_token"]
    response = api_client.get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["email"] == member.email and response.json()["is_staff"] is False


def test_refresh_rotates_and_the_old_refresh_token_is_spent(api_client, member):
    pair = login(api_client, member.email).json()
    refreshed = api_client.post(reverse("api:auth-refresh"), {"refresh_token": pair["refresh_token"]}, format="json")
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]
    again = api_client.post(reverse("api:auth-refresh"), {"refresh_token": pair["refresh_token"]}, format="json")
    assert again.status_code == 401


def test_refresh_with_garbage_is_401(api_client, db):
    response = api_client.post(reverse("api:auth-refresh"), {"refresh_token": "garbage"}, format="json")
    assert response.status_code == 401


def test_logout_revokes_the_refresh_token(api_client, member):
    pair = login(api_client, member.email).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    response = api_client.post(reverse("api:auth-logout"), {"refresh_token": pair["refresh_token"]}, format="json")
    assert response.status_code == 200 and "message" in response.json()
    assert AuditEntry.objects.filter(event_type="auth_logout", actor=member).count() == 1
    api_client.credentials()
    refused = api_client.post(reverse("api:auth-refresh"), {"refresh_token": pair["refresh_token"]}, format="json")
    assert refused.status_code == 401


def test_logout_with_someone_elses_refresh_token_is_refused(api_client, member, owner):
    theirs = login(api_client, owner.email).json()["refresh_token"]
    mine = login(api_client, member.email).json()["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {mine}")
    response = api_client.post(reverse("api:auth-logout"), {"refresh_token": theirs}, format="json")
    assert response.status_code == 401
    api_client.credentials()
    assert api_client.post(reverse("api:auth-refresh"), {"refresh_token": theirs}, format="json").status_code == 200


def test_deactivated_users_tokens_stop_working(api_client, member):
    pair = login(api_client, member.email).json()
    member.is_active = False
    member.save()
    assert api_client.get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401
    assert api_client.post(reverse("api:auth-refresh"), {"refresh_token": pair["refresh_token"]}, format="json").status_code == 401


def test_deleted_users_refresh_is_401_not_500(api_client, db):
    from rest_framework_simplejwt.tokens import RefreshToken

    user = UserFactory(email="gone@example.com")
    refresh = str(RefreshToken.for_user(user))
    user.delete()  # no audit row names this user as actor yet, so nothing PROTECTs it
    response = api_client.post(reverse("api:auth-refresh"), {"refresh_token": refresh}, format="json")
    assert response.status_code == 401


def test_login_throttle_gives_429_with_retry_after(api_client, member, monkeypatch):
    from accounts.throttles import LoginThrottle

    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "3/min"})
    statuses = [login(api_client, member.email, "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = login(api_client, member.email)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "X-Correlation-ID" in response


def test_forwarded_for_cannot_dodge_the_login_throttle(api_client, member, monkeypatch):
    from accounts.throttles import LoginThrottle

    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "2/min"})
    statuses = [
        api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "x"}, format="json",
                        HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]
    assert statuses[-1] == 429


def test_a_forwarded_address_is_believed_only_from_a_listed_proxy(api_client, member, settings, monkeypatch):
    """With TRUSTED_PROXIES set, a client that is not the proxy cannot rotate
    X-Forwarded-For to dodge the login throttle; requests through the listed proxy are keyed on the
    forwarded client address (each client its own budget), and the audit row names that address."""
    from accounts.throttles import LoginThrottle
    from audit.models import AuditEntry, AuditEventType

    settings.TRUSTED_PROXIES = ["10.9.9.9"]
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": "3/min"})

    def attempt(remote, forwarded):
        return api_client.post(reverse("api:auth-login"), {"email": member.email, "password": "wrong"}, format="json",
                               REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [attempt("127.0.0.1", f"203.0.113.{n}") for n in range(4)] == [401, 401, 401, 429]
    assert [attempt("10.9.9.9", "198.51.100.7") for _ in range(4)] == [401, 401, 401, 429]
    assert attempt("10.9.9.9", "198.51.100.8") == 401  # another client behind the proxy: its own budget
    addresses = list(AuditEntry.objects.filter(event_type=AuditEventType.AUTH_FAILED).values_list("remote_addr", flat=True))
    assert addresses.count("127.0.0.1") == 3 and addresses.count("198.51.100.7") == 3 and "203.0.113.1" not in addresses


def test_me_lists_my_projects_with_my_role_in_each(api_client, member, owner, viewer, outsider, project):
    """`project` has owner, member and viewer on its team; a deleted project and one the caller is not on
    are left out."""
    from projects.services import project_create, project_soft_delete

    mine = project_create(actor=member, name="Mine")
    gone = project_create(actor=member, name="Gone")
    project_soft_delete(project=gone, actor=member)
    project_create(actor=outsider, name="Not mine")
    token = login(api_client, member.email).json()["access_token"]
    body = api_client.get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["email"] == member.email
    assert [(item["name"], item["role"]) for item in body["projects"]] == sorted([("Mine", "owner"), (project.name, "member")])
    assert {item["id"] for item in body["projects"]} == {str(mine.pk), str(project.pk)}
    api_client.credentials()
    token = login(api_client, viewer.email).json()["access_token"]
    body = api_client.get(reverse("api:auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [(item["id"], item["name"], item["role"]) for item in body["projects"]] == [(str(project.pk), project.name, "viewer")]
