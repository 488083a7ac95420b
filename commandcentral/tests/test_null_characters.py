"""A NUL character (%00) in a path is a 404 and in a query parameter a 400 naming it, never a 500.

Every place that looks something up by a client's value is covered: a project by id or slug in a path
or in `?project=` (the API, the events and entity-state APIs, the pages), a decision, an audit row, an
entity by its key, a webhook, and the free-text filters. On PostgreSQL each of these used to send the
NUL to the database, which refuses it (DataError: a 500). Also run on PostgreSQL:
DATABASE_URL=postgres://... pytest commandcentral/tests/test_null_characters.py
"""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from projects.models import Project, ProjectState
from states.models import EntityState
from states.tests.factories import EntityStateFactory

pytestmark = pytest.mark.django_db

NULL_MESSAGE = "Null characters are not allowed."

# (method, path, body): {pk}, {slug} and {member} are the project's id and slug and a team member's id.
API_PATHS = [
    ("get", "/api/v1/projects/%00/", None),
    ("patch", "/api/v1/projects/%00/", {"name": "Renamed"}),
    ("delete", "/api/v1/projects/%00/", None),
    ("post", "/api/v1/projects/%00/activate/", {"rationale": "go"}),
    ("get", "/api/v1/projects/%00/transitions/", None),
    ("get", "/api/v1/projects/%00/audit/", None),
    ("get", "/api/v1/projects/%00/team/", None),
    ("post", "/api/v1/projects/%00/team/", {"user_id": "{member}", "role": "viewer"}),
    ("delete", "/api/v1/projects/{pk}/team/%00/", None),
    ("get", "/api/v1/projects/{slug}%00/", None),
    ("get", "/api/v1/projects/%00/webhooks/", None),
    ("post", "/api/v1/projects/%00/webhooks/", {"url": "https://example.com/hook"}),
    ("get", "/api/v1/decisions/%00/", None),
    ("get", "/api/v1/events/%00/proof/", None),
    ("get", "/api/v1/entity-states/task-runner/task/T-1%00/", None),
    ("post", "/api/v1/entity-states/task-runner/task/T-1%00/transition/", {"to_state": "in_progress"}),
    ("get", "/api/v1/webhooks/%00/", None),
]

# (method, path with its query string, body, the parameter named in the 400)
API_QUERIES = [
    ("get", "/api/v1/events/?project=%00", None, "project"),
    ("get", "/api/v1/events/?project={slug}%00", None, "project"),
    ("get", "/api/v1/events/?project_id=%00", None, "project_id"),
    ("get", "/api/v1/events/stats/?project=%00", None, "project"),
    ("get", "/api/v1/events/failed-transitions/?project=%00", None, "project"),
    ("get", "/api/v1/events/export/?project=%00", None, "project"),
    ("get", "/api/v1/events/?entity_id=%00", None, "entity_id"),
    ("get", "/api/v1/decisions/?project=%00", None, "project"),
    ("get", "/api/v1/decisions/?search=%00", None, "search"),
    ("get", "/api/v1/entity-states/?project=%00", None, "project"),
    ("get", "/api/v1/entity-states/task-runner/task/T-1/?project=%00", None, "project"),
    ("post", "/api/v1/entity-states/task-runner/task/T-1/transition/?project=%00", {"to_state": "in_progress"},
     "project"),
    ("get", "/api/v1/projects/?search=a%00b", None, "search"),
    ("get", "/api/v1/projects/{pk}/?format=json%00", None, "format"),
]

PAGE_PATHS = [
    ("get", "/projects/%00/"),
    ("get", "/projects/%00/edit/"),
    ("post", "/projects/%00/transitions/activate/"),
    ("get", "/projects/%00/decisions/new/"),
    ("get", "/decisions/%00/"),
    ("get", "/states/%00/"),
    ("get", "/audit/%00/"),
    ("get", "/webhooks/%00/"),
]

PAGE_QUERIES = [
    ("/projects/?search=%00", "search"),
    ("/decisions/?project=%00", "project"),
    ("/decisions/?search=%00", "search"),
    ("/audit/?project=%00", "project"),
    ("/audit/export.csv?project=%00", "project"),
    ("/states/?service=%00", "service"),
    ("/projects/{pk}/?refused=%00", "refused"),
]


@pytest.fixture
def world(project, member):
    """The project and an entity of it; what a refused request must leave exactly as it was."""
    EntityStateFactory(project=project, service="task-runner", entity_type="task", entity_id="T-1",
                       current_state="backlog")
    return {"pk": project.pk, "slug": project.slug, "member": member.pk}


def _fill(template, world):
    return template.format(**world) if isinstance(template, str) else template


def _snapshot(project):
    row = Project._base_manager.get(pk=project.pk)
    return (row.name, row.state, row.deleted_at, list(row.memberships.values_list("user_id", "role")),
            list(EntityState.objects.values_list("current_state", flat=True)), AuditEntry.objects.count())


def _call(client, method, path, body=None):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize("method,path,body", API_PATHS, ids=[f"{m} {p}" for m, p, _ in API_PATHS])
def test_an_api_path_holding_a_nul_is_a_plain_404(api_client, owner, project, world, method, path, body):
    api_client.force_authenticate(owner)
    before = _snapshot(project)

    response = _call(api_client, method, _fill(path, world),
                     {key: _fill(value, world) for key, value in body.items()} if body else None)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert _snapshot(project) == before  # nothing changed, and no audit row was written


@pytest.mark.parametrize("method,path,body,parameter", API_QUERIES, ids=[f"{m} {p}" for m, p, _, _ in API_QUERIES])
def test_an_api_query_parameter_holding_a_nul_is_a_400_naming_it(api_client, owner, project, world, method, path,
                                                                  body, parameter):
    api_client.force_authenticate(owner)
    before = _snapshot(project)

    response = _call(api_client, method, _fill(path, world), body)

    assert response.status_code == 400
    assert response.json() == {"detail": f"{parameter}: {NULL_MESSAGE}", "code": "invalid", "errors": {parameter: [NULL_MESSAGE]}}
    assert _snapshot(project) == before


def test_a_nul_in_a_query_parameters_name_is_a_400(api_client, owner, project):
    api_client.force_authenticate(owner)

    response = api_client.get("/api/v1/events/?pro%00ject=x")

    assert response.status_code == 400
    assert response.json() == {"detail": "A query parameter's name holds a null character.", "code": "invalid"}


@pytest.mark.parametrize("method,path", PAGE_PATHS, ids=[f"{m} {p}" for m, p in PAGE_PATHS])
def test_a_page_path_holding_a_nul_is_the_404_page(client, owner, project, world, method, path):
    client.force_login(owner)
    before = _snapshot(project)

    response = getattr(client, method)(_fill(path, world))

    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert _snapshot(project) == before


@pytest.mark.parametrize("path,parameter", PAGE_QUERIES, ids=[p for p, _ in PAGE_QUERIES])
def test_a_page_query_parameter_holding_a_nul_is_the_400_page_naming_it(client, owner, project, world, path,
                                                                         parameter):
    client.force_login(owner)
    before = _snapshot(project)

    response = client.get(_fill(path, world))

    assert response.status_code == 400
    assert f"The query parameter &#x27;{parameter}&#x27; holds a null character." in response.content.decode()
    assert owner.email in response.content.decode()  # the site's own page, signed in as usual
    assert _snapshot(project) == before


def test_the_admin_search_and_an_anonymous_page_refuse_a_nul_too(client, operator, project):
    rows_before = AuditEntry.objects.count()
    anonymous = client.get(reverse("login") + "?next=%00")
    rows_after_anonymous = AuditEntry.objects.count()
    client.force_login(operator)  # a sign-in writes an audit row of its own
    before = _snapshot(project)
    admin_search = client.get(reverse("admin:projects_project_changelist") + "?q=%00")
    admin_path = client.get("/admin/projects/project/%00/change/")

    assert anonymous.status_code == 400 and "&#x27;next&#x27;" in anonymous.content.decode()
    assert rows_after_anonymous == rows_before
    assert admin_search.status_code == 400 and "&#x27;q&#x27;" in admin_search.content.decode()
    assert admin_path.status_code == 404
    assert _snapshot(project) == before


def test_values_without_a_nul_still_reach_the_views(api_client, owner, project):
    api_client.force_authenticate(owner)

    by_slug = api_client.get(f"/api/v1/projects/{project.slug}/")
    filtered = api_client.get(f"/api/v1/events/?project={project.slug}")

    assert (by_slug.status_code, by_slug.json()["id"]) == (200, str(project.pk))
    assert filtered.status_code == 200
    assert project.state == ProjectState.PROPOSED
