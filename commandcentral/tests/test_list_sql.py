"""Default list pages through compiled SQL (core.api.speedups.list_sql) answer exactly what the ORM path answers."""

import pytest
from django.db import connection
from django.urls import include, path
from rest_framework_simplejwt.tokens import AccessToken

from audit.api import EventViewSet
from audit.models import AuditEntry
from audit.serializers import AuditEntrySerializer
from core.api.speedups import list_sql, output as api_output
from core.transitions import perform_transition
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
        monkeypatch.setattr(api_output, "compiled_rows", lambda shape, user, build, names, **options: None)
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
    assert any(plan is not list_sql._REFUSED for plan in list_sql._plans.values())
    assert {shape[0][1] for shape in list_sql._plans} == {"list"}
    assert all(plan is not list_sql._REFUSED for plan in list_sql._plans.values())
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



# --- what the compiled path refuses: anything but the caller's key -----------------------------------

EVENT_COLUMNS = tuple(AuditEntrySerializer.values_lookups())


def compiled(user, build):
    """list_sql.compiled_rows() for a values queryset built by `build(caller)`, under a test shape."""
    return list_sql.compiled_rows(("test", EVENT_COLUMNS), user, lambda caller: build(caller).values(*EVENT_COLUMNS),
                                  EVENT_COLUMNS)


def test_an_integer_filter_is_refused_not_frozen(trail, owner, member):
    rows = compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(id__gt=3).order_by("-id"))
    assert rows is None and list(list_sql._plans.values()) == [list_sql._REFUSED]
    assert compiled(member, lambda caller: AuditEntry.objects.visible_to(caller).filter(id__gt=5)) is None


def test_strings_dates_and_foreign_keys_are_refused(trail, owner):
    assert compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(event_name="x")) is None
    list_sql._plans.clear()
    other = Project.objects.get(name="Outsider's own")
    assert compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(project=other)) is None


def test_a_parameter_equal_to_the_callers_key_but_not_theirs_is_refused(trail, owner, member):
    # `actor=owner` is owner's key for owner, but a constant for everyone else: the probe tells them apart.
    assert compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(actor=owner)) is None
    assert list(list_sql._plans.values()) == [list_sql._REFUSED]


def test_the_callers_key_and_the_exists_constant_are_what_a_plan_binds(trail, owner, outsider):
    rows = compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(actor=caller).order_by("-id"))
    plan = rows.plan
    assert plan.params.count(1) == 1 and len(plan.key_positions) == 3  # EXISTS(SELECT 1 ...), owner, member-of, actor
    expected = AuditEntry.objects.visible_to(owner).filter(actor=owner).order_by("-id").values(*EVENT_COLUMNS)
    assert rows[0:50] == list(expected[0:50]) and rows.count() == expected.count() > 0
    theirs = compiled(outsider, lambda caller: AuditEntry.objects.visible_to(caller).filter(actor=caller).order_by("-id"))
    assert theirs.plan is plan
    assert [row["id"] for row in theirs[0:50]] == list(
        AuditEntry.objects.visible_to(outsider).filter(actor=outsider).order_by("-id").values_list("id", flat=True)
    )


def test_an_empty_queryset_takes_the_orm_path_and_is_not_remembered(trail, owner):
    assert compiled(owner, lambda caller: AuditEntry.objects.none()) is None
    assert compiled(owner, lambda caller: AuditEntry.objects.visible_to(caller).filter(pk__in=[])) is None
    assert list_sql._plans == {}


def test_a_probe_that_fails_refuses_the_shape(trail, owner):
    def build(caller):
        if caller.pk != owner.pk:
            raise LookupError("only the real caller")
        return AuditEntry.objects.visible_to(caller).order_by("-id")

    assert compiled(owner, build) is None and list(list_sql._plans.values()) == [list_sql._REFUSED]


def test_a_plan_for_another_ordering_says_so(trail, owner):
    plan_rows = list_sql.compiled_rows(("names",), owner, lambda caller: Project.objects.visible_to(caller)
                                       .values("id", "name").order_by("name"), ("id", "name"))
    visible = Project.objects.visible_to(owner).values("id", "name").order_by("name")
    assert plan_rows.plan.ordering == ("name",)
    assert plan_rows[0:10] == list(visible[0:10]) and plan_rows.count() == visible.count()
    assert plan_rows[3:3] == []
    with pytest.raises(ValueError):
        plan_rows.order_by("-id")


# Views whose default list depends on more than the caller's key, through the real stack.

AFTER_ID = {}  # a per-caller threshold, as a view could read it from a profile or a setting


class EventsAfterCallersMark(EventViewSet):
    def get_queryset(self):
        return super().get_queryset().filter(id__gt=AFTER_ID.get(self.request.user.email, 0))


class EventsAfterHeader(EventViewSet):
    def get_queryset(self):  # request state outside the query string: the same for the probe
        return super().get_queryset().filter(id__gt=int(self.request.headers.get("X-After", 0)))


class EventsAfterKwarg(EventViewSet):
    def get_queryset(self):
        return super().get_queryset().filter(id__gt=self.kwargs["after"])


class EventsOfActor(EventViewSet):
    def get_queryset(self):
        return super().get_queryset().filter(actor_id=self.kwargs["actor"])


class EventsNone(EventViewSet):
    def get_queryset(self):
        return AuditEntry.objects.none()


urlpatterns = [
    path("t/after-mark/", EventsAfterCallersMark.as_view({"get": "list"})),
    path("t/after-header/", EventsAfterHeader.as_view({"get": "list"})),
    path("t/after/<int:after>/", EventsAfterKwarg.as_view({"get": "list"})),
    path("t/by/<uuid:actor>/", EventsOfActor.as_view({"get": "list"})),
    path("t/none/", EventsNone.as_view({"get": "list"})),
    path("api/v1/", include("commandcentral.api.urls")),
]


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def expected_ids(user, **filters) -> list[int]:
    return list(AuditEntry.objects.visible_to(user).filter(**filters).order_by("-id").values_list("id", flat=True)[:50])


@pytest.fixture
def shared(project, owner, member, trail):
    """Audit rows by owner on a project member sees too, so that two callers can see the same rows."""
    perform_transition(project, "activate", actor=owner, rationale="shared")
    perform_transition(project, "pause", actor=owner)
    perform_transition(project, "resume", actor=owner)
    return project


@pytest.mark.urls(__name__)
def test_a_per_caller_integer_filter_is_not_frozen(api_client, shared, owner, member, monkeypatch):
    ids = sorted(AuditEntry.objects.visible_to(member).values_list("id", flat=True))
    monkeypatch.setitem(AFTER_ID, owner.email, ids[0])
    monkeypatch.setitem(AFTER_ID, member.email, ids[-2])
    api_client.force_authenticate(owner)
    assert ids_of(api_client.get("/t/after-mark/")) == expected_ids(owner, id__gt=ids[0])
    api_client.force_authenticate(member)  # same shape, another threshold
    assert ids_of(api_client.get("/t/after-mark/")) == expected_ids(member, id__gt=ids[-2])
    assert len(expected_ids(member, id__gt=ids[-2])) == 1
    assert list(list_sql._plans.values()) == [list_sql._REFUSED]


@pytest.mark.urls(__name__)
def test_an_integer_from_the_request_is_not_frozen(api_client, shared, owner, member):
    ids = sorted(AuditEntry.objects.visible_to(member).values_list("id", flat=True))
    api_client.force_authenticate(owner)
    assert ids_of(api_client.get("/t/after-header/", HTTP_X_AFTER=str(ids[0]))) == expected_ids(owner, id__gt=ids[0])
    api_client.force_authenticate(member)
    assert ids_of(api_client.get("/t/after-header/", HTTP_X_AFTER=str(ids[-2]))) == expected_ids(member, id__gt=ids[-2])
    assert list(list_sql._plans.values()) == [list_sql._REFUSED]


@pytest.mark.urls(__name__)
def test_url_arguments_keep_the_orm_path(api_client, shared, owner, member):
    ids = sorted(AuditEntry.objects.visible_to(owner).values_list("id", flat=True))
    api_client.force_authenticate(owner)
    for seq in (ids[0], ids[-3]):
        assert ids_of(api_client.get(f"/t/after/{seq}/")) == expected_ids(owner, id__gt=seq)
    # The caller's own key in the URL is not the caller's key: member asks for owner's events next.
    assert ids_of(api_client.get(f"/t/by/{owner.pk}/")) == expected_ids(owner, actor=owner)
    api_client.force_authenticate(member)
    owners_events = ids_of(api_client.get(f"/t/by/{owner.pk}/"))
    assert owners_events == expected_ids(member, actor=owner) and owners_events
    suffixed = api_client.get("/api/v1/projects.json")  # a format suffix is a URL argument too
    assert suffixed.status_code == 200 and suffixed.json()["count"] == Project.objects.visible_to(member).count() == 3
    assert list_sql._plans == {}


@pytest.mark.urls(__name__)
def test_an_empty_queryset_answers_an_empty_page(api_client, trail, owner):
    api_client.force_authenticate(owner)
    response = api_client.get("/t/none/")
    assert response.status_code == 200 and response.json()["results"] == []
    assert list_sql._plans == {}


def test_inactive_callers_never_use_an_active_callers_plan(api_client, shared, owner, operator):
    token = str(AccessToken.for_user(owner))
    api_client.force_authenticate(owner)
    assert api_client.get("/api/v1/projects/").json()["count"] == 4
    assert ids_of(api_client.get("/api/v1/events/")) == expected_ids(owner)
    active_shapes = set(list_sql._plans)
    assert {shape[1:] for shape in active_shapes} == {(False, True)}
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    api_client.force_authenticate(owner)  # DRF's authentication classes would refuse it; force_authenticate does not
    projects = api_client.get("/api/v1/projects/")
    assert projects.status_code == 200 and projects.json()["count"] == 0 and projects.json()["results"] == []
    assert ids_of(api_client.get("/api/v1/events/")) == []
    # Projects: `.none()`, not remembered; events: Django compiles `WHERE False`, a parameter that refuses.
    inactive_shapes = set(list_sql._plans) - active_shapes
    assert {shape[1:] for shape in inactive_shapes} <= {(False, False)}  # none() compiles to nothing: refused or never stored
    assert all(list_sql._plans[shape] is list_sql._REFUSED for shape in inactive_shapes)
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    # An inactive operator is a shape of its own too.
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    api_client.force_authenticate(operator)
    assert api_client.get("/api/v1/projects/").json()["count"] == 0
    assert ids_of(api_client.get("/api/v1/events/")) == expected_ids(operator)  # visible_to's rule for operators
    assert {shape[1:] for shape in set(list_sql._plans) - active_shapes - inactive_shapes} <= {(True, False)}


def test_anonymous_callers_are_never_compiled(api_client, trail):
    for url in ("/api/v1/projects/", "/api/v1/events/"):
        assert api_client.get(url).status_code == 401
    assert list_sql._plans == {}


def test_printed_rows_carry_uuids_and_datetimes_as_the_api_prints_them(trail, owner, settings):
    """On SQLite, rows asked for `printed` give UUIDs and datetimes as text; the same rows otherwise."""
    from rest_framework import serializers

    def build(caller):
        return Project.objects.visible_to(caller).values("id", "owner_id", "created_at", "deleted_at", "name")

    names = ("id", "owner_id", "created_at", "deleted_at", "name")
    plain = list_sql.compiled_rows(("printed",), owner, build, names)[0:20]
    printed = list_sql.compiled_rows(("printed",), owner, build, names, printed=True)[0:20]
    assert plain and plain == list(build(owner)[0:20])
    when = serializers.DateTimeField()
    expected = [{**row, "id": str(row["id"]), "owner_id": str(row["owner_id"]),
                 "created_at": when.to_representation(row["created_at"])} for row in plain]
    if connection.vendor == "sqlite":
        assert printed == expected and all(isinstance(row["id"], str) for row in printed)
        settings.LIST_SQL_SQLITE_TEXT = False  # the plain converters, as everywhere else
        assert list_sql.compiled_rows(("printed",), owner, build, names, printed=True)[0:20] == plain
    else:
        assert printed == plain  # PostgreSQL's driver gives UUID and datetime objects: nothing to replace
