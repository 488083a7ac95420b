"""A project or decision the caller may not see answers exactly as one that does not exist.

The same 404, the same body, and the same queries: a 404 that took one query more for a hidden project
than for a free id or slug would tell an outsider, by its time alone, which ones are taken. Checked on
the API and the pages, for a project of someone else's, a deleted one of the caller's own, and the
decisions of a hidden project.
"""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.tests.factories import DecisionFactory
from projects.services import project_soft_delete
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

# (path with {key}, how the hidden object is named, how a free one is): "project", "slug" or "decision".
API = [
    pytest.param("/api/v1/projects/{key}/", "project", id="project"),
    pytest.param("/api/v1/projects/{key}/transitions/", "project",
                 id="project-transitions"),
    pytest.param("/api/v1/projects/{key}/", "slug", id="project-by-slug"),
    pytest.param("/api/v1/decisions/{key}/", "decision", id="decision"),
    pytest.param("/api/v1/decisions/?project={key}", "project",
                 id="decisions-of-project"),
    pytest.param("/api/v1/events/?project={key}", "slug", id="events-of-project-by-slug"),
]
PAGES = [
    pytest.param("/projects/{key}/", "project", id="project"),
    pytest.param("/decisions/{key}/", "decision", id="decision"),
    pytest.param("/projects/{key}/decisions/new/", "project",
                 id="new-decision-in-project"),
]


@pytest.fixture
def hidden(owner):
    """Someone else's project (the caller is `outsider`) and one of its decisions."""
    project = ProjectFactory(owner=owner, slug="someone-elses")
    return {"project": project.pk, "slug": project.slug, "decision": DecisionFactory(project=project).pk}


FREE = {"project": uuid.UUID(int=1), "slug": "nobody-uses-this-slug", "decision": uuid.UUID(int=2)}


def _get(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, len(queries.captured_queries)


def _page_body(response, key) -> str:
    # A page's CSRF token is masked anew on every render (64 letters and digits), and the path is the
    # caller's own: neither says anything about the object.
    body = response.content.decode().replace(str(key), "<key>")
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf token>", body)


@pytest.mark.parametrize("path,kind", API)
def test_an_api_404_for_a_hidden_object_is_that_of_a_missing_one(api_client, outsider, hidden, path, kind):
    api_client.force_authenticate(outsider)
    api_client.get(path.format(key=uuid.uuid4()))  # compiled plans and caches warm, as in a running server

    seen, seen_queries = _get(api_client, path.format(key=hidden[kind]))
    free, free_queries = _get(api_client, path.format(key=FREE[kind]))

    assert (seen.status_code, free.status_code) == (404, 404)
    assert seen.content == free.content
    assert seen_queries == free_queries


@pytest.mark.parametrize("path,kind", PAGES)
def test_a_page_404_for_a_hidden_object_is_that_of_a_missing_one(client, outsider, hidden, path, kind):
    client.force_login(outsider)
    client.get(path.format(key=uuid.uuid4()))

    seen, seen_queries = _get(client, path.format(key=hidden[kind]))
    free, free_queries = _get(client, path.format(key=FREE[kind]))

    assert (seen.status_code, free.status_code) == (404, 404)
    assert _page_body(seen, hidden[kind]) == _page_body(free, FREE[kind])
    assert seen_queries == free_queries


def test_the_owner_of_a_deleted_project_meets_the_404_of_a_missing_one(api_client, client, owner):
    deleted = ProjectFactory(owner=owner)
    project_soft_delete(project=deleted, actor=owner)
    api_client.force_authenticate(owner)
    client.force_login(owner)
    api_client.get(f"/api/v1/projects/{uuid.uuid4()}/")

    seen, seen_queries = _get(api_client, f"/api/v1/projects/{deleted.pk}/")
    free, free_queries = _get(api_client, f"/api/v1/projects/{FREE['project']}/")
    page, page_queries = _get(client, f"/projects/{deleted.pk}/")
    free_page, free_page_queries = _get(client, f"/projects/{FREE['project']}/")

    assert (seen.status_code, seen.content, seen_queries) == (404, free.content, free_queries)
    assert (page.status_code, page_queries) == (404, free_page_queries)
    assert _page_body(page, deleted.pk) == _page_body(free_page, FREE["project"])
