import csv
import io
import json

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.transitions import TransitionRefused, perform_transition
from projects.tests.factories import ProjectFactory


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def history(project, owner, member):
    perform_transition(project, "activate", actor=owner, rationale="go")
    try:
        perform_transition(project, "resume", actor=owner)
    except TransitionRefused:
        pass
    try:
        perform_transition(project, "pause", actor=member)
    except TransitionRefused:
        pass
    other = ProjectFactory()
    perform_transition(other, "activate", actor=other.owner)
    return other


def test_events_are_scoped_to_visible_projects(api_client, history, project, viewer, operator):
    mine = as_user(api_client, viewer).get(reverse("api:event-list")).json()["results"]
    assert mine and all(row["project"] == str(project.pk) for row in mine)
    everything = as_user(api_client, operator).get(reverse("api:event-list")).json()["results"]
    assert {row["project"] for row in everything} >= {str(project.pk), str(history.pk)}


def test_event_filters(api_client, history, project, owner, member):
    client = as_user(api_client, owner)
    denied = client.get(reverse("api:event-list"), {"success": "false"}).json()["results"]
    assert {row["event_type"] for row in denied} == {"transition_denied", "permission_denied"}
    by_actor = client.get(reverse("api:event-list"), {"actor": str(member.pk)}).json()["results"]
    assert [row["event_name"] for row in by_actor] == ["project.pause"]
    by_type = client.get(reverse("api:event-list"), {"event_type": "transition_success"}).json()["results"]
    assert [row["event_name"] for row in by_type] == ["project.activate"]
    entity = client.get(reverse("api:event-list"), {"entity_type": "project", "entity_id": str(project.pk)}).json()["results"]
    assert entity and all(row["entity_id"] == str(project.pk) for row in entity)
    assert client.get(reverse("api:event-list"), {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}).json()["results"] == []
    assert client.get(reverse("api:event-list"), {"since": "yesterday"}).status_code == 400


def test_filtering_by_a_hidden_project_is_404(api_client, history, owner):
    client = as_user(api_client, owner)
    assert client.get(reverse("api:event-list"), {"project": str(history.pk)}).status_code == 404
    assert client.get(reverse("api:event-list"), {"project": "garbage"}).status_code == 404


def test_cursor_pagination_newest_first(api_client, history, operator):
    client = as_user(api_client, operator)
    first = client.get(reverse("api:event-list"), {"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)


def test_event_detail_and_no_write_methods(api_client, history, operator, outsider):
    entry = AuditEntry.objects.latest("id")
    client = as_user(api_client, operator)
    assert client.get(reverse("api:event-detail", args=[entry.pk])).json()["id"] == entry.pk
    assert client.delete(reverse("api:event-detail", args=[entry.pk])).status_code == 405
    assert client.patch(reverse("api:event-detail", args=[entry.pk]), {"success": True}, format="json").status_code == 405
    assert client.post(reverse("api:event-list"), {}, format="json").status_code == 405
    assert as_user(api_client, outsider).get(reverse("api:event-detail", args=[entry.pk])).status_code == 404


def test_failed_transitions(api_client, history, owner):
    rows = as_user(api_client, owner).get(reverse("api:event-failed-transitions"), {"days": 7}).json()["results"]
    assert {(row["event_name"], row["event_type"]) for row in rows} == {
        ("project.resume", "transition_denied"), ("project.pause", "permission_denied")}
    assert api_client.get(reverse("api:event-failed-transitions"), {"days": "x"}).status_code == 400


def test_stats(api_client, history, project, owner):
    body = as_user(api_client, owner).get(reverse("api:event-stats"), {"project": str(project.pk), "days": 30}).json()
    assert body["denied"] == 2 and body["success"] == body["total"] - 2
    assert body["by_event_type"]["transition_success"] == 1
    assert sum(day["total"] for day in body["by_day"]) == body["total"]
    assert api_client.get(reverse("api:event-stats"), {"days": 0}).status_code == 400


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_streams_the_filtered_trail(api_client, history, project, owner, fmt):
    response = as_user(api_client, owner).get(reverse("api:event-export"), {"format": fmt, "project": str(project.pk)})
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    expected = list(AuditEntry.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [int(r["id"]) for r in rows] == expected
    else:
        rows = [json.loads(line) for line in text.splitlines() if line]
        assert [r["id"] for r in rows] == expected


def test_export_rejects_unknown_format(api_client, history, owner):
    assert as_user(api_client, owner).get(reverse("api:event-export"), {"format": "xml"}).status_code in (400, 404)


def test_event_list_queries_do_not_grow_with_rows(api_client, project, owner, django_assert_num_queries):
    api_client.force_authenticate(owner)
    perform_transition(project, "activate", actor=owner)
    with django_assert_num_queries(1):
        api_client.get(reverse("api:event-list"))
    for name in ("pause", "resume", "pause", "resume"):
        perform_transition(project, name, actor=owner)
    with django_assert_num_queries(1):
        api_client.get(reverse("api:event-list"))


def test_event_type_filter_selects_without_distinct(api_client, history, project, owner):
    """SELECT DISTINCT made PostgreSQL read every matching row before LIMIT; one column needs none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user(api_client, owner)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("api:event-list") + "?event_type=transition_denied&event_type=permission_denied")
    rows = response.json()["results"]
    assert response.status_code == 200 and rows
    assert {row["event_type"] for row in rows} == {"transition_denied", "permission_denied"}
    assert len({row["id"] for row in rows}) == len(rows)
    expected = AuditEntry.objects.visible_to(owner).filter(event_type__in=["transition_denied", "permission_denied"])
    assert len(rows) == expected.count()
    page_sql = [query["sql"] for query in captured.captured_queries if "audit_auditentry" in query["sql"]]
    assert page_sql and not any("DISTINCT" in sql for sql in page_sql)


def test_a_forged_or_garbled_cursor_is_a_400_not_a_500(api_client, operator, project):
    """A cursor that does not decode, or whose position is not an id, answers 400."""
    import base64

    api_client.force_authenticate(operator)
    assert api_client.get(f"/api/v1/projects/{project.pk}/audit/").status_code == 200
    for cursor in [base64.b64encode(raw).decode() for raw in (b"p=abc", b"o=1&p=abc", b"r=1&p=1.5")] + ["abc", "a"]:
        response = api_client.get(f"/api/v1/events/?cursor={cursor}")
        assert response.status_code == 400 and response.json()["errors"] == {"cursor": ["Invalid cursor"]}, cursor
        nested = api_client.get(f"/api/v1/projects/{project.pk}/audit/?cursor={cursor}")
        assert nested.status_code == 400 and nested.json()["errors"] == {"cursor": ["Invalid cursor"]}, cursor
    good = api_client.get("/api/v1/events/?limit=1").json()["next"]
    if good:
        assert api_client.get(good).status_code == 200


def test_an_instant_with_a_far_offset_is_compared_in_utc(api_client, operator, project):
    """Python accepts offsets up to ±23:59 and PostgreSQL only up to ±15:59: such an instant was a 500."""
    api_client.force_authenticate(operator)
    everything = api_client.get("/api/v1/events/", {"limit": 100}).json()["results"]
    assert everything
    for query in ({"since": "2263-11-18T08:53:59.3+20:25"}, {"until": "2000-01-01T00:00:00-23:59"}):
        response = api_client.get("/api/v1/events/", query)
        assert response.status_code == 200 and response.json()["results"] == [], query
    assert len(api_client.get("/api/v1/events/", {"since": "2000-01-01T00:00:00+23:59", "limit": 100}).json()["results"]) \
        == len(everything)
