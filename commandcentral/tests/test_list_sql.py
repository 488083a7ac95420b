"""Default list pages through compiled SQL (commandcentral.list_sql) answer exactly what the ORM path answers."""

import pytest

from audit.models import AuditEntry
from commandcentral import api_output, list_sql
from commandcentral.core.transitions import perform_transition
from projects.models import Membership, MembershipRole, Project
from projects.services import project_create
from projects.tests.factories import ProjectFactory


@pytest.fixture(autouse=True)
def fresh_plans():
    list_sql._plans.clear()
    yield
    list_sql._plans.clear()


@pytest.fixture
def orm_only(monkeypatch):
    """Turns the compiled path off: the view builds its queryset for every request."""
    def use_orm():
        monkeypatch.setattr(api_output, "compiled_rows", lambda shape, user, build: None)
    return use_orm


@pytest.fixture
def trail(project, owner, member, outsider):
    """Projects of several owners and audit rows on them, so that scoping has something to exclude."""
    hidden = project_create(actor=outsider, name="Outsider's own")
    perform_transition(hidden, "activate", actor=outsider)
    for number in range(3):
        mine = project_create(actor=owner, name=f"Owner's {number}")
        perform_transition(mine, "activate", actor=owner, rationale=f"r{number}")
    ProjectFactory.create_batch(2, owner=member)
    return hidden


def pages(api_client, users, urls):
    answers = {}
    for user in users:
        api_client.force_authenticate(user)
        for url in urls:
            response = api_client.get(url)
            assert response.status_code == 200, (url, response.content)
            answers[(user.email, url)] = response.json()
    return answers


URLS = ["/api/v1/projects/", "/api/v1/projects/?limit=2&offset=1", "/api/v1/projects/?offset=500",
        "/api/v1/events/", "/api/v1/events/?limit=3"]


def test_compiled_pages_equal_the_orm_pages_for_every_caller(api_client, trail, roles, orm_only):
    users = [roles[name] for name in ("owner", "member", "viewer", "outsider", "operator")]
    compiled = pages(api_client, users, URLS)
    assert any(plan is not list_sql._UNCOMPILABLE for plan in list_sql._plans.values())
    assert {shape[1] for shape in list_sql._plans} == {"list"}
    assert all(plan is not list_sql._UNCOMPILABLE for plan in list_sql._plans.values())
    orm_only()
    assert pages(api_client, users, URLS) == compiled
    # And the pages are scoped: the outsider's project is theirs and the operator's only.
    owner_names = {row["name"] for row in compiled[(roles["owner"].email, "/api/v1/projects/")]["results"]}
    assert "Outsider's own" not in owner_names and "Owner's 2" in owner_names
    operator_page = compiled[(roles["operator"].email, "/api/v1/projects/")]
    assert operator_page["count"] == Project.objects.live().count()
    owner_events = compiled[(roles["owner"].email, "/api/v1/events/")]["results"]
    assert owner_events and all(row["project"] != str(trail.pk) for row in owner_events)


def test_the_second_caller_gets_their_own_rows(api_client, trail, owner, outsider):
    api_client.force_authenticate(owner)
    first = api_client.get("/api/v1/projects/").json()
    api_client.force_authenticate(outsider)  # same shape: the SQL compiled for the owner is reused
    second = api_client.get("/api/v1/projects/").json()
    assert len(list_sql._plans) == 1
    assert [row["name"] for row in second["results"]] == ["Outsider's own"] and second["count"] == 1
    assert first["count"] == Project.objects.visible_to(owner).count() == 4


def test_a_new_membership_shows_at_once(api_client, trail, owner, outsider):
    api_client.force_authenticate(outsider)
    assert api_client.get("/api/v1/projects/").json()["count"] == 1
    Membership.objects.create(project=Project.objects.get(name="Owner's 0"), user=outsider, role=MembershipRole.VIEWER)
    assert api_client.get("/api/v1/projects/").json()["count"] == 2
    events = api_client.get("/api/v1/events/").json()["results"]
    assert {row["event_name"] for row in events} >= {"project.activate"}


def test_cursor_links_of_a_compiled_first_page_lead_on(api_client, trail, owner):
    api_client.force_authenticate(owner)
    first = api_client.get("/api/v1/events/?limit=2").json()
    second = api_client.get(first["next"]).json()  # a cursor: the ORM path
    ids = [row["id"] for row in first["results"] + second["results"]]
    expected = list(AuditEntry.objects.visible_to(owner).order_by("-id").values_list("id", flat=True)[:4])
    assert ids == expected


def test_filtered_or_ordered_requests_keep_the_orm_path(api_client, trail, owner):
    api_client.force_authenticate(owner)
    for url in ("/api/v1/projects/?state=active", "/api/v1/projects/?ordering=name", "/api/v1/events/?event_type=x"):
        assert api_client.get(url).status_code in (200, 400)
    assert list_sql._plans == {}


def test_a_string_or_date_parameter_makes_a_shape_uncompilable(trail, owner):
    by_name = Project.objects.filter(name="Owner's 0").values("id")
    assert list_sql._compile(by_name, owner) is list_sql._UNCOMPILABLE
    visible = Project.objects.visible_to(owner).values("id", "name").order_by("name")
    plan = list_sql._compile(visible, owner)
    assert plan is not list_sql._UNCOMPILABLE and plan.ordering == ("name",)
    rows = list_sql.CompiledRows(plan, owner)
    assert rows[0:10] == list(visible[0:10]) and rows.count() == visible.count()
    assert rows[3:3] == []
    with pytest.raises(ValueError):
        rows.order_by("-id")
