"""API conventions a client expects — unknown query parameters are a 400 naming them
(the reference service's names accepted as aliases), paths work without their trailing slash for every
method, `events?project=` takes a slug."""

import uuid

import pytest

from audit.models import AuditEntry
from projects.models import Project


@pytest.fixture
def as_owner(api_client, owner):
    api_client.force_authenticate(owner)
    return api_client


def test_an_unknown_filter_is_a_400_naming_it_not_the_whole_trail(as_owner, project):
    response = as_owner.get("/api/v1/events/", {"projcet": str(project.pk)})

    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown query parameter: projcet."
    assert "project" in response.json()["accepted"]
    assert as_owner.get("/api/v1/projects/", {"bogus": "1", "limit": "2"}).status_code == 400


def test_the_reference_services_names_are_aliases(as_owner, project, owner, outsider):
    other = Project.objects.create(name="Elsewhere", slug="elsewhere", owner=owner)
    by_alias = as_owner.get("/api/v1/events/", {"project_id": str(project.pk)}).json()["results"]
    by_name = as_owner.get("/api/v1/events/", {"project": str(project.pk)}).json()["results"]

    assert by_alias == by_name and by_alias
    assert {row["project"] for row in by_alias} == {str(project.pk)}
    assert str(other.pk) not in {row["project"] for row in by_alias}


def test_events_take_a_project_slug_like_export_audit(as_owner, project):
    by_slug = as_owner.get("/api/v1/events/", {"project": project.slug})

    assert by_slug.status_code == 200
    assert [row["id"] for row in by_slug.json()["results"]] == list(
        AuditEntry.objects.filter(project_id=project.pk).order_by("-id").values_list("id", flat=True))
    assert as_owner.get("/api/v1/events/", {"project": "no-such-project"}).status_code == 404


def test_a_post_without_its_trailing_slash_keeps_its_body(as_owner, owner):
    response = as_owner.post("/api/v1/projects", {"name": "No slash"}, format="json")

    assert response.status_code == 201, response.content
    assert Project.objects.get(name="No slash").owner == owner
    assert as_owner.get("/api/v1/projects").status_code == 200
    assert as_owner.get("/api/v1/nothing-here").status_code == 404


def test_a_wrong_option_id_lists_the_valid_ones(api_client, owner, project):
    from core.transitions import perform_transition
    from decisions.tests.factories import DecisionFactory

    perform_transition(project, "activate", actor=owner)
    decision = DecisionFactory(project=project)
    perform_transition(decision, "activate", actor=owner)
    api_client.force_authenticate(owner)

    response = api_client.post(f"/api/v1/decisions/{decision.pk}/decide/", {"selected_option": "zzz"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Cannot decide yet: it needs one of the options chosen ('zzz' is not an option of this decision: a, b).")
    assert response.json()["missing"] == ["has_valid_selected_option"]


def test_a_project_slug_works_in_bodies_as_in_urls(api_client, project, owner, outsider):
    """POST decisions/ and entity-states/ take the project's id or its slug; a hidden project's slug is the
    same 404 as a missing one, and a malformed value a 400, with nothing written."""
    from audit.models import AuditEntry
    from decisions.models import Decision
    from states.models import EntityState

    api_client.force_authenticate(owner)
    created = api_client.post("/api/v1/decisions/", {"project": project.slug, "title": "By slug"}, format="json")
    assert created.status_code == 201 and created.json()["project"] == str(project.pk)
    tracked = api_client.post("/api/v1/entity-states/", {"project": project.slug, "service": "ci", "entity_type": "task",
                                                         "entity_id": "build-1"}, format="json")
    assert tracked.status_code == 201 and EntityState.objects.get(entity_id="build-1").project == project
    assert AuditEntry.objects.filter(event_name="decision.created", project=project).count() == 1

    api_client.force_authenticate(outsider)
    hidden = api_client.post("/api/v1/decisions/", {"project": project.slug, "title": "Sneaky"}, format="json")
    missing = api_client.post("/api/v1/decisions/", {"project": "no-such-project", "title": "Sneaky"}, format="json")
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    for bad in ("bad slug!", 5, ["x"]):
        response = api_client.post("/api/v1/decisions/", {"project": bad, "title": "Bad"}, format="json")
        assert response.status_code == 400 and "project" in response.json()["errors"]
    assert Decision.objects.filter(title__in=["Sneaky", "Bad"]).count() == 0


LIMITS = [{"limit": "abc"}, {"limit": "0"}, {"limit": "-5"}, {"limit": "1.5"}, {"limit": "²"}]
OFFSETS = [{"offset": "x"}, {"offset": "-1"}]


@pytest.mark.parametrize("url,query", [
    *[(url, query) for url in ("/api/v1/projects/", "/api/v1/decisions/") for query in LIMITS + OFFSETS],
    *[("/api/v1/events/", query) for query in LIMITS],  # the events list pages by cursor: no offset
])
def test_a_malformed_page_parameter_is_a_400_naming_it(api_client, owner, url, query):
    api_client.force_authenticate(owner)
    response = api_client.get(url, query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(query) and response.json()["code"] == "invalid"


def test_a_page_size_above_the_largest_gets_the_largest_page(api_client, owner):
    from projects.tests.factories import ProjectFactory

    ProjectFactory.create_batch(3, owner=owner)
    api_client.force_authenticate(owner)
    assert len(api_client.get("/api/v1/projects/", {"limit": "1000"}).json()["results"]) == 3
    assert len(api_client.get("/api/v1/projects/", {"limit": "2"}).json()["results"]) == 2


def test_under_debug_an_unknown_api_path_is_still_a_json_404(client, owner, settings):
    from audit.models import AuditEntry

    settings.DEBUG = True
    client.force_login(owner)
    rows = AuditEntry.objects.count()
    for path in ("/api/v1/no-such-thing/", "/api/v1/projects/x/y/z/", "/api/nothing"):
        response = client.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    # The browsable API's own 404 page stays what a browser asked for; pages keep Django's debug page.
    browsable = client.get(f"/api/v1/projects/{uuid.uuid4()}/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 404 and browsable["Content-Type"].startswith("text/html")
    assert client.get("/no-such-page/").status_code == 404
    assert AuditEntry.objects.count() == rows  # a path that names nothing is no event of the trail
