"""/api/v1/state-machines/ and /api/v1/entity-states/: status codes, bodies, DB state and audit rows."""

import pytest
from django.urls import reverse
from rest_framework_simplejwt.tokens import AccessToken

from audit.models import AuditEntry, AuditEventType
from states.models import EntityState
from states.permission_matrix import permission_matrix
from states.registry import get_definition
from states.tests.factories import EntityStateFactory
from core.transitions import TransitionForbidden, perform_transition
from projects.models import Project, ProjectState
from projects.tests.factories import ProjectFactory

CID = "states-test-cid-42"
LIST = reverse("api:entity-state-list")


def _detail(entity, name="detail"):
    return reverse(f"api:entity-state-{name}", kwargs={
        "service": entity.service, "entity_type": entity.entity_type, "entity_id": entity.entity_id})


def _register_body(project=None, **fields):
    body = {"service": "task-runner", "entity_type": "task", "entity_id": "T-100", **fields}
    if project is not None:
        body["project"] = str(project.pk)
    return body


def _as(api_client, user):
    api_client.force_authenticate(user)
    return api_client


# --- State machines ----------------------------------------------------------------------------------


def test_state_machines_need_credentials(api_client, db):
    response = api_client.get(reverse("api:state-machine-list"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_state_machine_list_is_paginated_and_complete(api_client, viewer):
    response = _as(api_client, viewer).get(reverse("api:state-machine-list"))

    assert response.status_code == 200
    assert response.data["count"] == 5
    assert [row["entity_type"] for row in response.data["results"]] == [
        "project", "decision", "task", "hypothesis", "evidence"]


@pytest.mark.parametrize("entity_type", ["project", "decision", "task", "hypothesis", "evidence"])
def test_state_machine_detail_is_the_registry_definition(entity_type, api_client, member):
    response = _as(api_client, member).get(reverse("api:state-machine-detail", args=[entity_type]))

    assert response.status_code == 200
    assert response.json() == get_definition(entity_type).as_dict()


def test_task_machine_names_targets_and_terminal_state(api_client, member):
    body = _as(api_client, member).get(reverse("api:state-machine-detail", args=["task"])).json()

    assert body["initial_state"] == "backlog"
    assert body["terminal_states"] == ["done"]
    assert body["transitions"]["review"] == [{"to": "done", "name": None}, {"to": "in_progress", "name": None}]


def test_unknown_state_machine_is_404(api_client, member):
    assert _as(api_client, member).get(reverse("api:state-machine-detail", args=["spaceship"])).status_code == 404


def test_permission_matrix_endpoint_serves_the_generated_matrix(api_client, member):
    response = _as(api_client, member).get(reverse("api:state-machine-permissions"))

    assert response.status_code == 200
    assert response.json() == permission_matrix()
    rows = {row["action"]: row for row in response.data["actions"]}
    assert rows["project.pause"]["roles"] == {
        "operator": "allowed", "owner": "allowed", "member": "forbidden", "viewer": "forbidden",
        "service_member": "forbidden", "service_viewer": "forbidden", "outsider": "hidden"}
    assert rows["entity_state.track"]["roles"]["service_member"] == "allowed"
    assert rows["entity_state.track"]["roles"]["service_viewer"] == "forbidden"
    assert rows["project.create"]["roles"]["service_member"] == "forbidden"
    assert rows["project.pause"]["rule"] == "core.access.can_steer"
    assert rows["decision.activate"]["roles"]["member"] == "allowed"
    assert rows["decision.decide"]["roles"]["member"] == "forbidden"
    assert rows["decision.restore"]["roles"]["member"] == "allowed"
    assert rows["decision.restore"]["roles"]["outsider"] == "forbidden"  # a member removed since the delete
    assert rows["project.restore"]["roles"]["member"] == "forbidden"
    assert {"project.activate", "project.resume", "project.complete", "project.kill", "decision.archive"} <= set(rows)


EXPECTED_STATUS = {"allowed": 201, "forbidden": 403, "hidden": 404}


@pytest.mark.parametrize("role", ["operator", "owner", "member", "viewer", "outsider"])
def test_matrix_entity_cell_is_what_registration_does(role, roles, project, api_client):
    cell = next(row for row in permission_matrix()["actions"] if row["action"] == "entity_state.track")["roles"][role]

    response = _as(api_client, roles[role]).post(LIST, _register_body(project), format="json")

    assert response.status_code == EXPECTED_STATUS[cell]


@pytest.mark.parametrize("role", ["operator", "owner", "member", "viewer", "outsider"])
def test_matrix_project_transition_cell_is_what_perform_transition_does(role, roles, project):
    cell = next(row for row in permission_matrix()["actions"] if row["action"] == "project.activate")["roles"][role]
    user = roles[role]

    if not Project.objects.visible_to(user).filter(pk=project.pk).exists():
        outcome = "hidden"
    else:
        try:
            perform_transition(project, "activate", actor=user)
            outcome = "allowed"
        except TransitionForbidden:
            outcome = "forbidden"

    assert outcome == cell


UNDO_STATUS = {"allowed": 302, "forbidden": 403, "hidden": 404}


@pytest.mark.parametrize("kind", ["project", "decision"])
@pytest.mark.parametrize("role", ["operator", "owner", "member", "viewer", "outsider"])
def test_matrix_undo_cell_is_what_the_pages_undo_does(kind, role, roles, project, client):
    """Each role as the one who deleted it a moment ago; the outsider stands for a member removed since."""
    from django.utils import timezone

    from decisions.models import Decision
    from decisions.tests.factories import DecisionFactory

    cell = next(row for row in permission_matrix()["actions"] if row["action"] == f"{kind}.restore")["roles"][role]
    user = roles[role]
    deleted = {"deleted_at": timezone.now(), "deleted_by": user}
    if kind == "project":
        Project._base_manager.filter(pk=project.pk).update(**deleted)
        obj, model = project, Project
    else:
        obj, model = DecisionFactory(project=project, **deleted), Decision
    client.force_login(user)

    response = client.post(reverse(f"{kind}_restore", args=[obj.pk]))

    assert response.status_code == UNDO_STATUS[cell]
    assert (model._base_manager.get(pk=obj.pk).deleted_at is None) == (cell == "allowed")
    refusals = AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, event_name=f"{kind}.restore")
    assert [row.actor for row in refusals] == ([user] if cell == "forbidden" else [])


# --- Registration ------------------------------------------------------------------------------------


def test_member_registers_a_task_and_the_registration_is_audited_with_the_cid(api_client, member, project):
    response = _as(api_client, member).post(LIST, _register_body(project, metadata={"title": "Docs"}),
                                            format="json", HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 201
    body = response.json()
    assert (body["current_state"], body["project"], body["registered_by"]) == ("backlog", str(project.pk),
                                                                              str(member.pk))
    assert body["allowed_next_states"] == ["in_progress", "blocked"]
    assert body["metadata"] == {"title": "Docs"}
    assert response.headers["Location"] == "/api/v1/entity-states/task-runner/task/T-100/"
    entity = EntityState.objects.get()
    row = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_id=str(entity.pk))
    assert (row.cid, row.actor, row.project_id, row.entity_type) == (CID, member, project.pk, "entity_state")


def test_registration_with_jwt_records_the_token_user(api_client, member, project):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(member)}")

    response = api_client.post(LIST, _register_body(project), format="json")

    assert response.status_code == 201
    row = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_type="entity_state")
    assert row.actor == member


def test_unknown_type_without_initial_state_is_400(api_client, member, project):
    response = _as(api_client, member).post(LIST, _register_body(project, entity_type="canvas"), format="json")

    assert response.status_code == 400
    assert "initial_state" in response.json()["errors"]
    assert not EntityState.objects.exists()


def test_unknown_type_with_initial_state_is_registered(api_client, member, project):
    response = _as(api_client, member).post(
        LIST, _register_body(project, entity_type="canvas", initial_state="sketch"), format="json")

    assert response.status_code == 201
    assert (response.data["current_state"], response.data["allowed_next_states"]) == ("sketch", None)


@pytest.mark.parametrize("entity_type", ["project", "decision"])
def test_model_governed_types_are_400(entity_type, api_client, operator, project):
    response = _as(api_client, operator).post(LIST, _register_body(project, entity_type=entity_type), format="json")

    assert response.status_code == 400
    assert "entity_type" in response.json()["errors"]


def test_duplicate_registration_is_409_and_recorded_with_the_cid(api_client, member, project):
    _as(api_client, member).post(LIST, _register_body(project), format="json")

    response = api_client.post(LIST, _register_body(project), format="json", HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 409
    assert "already registered" in response.json()["detail"]
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert (row.cid, row.event_name, row.success, row.actor) == (CID, "task.register", False, member)


def test_project_the_caller_cannot_see_is_404_naming_the_field(api_client, outsider, project):
    response = _as(api_client, outsider).post(LIST, _register_body(project), format="json")

    assert response.status_code == 404
    assert response.json()["errors"] == {"project": ["Project not found."]} and response.json()["code"] == "not_found"
    assert not EntityState.objects.exists()


def test_a_soft_deleted_project_is_404_like_a_missing_one(api_client, owner):
    gone = ProjectFactory(owner=owner)
    gone.deleted_at = gone.created_at
    gone.save()

    response = _as(api_client, owner).post(LIST, _register_body(gone), format="json")

    assert response.status_code == 404


def test_viewer_registration_is_403_and_recorded_with_the_cid(api_client, viewer, project):
    response = _as(api_client, viewer).post(LIST, _register_body(project), format="json", HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 403
    row = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (row.cid, row.actor, row.project_id, row.event_name) == (CID, viewer, project.pk, "task.register")
    assert not EntityState.objects.exists()


@pytest.mark.parametrize("body", [
    {"service": "task runner", "entity_type": "task", "entity_id": "1"},
    {"service": "svc", "entity_type": "Task", "entity_id": "1"},
    {"service": "svc", "entity_type": "task", "entity_id": "a/b"},
    {"service": "svc", "entity_type": "task", "entity_id": "1", "metadata": ["not", "an", "object"]},
    {"service": "svc", "entity_type": "task", "entity_id": "1", "metadata": {"x": "nul\u0000"}},
    {"service": "svc", "entity_type": "task", "entity_id": "1", "project": "not a slug!"},
    {"service": "svc", "entity_type": "task", "entity_id": "1", "initial_state": "Bad State"},
    {"service": "svc", "entity_type": "task", "entity_id": "1", "colour": "blue"},
    {"entity_type": "task", "entity_id": "1"},
])
def test_bad_registration_input_is_400(body, api_client, operator):
    response = _as(api_client, operator).post(LIST, body, format="json")

    assert response.status_code == 400
    assert not EntityState.objects.exists()


def test_malformed_json_is_400(api_client, operator):
    response = _as(api_client, operator).post(LIST, "{not json", content_type="application/json")
    assert response.status_code == 400


# --- Reads and visibility -----------------------------------------------------------------------------


@pytest.fixture
def tracked(project, member, outsider):
    """Two tasks and a hypothesis of `project`, another project's task, and project-less ones."""
    return {
        "t1": EntityStateFactory(project=project, service="runner", entity_type="task", current_state="backlog"),
        "t2": EntityStateFactory(project=project, service="runner", entity_type="task", current_state="review"),
        "h1": EntityStateFactory(project=project, service="strategy", entity_type="hypothesis",
                                 current_state="testing"),
        "other": EntityStateFactory(project=ProjectFactory(), service="runner", entity_type="task"),
        "mine": EntityStateFactory(project=None, registered_by=member, service="canvas"),
        "theirs": EntityStateFactory(project=None, registered_by=outsider, service="canvas"),
    }


def _ids(response):
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def _pks(tracked, *names):
    return {str(tracked[name].pk) for name in names}


@pytest.mark.parametrize(("role", "visible"), [
    ("operator", ("t1", "t2", "h1", "other", "mine", "theirs")),
    ("owner", ("t1", "t2", "h1")),
    ("member", ("t1", "t2", "h1", "mine")),
    ("viewer", ("t1", "t2", "h1")),
    ("outsider", ("theirs",)),
])
def test_list_shows_what_each_role_may_see(role, visible, roles, tracked, api_client):
    assert _ids(_as(api_client, roles[role]).get(LIST)) == _pks(tracked, *visible)


@pytest.mark.parametrize(("query", "expected"), [
    ({"service": "strategy"}, ("h1",)),
    ({"entity_type": "task"}, ("t1", "t2", "other", "mine", "theirs")),
    ({"current_state": "review"}, ("t2",)),
    ({"current_state": "review,testing"}, ("t2", "h1")),
])
def test_list_filters(query, expected, operator, tracked, api_client):
    assert _ids(_as(api_client, operator).get(LIST, query)) == _pks(tracked, *expected)


def test_list_filters_by_project(operator, tracked, project, api_client):
    response = _as(api_client, operator).get(LIST, {"project": str(project.pk)})
    assert _ids(response) == _pks(tracked, "t1", "t2", "h1")


def test_list_rejects_a_malformed_project_filter(operator, api_client, db):
    assert _as(api_client, operator).get(LIST, {"project": "nope"}).status_code == 400


def test_list_is_paginated(operator, tracked, api_client):
    body = _as(api_client, operator).get(LIST, {"limit": 2}).json()
    assert (body["count"], len(body["results"]), body["previous"]) == (6, 2, None)
    assert "offset=2" in body["next"]


def test_list_queries_do_not_grow_with_rows(api_client, member, project, django_assert_max_num_queries):
    EntityStateFactory.create_batch(2, project=project)
    api_client.force_authenticate(member)
    with django_assert_max_num_queries(3) as few:
        api_client.get(LIST)
    EntityStateFactory.create_batch(10, project=project)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api_client.get(LIST).json()["results"]) == 12


@pytest.mark.parametrize(("role", "status"), [
    ("operator", 200), ("owner", 200), ("member", 200), ("viewer", 200), ("outsider", 404)])
def test_detail_follows_project_visibility(role, status, roles, tracked, api_client):
    response = _as(api_client, roles[role]).get(_detail(tracked["t1"]))
    assert response.status_code == status
    if status == 200:
        assert response.json()["id"] == str(tracked["t1"].pk)


def test_project_less_entity_is_hidden_from_other_accounts(member, tracked, api_client):
    assert _as(api_client, member).get(_detail(tracked["mine"])).status_code == 200
    assert api_client.get(_detail(tracked["theirs"])).status_code == 404


def test_detail_of_an_unknown_key_is_404(member, api_client, db):
    url = reverse("api:entity-state-detail", kwargs={"service": "x", "entity_type": "task", "entity_id": "1"})
    assert _as(api_client, member).get(url).status_code == 404


# --- Transitions -------------------------------------------------------------------------------------


def test_member_transitions_a_task_and_gets_the_next_states(api_client, member, task):
    response = _as(api_client, member).post(_detail(task, "transition"),
                                            {"to_state": "in_progress", "rationale": "picked up"},
                                            format="json", HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["entity_state"]["current_state"] == "in_progress"
    assert body["entity_state"]["last_transition_from"] == "backlog"
    assert body["allowed_next_states"] == ["review", "blocked", "backlog"]
    row = AuditEntry.objects.get(pk=body["audit_id"])
    assert (row.event_type, row.event_name, row.cid, row.actor, row.project_id) == (
        AuditEventType.TRANSITION_SUCCESS, "task.transition", CID, member, task.project_id)
    assert (row.from_state, row.to_state, row.rationale) == ("backlog", "in_progress", "picked up")
    task.refresh_from_db()
    assert task.current_state == "in_progress"


def test_transition_with_jwt_records_the_token_user(api_client, owner, task):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")

    response = api_client.post(_detail(task, "transition"), {"to_state": "blocked"}, format="json")

    assert response.status_code == 200
    assert AuditEntry.objects.get(pk=response.json()["audit_id"]).actor == owner


def test_refused_transition_is_409_naming_the_allowed_targets_and_recorded(api_client, member, task):
    response = _as(api_client, member).post(_detail(task, "transition"), {"to_state": "done"}, format="json",
                                            HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 409
    body = response.json()
    assert (body["current_state"], body["allowed_transitions"]) == ("backlog", ["in_progress", "blocked"])
    assert "in_progress" in body["detail"]
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert (row.cid, row.success, row.from_state, row.to_state, row.actor) == (CID, False, "backlog", "done", member)
    assert row.extra["reason"] == "state"
    task.refresh_from_db()
    assert task.current_state == "backlog"


def test_terminal_state_offers_nothing(api_client, member, project):
    done = EntityStateFactory(project=project, current_state="done")

    response = _as(api_client, member).post(_detail(done, "transition"), {"to_state": "backlog"}, format="json")

    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == []


def test_viewer_transition_is_403_recorded_once_as_permission_denied(api_client, viewer, task):
    response = _as(api_client, viewer).post(_detail(task, "transition"), {"to_state": "in_progress"}, format="json",
                                            HTTP_X_CORRELATION_ID=CID)

    assert response.status_code == 403
    rows = AuditEntry.objects.filter(success=False)
    assert [(row.event_type, row.cid, row.actor) for row in rows] == [(AuditEventType.PERMISSION_DENIED, CID, viewer)]
    task.refresh_from_db()
    assert task.current_state == "backlog"


def test_outsider_transition_is_404_and_changes_nothing(api_client, outsider, task):
    response = _as(api_client, outsider).post(_detail(task, "transition"), {"to_state": "in_progress"}, format="json")

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.current_state == "backlog"


def test_unknown_target_state_is_400_with_the_allowed_targets(api_client, member, task):
    response = _as(api_client, member).post(_detail(task, "transition"), {"to_state": "shipped"}, format="json")

    assert response.status_code == 400
    assert response.json()["allowed_transitions"] == ["in_progress", "blocked"]
    assert AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_DENIED, to_state="shipped").exists()


@pytest.mark.parametrize("body", [{}, {"to_state": ""}, {"to_state": "In Progress"}, {"to_state": 3},
                                  {"to_state": "review", "rationale": "x" * 5001}])
def test_bad_transition_input_is_400(body, api_client, member, task):
    assert _as(api_client, member).post(_detail(task, "transition"), body, format="json").status_code == 400


def test_transition_needs_credentials(api_client, task):
    assert api_client.post(_detail(task, "transition"), {"to_state": "blocked"}, format="json").status_code == 401


def test_whole_lifecycle_is_in_the_audit_trail(api_client, member, project):
    _as(api_client, member).post(LIST, _register_body(project), format="json")
    entity = EntityState.objects.get()
    for target in ("in_progress", "review", "done"):
        assert api_client.post(_detail(entity, "transition"), {"to_state": target}, format="json").status_code == 200

    trail = AuditEntry.objects.filter(entity_id=str(entity.pk)).order_by("id")
    assert [(row.event_type, row.from_state, row.to_state) for row in trail] == [
        (AuditEventType.ENTITY_CREATED, "", ""),
        (AuditEventType.TRANSITION_SUCCESS, "backlog", "in_progress"),
        (AuditEventType.TRANSITION_SUCCESS, "in_progress", "review"),
        (AuditEventType.TRANSITION_SUCCESS, "review", "done"),
    ]


def test_closed_project_state_does_not_matter_to_visibility(api_client, member, project):
    # A killed project stays visible to its team, and so do its entities.
    perform_transition(project, "kill", actor=project.owner)
    entity = EntityStateFactory(project=project)
    assert Project.objects.get(pk=project.pk).state == ProjectState.KILLED
    assert _as(api_client, member).get(_detail(entity)).status_code == 200
