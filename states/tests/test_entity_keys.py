"""Nobody can squat, block or probe another project's entity keys or project slugs.

Through the API with the real middleware: the responses, what is stored and the audit rows.
"""

from audit.models import AuditEntry
from projects.models import Project
from projects.tests.factories import ProjectFactory
from states.models import EntityState

LIST = "/api/v1/entity-states/"
KEY = {"service": "tracker", "entity_type": "task", "entity_id": "T-1"}
DETAIL = f"{LIST}tracker/task/T-1/"


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_registering_without_a_project_is_refused_to_anyone_but_operators(api_client, outsider, operator):
    response = as_user(api_client, outsider).post(LIST, KEY, format="json")

    assert response.status_code == 400
    assert "project" in response.json()["errors"]
    assert not EntityState.objects.exists()
    assert not AuditEntry.objects.filter(event_type="entity_created", entity_type="task").exists()
    assert as_user(api_client, operator).post(LIST, KEY, format="json").status_code == 201


def test_a_squatter_cannot_block_or_detect_the_real_owners_key(api_client, outsider, owner):
    squatters = ProjectFactory(owner=outsider)
    real = ProjectFactory(owner=owner)

    squat = as_user(api_client, outsider).post(LIST, {**KEY, "project": str(squatters.pk)}, format="json")
    assert squat.status_code == 201

    registered = as_user(api_client, owner).post(LIST, {**KEY, "project": str(real.pk)}, format="json")
    assert registered.status_code == 201  # not 409: the squatter's key is in another project
    read = api_client.get(DETAIL)
    assert read.status_code == 200 and read.json()["project"] == str(real.pk)
    # Neither sees the other's entity, and neither registration left a refusal to read about.
    assert as_user(api_client, outsider).get(DETAIL).json()["project"] == str(squatters.pk)
    assert not AuditEntry.objects.filter(success=False).exists()
    assert EntityState.objects.filter(**KEY).count() == 2


def test_the_same_key_twice_in_one_project_is_still_409(api_client, project, member):
    body = {**KEY, "project": str(project.pk)}
    assert as_user(api_client, member).post(LIST, body, format="json").status_code == 201

    response = api_client.post(LIST, body, format="json")

    assert response.status_code == 409
    assert EntityState.objects.filter(**KEY).count() == 1
    assert AuditEntry.objects.filter(event_name="task.register", success=False).count() == 1


def test_a_key_in_two_visible_projects_is_read_with_project(api_client, owner):
    first, second = ProjectFactory(owner=owner, slug="first"), ProjectFactory(owner=owner, slug="second")
    as_user(api_client, owner)
    for project in (first, second):
        assert api_client.post(LIST, {**KEY, "project": str(project.pk)}, format="json").status_code == 201

    ambiguous = api_client.get(DETAIL)
    assert ambiguous.status_code == 400 and "project" in ambiguous.json()["errors"]

    by_slug = api_client.get(DETAIL, {"project": "second"})
    assert by_slug.status_code == 200 and by_slug.json()["project"] == str(second.pk)
    moved = api_client.post(f"{DETAIL}transition/?project={first.pk}", {"to_state": "in_progress"}, format="json")
    assert moved.status_code == 200
    assert EntityState.objects.get(project=first, **KEY).current_state == "in_progress"
    assert EntityState.objects.get(project=second, **KEY).current_state == "backlog"
    assert api_client.get(DETAIL, {"project": "nope"}).status_code == 404


def test_a_hidden_projects_slug_is_not_revealed_by_create(api_client, outsider, owner):
    ProjectFactory(owner=outsider, slug="secret-plan")

    response = as_user(api_client, owner).post("/api/v1/projects/", {"name": "Mine", "slug": "secret-plan"}, format="json")

    assert response.status_code == 201
    assert response.json()["slug"] == "secret-plan-2"
    assert Project.objects.get(pk=response.json()["id"]).owner == owner
