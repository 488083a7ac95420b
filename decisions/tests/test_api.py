import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.transitions import perform_transition
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory, two_options
from projects.tests.factories import ProjectFactory


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def url(decision, suffix=""):
    return reverse("api:decision-detail", args=[decision.pk]) + suffix


@pytest.fixture
def active_project(project, owner):
    perform_transition(project, "activate", actor=owner)
    return project


def create_body(target, **extra):
    return {"project": str(target.pk), "title": "Pick a DB", "question": "Which DB?", "options": two_options(), **extra}


@pytest.mark.parametrize("role,status", [("operator", 201), ("owner", 201), ("member", 201), ("viewer", 403), ("outsider", 404)])
def test_create_permissions(api_client, active_project, roles, role, status):
    response = as_user(api_client, roles[role]).post(reverse("api:decision-list"), create_body(active_project), format="json")
    assert response.status_code == status
    assert Decision.objects.count() == (1 if status == 201 else 0)
    if status == 201:
        assert response.json()["state"] == "draft" and response.json()["created_by"] == str(roles[role].pk)


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"options": "nope"}, "options"),
        ({"options": [{"id": "a"}]}, "options"),
        ({"options": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}, "options"),
        ({"options": [1, 2]}, "options"),
        ({"tags": "x"}, "tags"),
        ({"tags": [{"a": 1}]}, "tags"),
        ({"title": ""}, "title"),
        ({"review_by": "tomorrow"}, "review_by"),
        ({"selected_option": "a"}, "selected_option"),
        ({"state": "decided"}, "state"),
        ({"related_decisions": ["not-a-uuid"]}, "related_decisions"),
        ({"related_decisions": ["00000000-0000-0000-0000-000000000000"]}, "related_decisions"),
        ({"supersedes": "00000000-0000-0000-0000-000000000000"}, "supersedes"),
        ({"project": "not a slug!"}, "project"),
    ],
)
def test_create_rejects_bad_input(api_client, active_project, member, extra, field):
    response = as_user(api_client, member).post(reverse("api:decision-list"), create_body(active_project, **extra), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Decision.objects.count() == 0


def test_related_decision_from_another_project_is_400(api_client, active_project, member, operator):
    foreign = DecisionFactory(project=ProjectFactory())
    response = as_user(api_client, operator).post(
        reverse("api:decision-list"), create_body(active_project, related_decisions=[str(foreign.pk)]), format="json")
    assert response.status_code == 400 and "related_decisions" in response.json()["errors"]
    assert Decision.objects.filter(project=active_project).count() == 0


def test_project_outside_the_callers_projects_is_404(api_client, outsider, active_project):
    response = as_user(api_client, outsider).post(reverse("api:decision-list"), create_body(active_project), format="json")
    assert response.status_code == 404


def test_full_lifecycle_over_the_api(api_client, active_project, owner, member):
    created = as_user(api_client, member).post(reverse("api:decision-list"), create_body(active_project, tags=["db"]), format="json").json()
    decision = Decision.objects.get(pk=created["id"])
    activated = api_client.post(url(decision, "activate/"), {"rationale": "ready"}, format="json")
    assert activated.status_code == 200 and activated.json()["decision"]["state"] == "active"
    assert api_client.post(url(decision, "decide/"), {"selected_option": "a"}, format="json").status_code == 403
    as_user(api_client, owner)
    decided = api_client.post(url(decision, "decide/"), {"selected_option": "a"}, format="json")
    assert decided.status_code == 200
    body = decided.json()
    assert body["decision"]["selected_option"] == "a" and body["warnings"]
    assert AuditEntry.objects.get(pk=body["audit_id"]).event_name == "decision.decide"
    assert api_client.patch(url(decision), {"title": "late"}, format="json").status_code == 409
    assert api_client.delete(url(decision)).status_code == 409
    archived = api_client.post(url(decision, "archive/"), {}, format="json")
    assert archived.json()["decision"]["state"] == "archived"


def test_activate_missing_requirements_is_400_with_missing(api_client, active_project, member):
    decision = DecisionFactory(project=active_project, question="", options=[{"id": "a", "label": "A"}])
    response = as_user(api_client, member).post(url(decision, "activate/"), {}, format="json")
    assert response.status_code == 400
    assert response.json()["missing"] == ["has_question", "has_two_options"]
    transitions = api_client.get(url(decision, "transitions/")).json()
    assert transitions == {"current_state": "draft", "allowed_transitions": ["activate"]}


def test_decide_unknown_option_and_wrong_state(api_client, active_project, owner):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    client = as_user(api_client, owner)
    response = client.post(url(decision, "decide/"), {"selected_option": "zzz", "rationale": "r"}, format="json")
    assert response.status_code == 400 and response.json()["missing"] == ["has_valid_selected_option"]
    assert client.post(url(decision, "decide/"), {}, format="json").status_code == 400
    conflict = client.post(url(decision, "activate/"), {}, format="json")
    assert conflict.status_code == 409 and conflict.json()["current_state"] == "active"
    assert set(conflict.json()["allowed_transitions"]) == {"decide", "archive"}


def test_update_edits_and_relates_within_the_project(api_client, active_project, member):
    decision = DecisionFactory(project=active_project)
    other = DecisionFactory(project=active_project)
    response = as_user(api_client, member).patch(
        url(decision), {"title": "Renamed", "related_decisions": [str(other.pk)], "tags": ["a", "b"]}, format="json")
    assert response.status_code == 200
    assert response.json()["related_decisions"] == [str(other.pk)]
    assert response.json()["tags"] == ["a", "b"]
    assert api_client.patch(url(decision), {"project": str(active_project.pk)}, format="json").status_code == 400


def test_viewer_cannot_edit_but_can_read(api_client, active_project, viewer):
    decision = DecisionFactory(project=active_project)
    client = as_user(api_client, viewer)
    assert client.get(url(decision)).status_code == 200
    assert client.patch(url(decision), {"title": "x"}, format="json").status_code == 403
    assert client.post(url(decision, "activate/"), {}, format="json").status_code == 403
    assert client.delete(url(decision)).status_code == 403
    assert AuditEntry.objects.filter(event_type="permission_denied", actor=viewer).count() == 3


def test_list_filters(api_client, active_project, member):
    DecisionFactory(project=active_project, tags=["db", "infra"], title="Storage choice")
    DecisionFactory(project=active_project, tags=["ui"], state=DecisionState.ACTIVE)
    DecisionFactory(project=ProjectFactory())
    client = as_user(api_client, member)
    assert client.get(reverse("api:decision-list")).json()["count"] == 2
    assert client.get(reverse("api:decision-list"), {"tag": "db"}).json()["count"] == 1
    assert client.get(reverse("api:decision-list"), {"state": "active"}).json()["count"] == 1
    assert client.get(reverse("api:decision-list"), {"search": "storage"}).json()["count"] == 1
    assert client.get(reverse("api:decision-list"), {"project": str(active_project.pk)}).json()["count"] == 2
    hidden = ProjectFactory()
    assert client.get(reverse("api:decision-list"), {"project": str(hidden.pk)}).status_code == 404


def test_decision_audit_and_record(api_client, active_project, owner):
    older = DecisionFactory(project=active_project, state=DecisionState.DECIDED, selected_option="a", title="Old choice")
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE, supersedes=older, title="New choice")
    perform_transition(decision, "decide", actor=owner, selected_option="b", rationale="it is simpler")
    client = as_user(api_client, owner)
    audit = client.get(url(decision, "audit/")).json()["results"]
    assert [row["event_name"] for row in audit] == ["decision.decide", "decision.created"]
    record = client.get(url(decision, "record.md"))
    assert record.status_code == 200 and record["Content-Type"].startswith("text/markdown")
    text = record.content.decode()
    assert text.startswith("# New choice")
    assert "Status: decided" in text and 'Chosen option: "Option B"' in text and "it is simpler" in text
    assert "Good, because cheap" in text and "Supersedes [Old choice]" in text
    assert client.get(url(older, "record.md")).content.decode().count("Superseded by [New choice]") == 1


def test_decision_list_queries_do_not_grow_with_rows(api_client, active_project, member, django_assert_num_queries):
    DecisionFactory.create_batch(2, project=active_project)
    api_client.force_authenticate(member)
    # The count, the page, and one query each for related decisions, superseded_by and reviewers.
    with django_assert_num_queries(5):
        api_client.get(reverse("api:decision-list"))
    DecisionFactory.create_batch(20, project=active_project)
    with django_assert_num_queries(5):
        api_client.get(reverse("api:decision-list"))


def test_a_single_decisions_body_says_what_the_caller_may_run(api_client, active_project, owner, member):
    created = as_user(api_client, member).post(reverse("api:decision-list"), create_body(active_project), format="json").json()
    assert [item["name"] for item in created["allowed_transitions"]] == ["activate"]
    decision = Decision.objects.get(pk=created["id"])
    activated = api_client.post(url(decision, "activate/"), {"rationale": "ready"}, format="json").json()["decision"]
    # A member may not decide or archive: the same rule as transitions/.
    assert activated["allowed_transitions"] == []
    assert api_client.get(url(decision, "transitions/")).json()["allowed_transitions"] == []
    as_user(api_client, owner)
    body = api_client.get(url(decision)).json()
    assert {item["name"]: item["to_state"] for item in body["allowed_transitions"]} == {"decide": "decided",
                                                                                        "archive": "archived"}
    assert "allowed_transitions" not in api_client.get(reverse("api:decision-list")).json()["results"][0]
    assert AuditEntry.objects.filter(event_name="decision.activate", success=True, actor=member).count() == 1
