"""Service accounts call the API with `Authorization: Api-Key <key>`, under the same
rules as people, and their audit rows say actor_type=service; CORS for listed browser origins.

Keys are made the way operators make them (`manage.py service_key`, the admin); every call goes
through the test client with the real middleware.
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ServiceKey, User
from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies
from core.transitions import perform_transition
from projects.models import Membership, Project
from projects.tests.factories import ProjectFactory
from states.models import EntityState


def create_key(project, *, service="ci-bot", role="member", expires=None) -> str:
    out, err = io.StringIO(), io.StringIO()
    args = ["service_key", "create", "--service", service, "--project", project.slug, "--role", role]
    if expires:
        args += ["--expires", str(expires)]
    call_command(*args, stdout=out, stderr=err)
    assert "not shown again" in err.getvalue()
    return out.getvalue().strip()


def as_service(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def active_project(project, owner):
    perform_transition(project, "activate", actor=owner)
    return project


def test_the_command_makes_the_account_its_role_and_a_key_shown_once(active_project):
    key = create_key(active_project)

    service = User.objects.get(email="ci-bot@service.invalid")
    assert service.is_service and not service.is_staff and not service.has_usable_password()
    assert Membership.objects.get(project=active_project, user=service).role == "member"
    stored = ServiceKey.objects.get(service=service)
    assert key.startswith(stored.prefix + ".") and key not in stored.hashed_key and key not in stored.pk
    rows = {row.event_name: row for row in AuditEntry.objects.filter(success=True)}
    assert rows["service_key.created"].entity_id == stored.prefix
    assert key.split(".")[1] not in str(rows["service_key.created"].extra)
    assert rows["membership.created"].actor_type == "system"


def test_a_service_key_registers_and_moves_an_entity_and_the_rows_say_service(active_project):
    client = as_service(create_key(active_project))

    registered = client.post("/api/v1/entity-states/", {"service": "ci", "entity_type": "task", "entity_id": "build-7",
                                                         "project": str(active_project.pk)}, format="json")
    moved = client.post("/api/v1/entity-states/ci/task/build-7/transition/", {"to_state": "in_progress"}, format="json")

    assert registered.status_code == 201, registered.content
    assert moved.status_code == 200, moved.content
    entity = EntityState.objects.get(entity_id="build-7")
    assert entity.current_state == "in_progress" and entity.registered_by.email == "ci-bot@service.invalid"
    created = AuditEntry.objects.get(event_name="entity_state.created")
    transition = AuditEntry.objects.get(event_name="task.transition", success=True)
    for row in (created, transition):
        assert (row.actor_type, row.actor_email) == ("service", "ci-bot@service.invalid")
    assert moved.json()["audit_id"] == transition.pk
    assert_trail_verifies()


def test_a_viewer_service_is_refused_like_a_viewer_and_the_refusal_says_service(active_project):
    client = as_service(create_key(active_project, service="dashboard", role="viewer"))

    read = client.get(f"/api/v1/projects/{active_project.pk}/")
    refused = client.post("/api/v1/entity-states/", {"service": "ci", "entity_type": "task", "entity_id": "1",
                                                      "project": str(active_project.pk)}, format="json")

    assert read.status_code == 200
    assert refused.status_code == 403
    row = AuditEntry.objects.get(event_type="permission_denied")
    assert (row.actor_type, row.actor_email) == ("service", "dashboard@service.invalid")
    assert not EntityState.objects.exists()


def test_a_service_sees_only_its_projects_and_creates_none(active_project, owner):
    other = ProjectFactory(owner=owner)
    client = as_service(create_key(active_project))

    assert client.get(f"/api/v1/projects/{other.pk}/").status_code == 404
    assert [p["id"] for p in client.get("/api/v1/projects/").json()["results"]] == [str(active_project.pk)]
    created = client.post("/api/v1/projects/", {"name": "By a bot"}, format="json")
    assert created.status_code == 403
    assert not Project.objects.filter(name="By a bot").exists()
    assert AuditEntry.objects.get(event_name="project.create", success=False).actor_type == "service"


def test_revoked_expired_and_garbage_keys_are_401(active_project):
    key = create_key(active_project)
    assert as_service(key).get("/api/v1/projects/").status_code == 200

    call_command("service_key", "revoke", key.split(".")[0], stdout=io.StringIO())
    revoked = as_service(key).get("/api/v1/projects/")

    expiring = create_key(active_project, expires=1)
    ServiceKey.objects.filter(prefix=expiring.split(".")[0]).update(expiry_date=timezone.now() - timedelta(seconds=1))
    expired = as_service(expiring).get("/api/v1/projects/")

    assert (revoked.status_code, revoked.json()["detail"]) == (401, "Invalid API key.")
    assert (expired.status_code, expired.json()["detail"]) == (401, "This API key has expired.")
    for garbage in ("nodot", key.split(".")[0] + ".wrong-secret", "a b"):
        assert as_service(garbage).get("/api/v1/projects/").status_code == 401
    assert AuditEntry.objects.filter(event_name="service_key.revoked").count() == 1


def test_rotation_two_keys_work_until_the_old_one_is_revoked(active_project):
    old, new = create_key(active_project), create_key(active_project)
    assert ServiceKey.objects.filter(service__email="ci-bot@service.invalid").count() == 2
    assert as_service(old).get("/api/v1/projects/").status_code == 200
    assert as_service(new).get("/api/v1/projects/").status_code == 200

    call_command("service_key", "revoke", old.split(".")[0], stdout=io.StringIO())

    assert as_service(old).get("/api/v1/projects/").status_code == 401
    assert as_service(new).get("/api/v1/projects/").status_code == 200
    listing = io.StringIO()
    call_command("service_key", "list", "--all", stdout=listing)
    assert "revoked" in listing.getvalue() and "valid" in listing.getvalue()


def test_a_deactivated_service_is_401(active_project):
    key = create_key(active_project)
    service = User.objects.get(email="ci-bot@service.invalid")
    service.is_active = False
    service.save()

    assert as_service(key).get("/api/v1/projects/").status_code == 401


def test_each_key_has_its_own_throttle(active_project, monkeypatch):
    from accounts.throttles import ServiceKeyRateThrottle

    monkeypatch.setattr(ServiceKeyRateThrottle, "THROTTLE_RATES", {**ServiceKeyRateThrottle.THROTTLE_RATES, "service": "3/min"})
    first, second = create_key(active_project), create_key(active_project)

    statuses = [as_service(first).get("/api/v1/projects/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert as_service(second).get("/api/v1/projects/").status_code == 200


def test_the_command_refuses_bad_input_without_a_trace(active_project):
    for args, message in ((["--service", "Bad Name!", "--project", active_project.slug, "--role", "member"], "service name"),
                          (["--service", "ok", "--project", "nope", "--role", "member"], "No live project")):
        with pytest.raises(CommandError, match=message):
            call_command("service_key", "create", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not User.objects.filter(is_service=True).exists()
    assert not ServiceKey.objects.exists()


def test_operators_make_and_revoke_keys_in_the_admin(client, operator, active_project):
    create_key(active_project)  # the account exists
    service = User.objects.get(email="ci-bot@service.invalid")
    client.force_login(operator)

    response = client.post(reverse("admin:accounts_servicekey_add"), {"service": str(service.pk), "name": "deploys",
                                                                      "expiry_date_0": "", "expiry_date_1": ""},
                           follow=True)

    shown = [str(message) for message in response.context["messages"]]
    key = next(message.split("is: ")[1].split(" ")[0] for message in shown if "is: " in message)
    assert as_service(key).get("/api/v1/projects/").status_code == 200
    stored = ServiceKey.objects.get(prefix=key.split(".")[0])
    assert AuditEntry.objects.get(event_name="service_key.created", entity_id=stored.prefix).actor == operator

    client.post(reverse("admin:accounts_servicekey_changelist"), {"action": "revoke_selected",
                                                                  "_selected_action": [stored.pk]})
    assert as_service(key).get("/api/v1/projects/").status_code == 401


def test_the_api_docs_describe_the_api_key_scheme(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["apiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert {"apiKeyAuth": []} in schema["paths"]["/api/v1/projects/"]["get"]["security"]


# --- CORS ------------------------------------------------------------------------------------

def test_cors_preflight_from_a_listed_origin_and_an_unlisted_one(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization, content-type"}

    listed = client.options("/api/v1/projects/", HTTP_ORIGIN="https://app.example.com", **preflight)
    unlisted = client.options("/api/v1/projects/", HTTP_ORIGIN="https://evil.example", **preflight)
    page = client.options("/login", HTTP_ORIGIN="https://app.example.com", **preflight)

    assert listed.status_code == 200
    assert listed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert listed["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in listed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in unlisted
    assert "Access-Control-Allow-Origin" not in page  # only the API is cross-origin


def test_no_origin_is_allowed_by_default(client):
    response = client.options("/api/v1/projects/", HTTP_ORIGIN="https://app.example.com",
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_an_api_key_holding_a_null_or_control_character_is_a_401_not_a_500(client):
    for raw in ("abc\x00def.secret", "abc\x01.secret"):
        response = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
        assert response.status_code == 401 and response.json()["detail"] == "Invalid API key."
