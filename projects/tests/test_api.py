import pytest
from django.urls import reverse

from audit.models import AuditEntry
from accounts.tests.factories import PASSWORD
from core.transitions import perform_transition
from projects.models import Membership, Project, ProjectState
from projects.tests.factories import MembershipFactory, ProjectFactory

ROLES = ["operator", "owner", "member", "viewer", "outsider"]


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def detail(project, suffix=""):
    return reverse("api:project-detail", args=[project.pk]) + suffix


def test_create_makes_the_caller_owner(api_client, member):
    response = as_user(api_client, member).post(reverse("api:project-list"), {"name": "Apollo", "settings": {"flags": {"x": True}}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "proposed" and body["owner"]["id"] == str(member.pk) and body["slug"] == "apollo"
    assert AuditEntry.objects.get(event_name="project.created").actor == member


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5, "settings": []}, "settings"),
        ({"name": "x", "settings": "nope"}, "settings"),
        ({"name": "x", "metadata": [1]}, "metadata"),
        ({"name": "x", "metadata": {"a": "\u0000"}}, "metadata"),
        ({"name": "x", "state": "active"}, "state"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "repo_url": "not a url"}, "repo_url"),
        ({"name": "x", "slug": "bad slug!"}, "slug"),
    ],
)
def test_create_rejects_bad_input_without_partial_rows(api_client, member, body, field):
    response = as_user(api_client, member).post(reverse("api:project-list"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Project.objects.count() == 0


def test_malformed_json_is_400(api_client, member):
    response = as_user(api_client, member).post(reverse("api:project-list"), "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_oversized_body_is_refused(api_client, member, settings):
    response = as_user(api_client, member).post(
        reverse("api:project-list"), {"name": "x", "description": "y" * (2 * 1024 * 1024)}, format="json"
    )
    assert response.status_code in (400, 413)
    assert Project.objects.count() == 0


@pytest.mark.parametrize("role,status", [("operator", 200), ("owner", 200), ("member", 200), ("viewer", 200), ("outsider", 404)])
def test_retrieve_visibility(api_client, project, roles, role, status):
    assert as_user(api_client, roles[role]).get(detail(project)).status_code == status


def test_invalid_uuid_in_path_is_404(api_client, member):
    assert as_user(api_client, member).get("/api/v1/projects/not-a-uuid/").status_code == 404


def test_anonymous_is_401(api_client, project):
    response = api_client.get(reverse("api:project-list"))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role,status", [("operator", 200), ("owner", 200), ("member", 403), ("viewer", 403), ("outsider", 404)])
def test_update_permissions(api_client, project, roles, role, status):
    response = as_user(api_client, roles[role]).patch(detail(project), {"description": "changed"}, format="json")
    assert response.status_code == status
    project.refresh_from_db()
    assert (project.description == "changed") == (status == 200)
    if status == 403:
        row = AuditEntry.objects.get(event_type="permission_denied")
        assert row.actor == roles[role] and row.event_name == "project.update"


def test_state_is_not_writable(api_client, project, owner):
    response = as_user(api_client, owner).patch(detail(project), {"state": "killed"}, format="json")
    assert response.status_code == 400 and "state" in response.json()["errors"]
    assert Project.objects.get(pk=project.pk).state == ProjectState.PROPOSED


def test_delete_only_when_proposed(api_client, project, owner):
    client = as_user(api_client, owner)
    perform_transition(project, "activate", actor=owner)
    assert client.delete(detail(project)).status_code == 409
    fresh = ProjectFactory(owner=owner)
    assert client.delete(detail(fresh)).status_code == 204
    assert client.get(detail(fresh)).status_code == 404


@pytest.mark.parametrize("role,status", [("operator", 200), ("owner", 200), ("member", 403), ("viewer", 403), ("outsider", 404)])
def test_transition_permissions(api_client, project, roles, role, status):
    response = as_user(api_client, roles[role]).post(detail(project, "activate/"), {"rationale": "go"}, format="json")
    assert response.status_code == status
    expected = ProjectState.ACTIVE if status == 200 else ProjectState.PROPOSED
    assert Project.objects.get(pk=project.pk).state == expected
    if status == 403:
        assert AuditEntry.objects.filter(event_type="permission_denied", actor=roles[role]).count() == 1
    if status == 404:
        assert not AuditEntry.objects.filter(success=False).exists()


def test_transition_success_body(api_client, project, owner):
    response = as_user(api_client, owner).post(detail(project, "activate/"), {"rationale": "kick-off"}, format="json")
    body = response.json()
    assert body["success"] is True and body["project"]["state"] == "active"
    entry = AuditEntry.objects.get(pk=body["audit_id"])
    assert (entry.event_name, entry.rationale, entry.actor) == ("project.activate", "kick-off", owner)


def test_transition_from_wrong_state_is_409_with_allowed(api_client, project, owner):
    response = as_user(api_client, owner).post(detail(project, "pause/"), {}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Cannot pause a project that is proposed.",
        "code": "invalid_state",
        "current_state": "proposed",
        "allowed_transitions": ["activate", "kill"],
    }
    assert AuditEntry.objects.filter(event_type="transition_denied", event_name="project.pause").count() == 1


def test_transition_rejects_unknown_fields_and_bad_types(api_client, project, owner):
    client = as_user(api_client, owner)
    assert client.post(detail(project, "activate/"), {"rationale": ["x"]}, format="json").status_code == 400
    assert client.post(detail(project, "activate/"), {"rational": "typo"}, format="json").status_code == 400
    assert Project.objects.get(pk=project.pk).state == ProjectState.PROPOSED


def test_transitions_endpoint_is_per_user(api_client, project, owner, member):
    assert as_user(api_client, owner).get(detail(project, "transitions/")).json() == {
        "current_state": "proposed", "allowed_transitions": ["activate", "kill"]}
    assert as_user(api_client, member).get(detail(project, "transitions/")).json()["allowed_transitions"] == []


def test_jwt_transition_records_the_real_actor_and_correlation_id(api_client, project, owner):
    token = api_client.post(reverse("api:auth-login"), {"email": owner.email, "password": PASSWORD}, format="json").json()["access_token"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_CORRELATION_ID": "jwt-call-1"}
    response = api_client.patch(detail(project), {"description": "via jwt"}, format="json", **headers)
    assert response.status_code == 200 and response["X-Correlation-ID"] == "jwt-call-1"
    api_client.post(detail(project, "activate/"), {}, format="json", **headers)
    rows = AuditEntry.objects.filter(cid="jwt-call-1").order_by("id")
    assert [r.event_type for r in rows] == ["entity_updated", "transition_success"]
    assert all(r.actor == owner and r.actor_type == "user" and r.actor_email == owner.email for r in rows)
    assert all(r.remote_addr == "127.0.0.1" for r in rows)


def test_jwt_actor_is_right_even_on_direct_model_saves(api_client, project, owner):
    """Rows auditlog writes outside our services take the actor from the lazy middleware context."""
    token = api_client.post(reverse("api:auth-login"), {"email": owner.email, "password": PASSWORD}, format="json").json()["access_token"]
    from core.request_context import AuditContextMiddleware

    seen = {}

    def view(request):
        from rest_framework.request import Request
        from rest_framework_simplejwt.authentication import JWTAuthentication

        drf_request = Request(request, authenticators=[JWTAuthentication()])
        drf_request.user  # DRF authenticates and sets request.user on the Django request
        project.description = "direct save"
        project.save()
        seen["ok"] = True
        from django.http import HttpResponse

        return HttpResponse()

    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    AuditContextMiddleware(view)(request)
    assert seen["ok"]
    assert AuditEntry.objects.filter(event_name="project.updated").latest("id").actor == owner


def test_team_management_api(api_client, project, owner, outsider, member, viewer):
    client = as_user(api_client, owner)
    listed = client.get(detail(project, "team/")).json()
    assert {m["user"]["email"] for m in listed} == {member.email, viewer.email}
    added = client.post(detail(project, "team/"), {"user_id": str(outsider.pk), "role": "viewer"}, format="json")
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    assert client.post(detail(project, "team/"), {"user_id": "00000000-0000-0000-0000-000000000000"}, format="json").status_code == 400
    assert client.post(detail(project, "team/"), {"user_id": "nope"}, format="json").status_code == 400
    assert client.post(detail(project, "team/"), {"user_id": str(outsider.pk), "role": "boss"}, format="json").status_code == 400
    assert client.delete(detail(project, f"team/{outsider.pk}/")).status_code == 204
    assert client.delete(detail(project, f"team/{outsider.pk}/")).status_code == 404
    assert client.delete(detail(project, "team/garbage/")).status_code == 404
    assert not Membership.objects.filter(user=outsider).exists()
    as_user(api_client, member)
    assert api_client.post(detail(project, "team/"), {"user_id": str(outsider.pk)}, format="json").status_code == 403


def test_owner_adds_people_by_email_too(api_client, project, owner, outsider):
    client = as_user(api_client, owner)

    added = client.post(detail(project, "team/"), {"email": "OUTSIDER@example.com", "role": "viewer"}, format="json")
    unknown = client.post(detail(project, "team/"), {"email": "nobody-here@example.com"}, format="json")
    both = client.post(detail(project, "team/"), {"email": outsider.email, "user_id": str(outsider.pk)}, format="json")

    assert added.status_code == 201 and added.json()["user"]["email"] == outsider.email
    assert (unknown.status_code, unknown.json()["errors"]) == (400, {"email": ["There is no user with this email address."]})
    assert both.status_code == 400
    assert Membership.objects.get(project=project, user=outsider).role == "viewer"
    assert AuditEntry.objects.filter(event_name="membership.created").latest("id").actor == owner


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_a_refused_team_add_is_the_same_403_whether_or_not_the_person_exists(api_client, roles, project, outsider,
                                                                             role):
    client = as_user(api_client, roles[role])
    bodies = [{"email": outsider.email}, {"email": "nobody-here@example.com"},
              {"user_id": str(outsider.pk)}, {"user_id": "00000000-0000-0000-0000-000000000000"}]

    answers = [client.post(detail(project, "team/"), body, format="json") for body in bodies]

    assert {(answer.status_code, answer.content) for answer in answers} == {
        (403, b'{"detail":"Only the owner or an operator can manage the team.","code":"permission_denied"}')}
    assert not Membership.objects.filter(user=outsider).exists()
    denied = AuditEntry.objects.filter(event_type="permission_denied").order_by("id")
    assert [(row.actor, row.event_name, row.success, row.project_id) for row in denied] == [
        (roles[role], "project.team_add", False, project.pk)] * 4


def test_project_audit_lists_its_rows_newest_first(api_client, project, owner, viewer):
    perform_transition(project, "activate", actor=owner)
    response = as_user(api_client, viewer).get(detail(project, "audit/"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["event_name"] == "project.activate"
    assert [r["id"] for r in results] == sorted((r["id"] for r in results), reverse=True)
    assert {"next", "previous", "results"} <= set(response.json())


def test_list_filters_and_pagination(api_client, owner, member):
    ProjectFactory.create_batch(3, owner=owner, name="Alpha thing")
    active = ProjectFactory(owner=owner, name="Beta", state=ProjectState.ACTIVE)
    MembershipFactory(project=active, user=member)
    client = as_user(api_client, owner)
    body = client.get(reverse("api:project-list"), {"limit": 2}).json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    assert [p["name"] for p in client.get(reverse("api:project-list"), {"state": "active"}).json()["results"]] == ["Beta"]
    assert client.get(reverse("api:project-list"), {"search": "alpha"}).json()["count"] == 3
    assert client.get(reverse("api:project-list"), {"member": str(member.pk)}).json()["count"] == 1
    assert client.get(reverse("api:project-list"), {"state": "bogus"}).status_code == 400
    assert client.get(reverse("api:project-list"), {"limit": 1000}).json()["count"] == 4
    ordered = client.get(reverse("api:project-list"), {"ordering": "name"}).json()["results"]
    assert [p["name"] for p in ordered][0] == "Alpha thing"


def test_project_list_queries_do_not_grow_with_rows(api_client, member, django_assert_num_queries):
    MembershipFactory.create_batch(2, user=member)
    api_client.force_authenticate(member)
    with django_assert_num_queries(2):
        api_client.get(reverse("api:project-list"))
    MembershipFactory.create_batch(20, user=member)
    with django_assert_num_queries(2):
        api_client.get(reverse("api:project-list"))


def test_a_created_rows_changes_name_only_the_projects_own_fields(api_client, member):
    """Reverse relations (its team, decisions, entity states, webhooks…) have no value of their own: a
    create's changes list none of them, in the row and in what the events API (and so webhooks) carries."""
    response = as_user(api_client, member).post(reverse("api:project-list"), {"name": "Apollo"}, format="json")
    assert response.status_code == 201
    row = AuditEntry.objects.get(event_name="project.created")
    own = {field.name for field in Project._meta.get_fields() if field.concrete}
    assert set(row.changes) <= own and {"name", "slug", "owner"} <= set(row.changes)
    assert not [name for name, (_, new) in row.changes.items() if str(new).endswith(".None")]
    event = api_client.get(reverse("api:event-detail", args=[row.pk])).json()
    assert set(event["changes"]) == set(row.changes)


def test_a_single_projects_body_says_what_the_caller_may_run_and_where_it_leads(api_client, project, owner, viewer):
    """retrieve, create, update and a transition's answer carry allowed_transitions for the caller, each
    with its target state; lists leave it out."""
    as_user(api_client, owner)
    body = api_client.get(detail(project)).json()
    assert body["allowed_transitions"] == [{"name": "activate", "to_state": "active"},
                                           {"name": "kill", "to_state": "killed"}]
    moved = api_client.post(detail(project, "activate/"), {"rationale": "go"}, format="json").json()["project"]
    assert moved["state"] == "active"
    assert {item["name"]: item["to_state"] for item in moved["allowed_transitions"]} == {
        "pause": "paused", "complete": "completed", "kill": "killed"}
    assert AuditEntry.objects.filter(event_name="project.activate", success=True).count() == 1
    edited = api_client.patch(detail(project), {"description": "x"}, format="json").json()
    assert edited["allowed_transitions"] == moved["allowed_transitions"]
    created = api_client.post(reverse("api:project-list"), {"name": "New"}, format="json").json()
    assert [item["name"] for item in created["allowed_transitions"]] == ["activate", "kill"]
    assert "allowed_transitions" not in api_client.get(reverse("api:project-list")).json()["results"][0]
    # The same rule as transitions/: a viewer may run nothing.
    as_user(api_client, viewer)
    assert api_client.get(detail(project)).json()["allowed_transitions"] == []
    assert api_client.get(detail(project, "transitions/")).json()["allowed_transitions"] == []
