"""/api/v1/notifications/, …/read/, …/preferences/ and /api/v1/projects/{id}/watch/ through the real stack."""

import pytest

from audit.models import AuditEntry
from notifications.models import Notification, Watch

from .support import as_user, comment, settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three(project, owner, member, viewer):
    """Three notifications for the member (mentions by the owner), one for the viewer."""
    for n in range(3):
        comment(owner, project, f"note {n} for @{member.handle}")
    comment(owner, project, f"and @{viewer.handle}")
    settle()
    mine = list(Notification.objects.filter(recipient=member).order_by("id").values_list("id", flat=True))
    theirs = list(Notification.objects.filter(recipient=viewer).values_list("id", flat=True))
    assert len(mine) == 3 and len(theirs) == 1
    return mine, theirs


def test_the_list_is_mine_newest_first_in_the_house_shape(three, member, owner):
    mine, theirs = three
    body = as_user(member).get("/api/v1/notifications/").json()

    assert body["count"] == 3 and {"next", "previous", "results"} <= set(body)
    assert [item["id"] for item in body["results"]] == mine[::-1]
    first = body["results"][0]
    assert set(first) == {"id", "kind", "actor", "subject", "url", "created_at", "read_at"}
    assert first["kind"] == "mentioned" and first["read_at"] is None
    assert first["actor"] == {"id": str(owner.pk), "email": owner.email, "name": owner.name, "handle": owner.handle}
    assert set(first["subject"]) == {"type", "id", "title"} and first["subject"]["type"] == "comment"
    paged = as_user(member).get("/api/v1/notifications/?limit=1&offset=1").json()
    assert [item["id"] for item in paged["results"]] == [mine[1]]


def test_unread_filter_and_marking_some_then_all(three, member, viewer):
    mine, theirs = three
    client = as_user(member)
    before = AuditEntry.objects.count()

    response = client.post("/api/v1/notifications/read/", {"ids": [mine[0], theirs[0], 999999]}, format="json")
    assert response.status_code == 200 and response.json() == {"marked": 1, "unread": 2}
    unread = client.get("/api/v1/notifications/?unread=true").json()
    assert [item["id"] for item in unread["results"]] == [mine[2], mine[1]]
    assert client.get("/api/v1/notifications/?unread=false").json()["count"] == 3
    assert Notification.objects.get(pk=theirs[0]).read_at is None  # someone else's: untouched

    response = client.post("/api/v1/notifications/read/", {}, format="json")
    assert response.json() == {"marked": 2, "unread": 0}
    assert client.post("/api/v1/notifications/read/", {}, format="json").json() == {"marked": 0, "unread": 0}
    assert as_user(viewer).get("/api/v1/notifications/?unread=true").json()["count"] == 1
    # Reading is personal state: no audit row.
    assert AuditEntry.objects.count() == before


BAD_READS = [
    ({"ids": 5}, "ids"),
    ({"ids": "1,2"}, "ids"),
    ({"ids": ["1"]}, "ids"),
    ({"ids": [1.5]}, "ids"),
    ({"ids": [True]}, "ids"),
    ({"ids": [None]}, "ids"),
    ({"ids": None}, "ids"),
    ({"ids": [0]}, "ids"),
    ({"ids": [2**63]}, "ids"),
    ({"ids": [-1]}, "ids"),
    ({"ids": list(range(1, 1002))}, "ids"),
    ({"idz": [1]}, "idz"),
]


def test_bad_read_input_is_a_400_naming_the_field_and_marks_nothing(three, member):
    client = as_user(member)
    for body, field in BAD_READS:
        response = client.post("/api/v1/notifications/read/", body, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], body
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_bad_list_parameters_are_400s(three, member):
    client = as_user(member)
    response = client.get("/api/v1/notifications/?unread=maybe")
    assert response.status_code == 400 and "unread" in response.json()["errors"]
    response = client.get("/api/v1/notifications/?project=x")
    assert response.status_code == 400 and "project" in response.json()["detail"]


def test_anonymous_callers_get_a_401(api_client):
    assert api_client.get("/api/v1/notifications/").status_code == 401
    assert api_client.post("/api/v1/notifications/read/", {}, format="json").status_code == 401


def test_watch_and_unwatch_are_idempotent_and_audited(project, member):
    client = as_user(member)
    for _ in range(2):
        response = client.post(f"/api/v1/projects/{project.slug}/watch/")
        assert response.status_code == 200 and response.json() == {"project": str(project.pk), "watching": True}
    assert client.get(f"/api/v1/projects/{project.pk}/watch/").json()["watching"] is True
    created = AuditEntry.objects.get(event_name="watch.created")
    assert (created.actor, created.project_id, created.actor_type) == (member, project.pk, "user")
    assert Watch.objects.filter(user=member, project=project).count() == 1

    for _ in range(2):
        response = client.delete(f"/api/v1/projects/{project.pk}/watch/")
        assert response.status_code == 200 and response.json()["watching"] is False
    assert AuditEntry.objects.filter(event_name="watch.deleted", actor=member, project=project).count() == 1
    assert AuditEntry.objects.filter(event_name="watch.created").count() == 1
    assert not Watch.objects.exists()


def test_a_project_you_cannot_see_is_a_404_and_nothing_is_written(project, outsider, owner):
    from projects.services import project_soft_delete

    client = as_user(outsider)
    for method in ("get", "post", "delete"):
        assert getattr(client, method)(f"/api/v1/projects/{project.pk}/watch/").status_code == 404
        assert getattr(client, method)(f"/api/v1/projects/{project.slug}/watch/").status_code == 404
    assert client.post("/api/v1/projects/not-a-project/watch/").status_code == 404
    project_soft_delete(project=project, actor=owner)
    assert as_user(owner).post(f"/api/v1/projects/{project.pk}/watch/").status_code == 404
    assert not Watch.objects.exists() and not AuditEntry.objects.filter(event_name__startswith="watch.").exists()


def test_the_mail_preference_is_the_accounts_one_and_audited(member):
    client = as_user(member)
    assert client.get("/api/v1/notifications/preferences/").json() == {"email": "instant"}

    response = client.patch("/api/v1/notifications/preferences/", {"email": "daily"}, format="json")
    assert response.status_code == 200 and response.json() == {"email": "daily"}
    member.refresh_from_db()
    assert member.notifications == "daily"
    row = AuditEntry.objects.filter(event_name="user.updated", entity_id=str(member.pk)).latest()
    assert row.actor == member and row.changes["notifications"] == ["instant", "daily"]

    for body in ({"email": "hourly"}, {"email": 1}, {}, {"email": "none", "extra": 1}):
        assert client.patch("/api/v1/notifications/preferences/", body, format="json").status_code == 400
    member.refresh_from_db()
    assert member.notifications == "daily"
