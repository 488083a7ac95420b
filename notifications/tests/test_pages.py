"""The bell in the header, the /notifications/ page and the project page's Watch button, through the
test client with the real middleware (sessions, CSRF, htmx)."""

import re

import pytest

from audit.models import AuditEntry
from notifications.models import Notification, Watch
from notifications.selectors import latest_id, unread_counts
from notifications.signals import notifications_read

from .support import comment, settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mentioned(project, owner, member, viewer):
    for n in range(3):
        comment(owner, project, f"note {n} for @{member.handle}")
    comment(owner, project, f"and @{viewer.handle}")
    settle()
    return list(Notification.objects.filter(recipient=member).order_by("id"))


def bell(html: str) -> str:
    return re.search(r'<a id="notification-bell".*?</a>', html, re.S).group(0)


def test_the_bell_shows_the_unread_count_and_refreshes_on_the_stream_event(client, mentioned, member):
    client.force_login(member)
    page = client.get("/").content.decode()

    shown = bell(page)
    assert 'aria-label="3 unread notifications"' in shown and 'href="/notifications/"' in shown
    assert 'hx-get="/notifications/bell/"' in shown and 'hx-trigger="sse:notifications"' in shown
    assert 'hx-swap="outerHTML"' in shown and '<span class="bell-count" aria-hidden="true">3</span>' in shown

    client.post("/notifications/read/", {"id": mentioned[0].pk})
    partial = client.get("/notifications/bell/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and 'aria-label="2 unread notifications"' in bell(partial.content.decode())
    assert "<html" not in partial.content.decode()


def test_the_notifications_page_lists_links_and_marks_read(client, mentioned, member, viewer, project, owner):
    client.force_login(member)
    page = client.get("/notifications/").content.decode()
    for note in mentioned:
        assert f'id="notification-{note.pk}"' in page and f'href="{note.url}"' in page
    assert "mentioned you in a comment on" in page and "3 unread" in page

    before = AuditEntry.objects.count()
    response = client.post("/notifications/read/", {"id": mentioned[1].pk}, HTTP_HX_REQUEST="true", follow=True)
    assert response.status_code == 200
    assert [n.read_at is not None for n in Notification.objects.filter(recipient=member).order_by("id")] == [False, True, False]
    theirs = Notification.objects.get(recipient=viewer)
    client.post("/notifications/read/", {"id": theirs.pk})
    assert Notification.objects.get(pk=theirs.pk).read_at is None  # not the caller's: left alone

    response = client.post("/notifications/read/", {"all": "1"}, follow=True)
    assert "2 notifications marked read." in response.content.decode()
    assert not Notification.objects.filter(recipient=member, read_at__isnull=True).exists()
    assert "Nothing unread." in client.get("/notifications/?unread=1").content.decode()
    assert AuditEntry.objects.count() == before  # reading leaves no audit row
    for bad in ("x", str(2**64), "-1"):
        assert client.post("/notifications/read/", {"id": bad}).status_code == 302  # a message, never a 500


def test_anonymous_visitors_are_sent_to_log_in(client):
    for path in ("/notifications/", "/notifications/bell/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response["Location"]


def test_watch_and_unwatch_on_the_project_page(client, project, member, outsider):
    client.force_login(member)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'action="/projects/{project.pk}/watch/"' in page and ">Watch</button>" in page

    response = client.post(f"/projects/{project.pk}/watch/", {"watch": "1"})
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert Watch.objects.filter(user=member, project=project).exists()
    assert AuditEntry.objects.filter(event_name="watch.created", actor=member, project=project).count() == 1
    assert ">Unwatch</button>" in client.get(f"/projects/{project.pk}/").content.decode()

    swapped = client.post(f"/projects/{project.pk}/watch/", {"watch": "0"}, HTTP_HX_REQUEST="true")
    html = swapped.content.decode()
    assert swapped.status_code == 200 and f'<form id="watch-{project.pk}"' in html
    assert ">Watch</button>" in html and "csrfmiddlewaretoken" in html and "<html" not in html
    assert not Watch.objects.exists()
    assert AuditEntry.objects.filter(event_name="watch.deleted", actor=member).count() == 1

    client.force_login(outsider)
    assert client.post(f"/projects/{project.pk}/watch/", {"watch": "1"}).status_code == 404
    assert not Watch.objects.exists()


def test_what_the_live_stream_reads(mentioned, member, viewer, outsider):
    """One query for many users' counts; the largest id grows with new notifications; marking read says so."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        counts = unread_counts([member.pk, viewer.pk, str(outsider.pk)])
    assert counts == {member.pk: 3, viewer.pk: 1, str(outsider.pk): 0} and len(queries) == 1
    assert latest_id() == Notification.objects.order_by("-id").first().pk

    heard = []
    notifications_read.connect(lambda sender, user_ids, **kw: heard.append(user_ids), weak=False, dispatch_uid="t")
    try:
        from notifications.services import mark_read

        assert mark_read(user=member, ids=[mentioned[0].pk]) == 1
        assert mark_read(user=member, ids=[mentioned[0].pk]) == 0  # nothing changed: nothing said
    finally:
        notifications_read.disconnect(dispatch_uid="t")
    assert heard == [[member.pk]]


def test_the_pages_need_nothing_inline_and_the_admin_lists_read_only(client, mentioned, member, operator, project):
    from commandcentral.tests.test_csp import assert_strict

    client.force_login(member)
    for path in ("/notifications/", "/notifications/?unread=1", f"/projects/{project.pk}/"):
        response = client.get(path)
        assert response.status_code == 200
        assert_strict(response)
    client.force_login(operator)
    for model in ("notification", "watch", "mailstate", "builderstate", "mailpreference"):
        response = client.get(f"/admin/notifications/{model}/")
        assert response.status_code == 200, model
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    note = mentioned[0]
    page = client.get(f"/admin/notifications/notification/{note.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
