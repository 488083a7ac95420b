"""Notification mail: instant, the daily digest, the unsubscribe link, failures retried; through the
API, the ledger, the builder and the mail tasks on django-tasks' database worker."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEntry
from discussions.models import Comment
from notifications import mail as notification_mail
from notifications.models import MailState, Notification
from notifications.receivers import on_maintenance

from .support import FlakyBackend, as_user, comment, run_worker, settle

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://cc.example.com"


@pytest.fixture(autouse=True)
def site(settings):
    settings.NOTIFICATIONS_SITE_URL = SITE
    return settings


def links(message) -> list[str]:
    return re.findall(r"https?://\S+", message.body)


def test_an_instant_mail_links_back_and_unsubscribes_once(project, owner, member):
    made = comment(owner, project, f"look @{member.handle}")
    settle()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [member.email] and "mentioned you" in message.subject
    assert f"{SITE}/projects/{project.pk}/#comment-{made['id']}" in links(message)
    unsubscribe = next(link for link in links(message) if "/notifications/unsubscribe/" in link)
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert Notification.objects.get().emailed_at is not None

    settle()
    on_maintenance()
    run_worker()
    assert len(mail.outbox) == 1  # mailed once


def test_the_unsubscribe_link_asks_first_then_turns_mail_off_without_signing_in(project, owner, member, client):
    comment(owner, project, f"look @{member.handle}")
    settle()
    path = next(link for link in links(mail.outbox[0]) if "/unsubscribe/" in link).removeprefix(SITE)

    shown = client.get(path)
    assert shown.status_code == 200 and b"Stop notification mail?" in shown.content and member.email.encode() in shown.content
    assert User.objects.get(pk=member.pk).notifications == "instant"  # a GET (a mail scanner) changes nothing

    done = client.post(path)
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert User.objects.get(pk=member.pk).notifications == "none"
    row = AuditEntry.objects.filter(event_name="user.updated", entity_id=str(member.pk)).latest()
    assert row.actor == member and row.changes["notifications"] == ["instant", "none"]

    comment(owner, project, f"again @{member.handle}")
    settle()
    assert len(mail.outbox) == 1 and Notification.objects.count() == 2  # on the site still, not mailed

    assert client.get(path[:-3] + "xyz/").status_code == 404
    assert client.post("/notifications/unsubscribe/forged/").status_code == 404


def test_the_daily_digest_is_sent_once_a_day(project, owner, member, settings):
    settings.NOTIFICATIONS_DIGEST_HOUR = 0
    User.objects.filter(pk=member.pk).update(notifications="daily")
    comment(owner, project, f"one @{member.handle}")
    comment(owner, project, f"two @{member.handle}")
    settle()
    assert mail.outbox == [] and Notification.objects.filter(email_mode="daily").count() == 2

    on_maintenance()
    run_worker()
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert digest.to == [member.email] and "2 unread notifications" in digest.subject
    assert sum("/notifications/unsubscribe/" in link for link in links(digest)) == 1
    assert sum(f"{SITE}/projects/{project.pk}/#comment-" in link for link in links(digest)) == 2
    assert MailState.objects.get(user=member).digest_sent_at is not None

    comment(owner, project, f"three @{member.handle}")
    settle()
    on_maintenance()
    run_worker()
    assert len(mail.outbox) == 1  # the next one tomorrow

    MailState.objects.filter(user=member).update(digest_sent_at=timezone.now() - timezone.timedelta(days=1))
    on_maintenance()
    run_worker()
    assert len(mail.outbox) == 2 and "1 unread notification" in mail.outbox[1].subject


def test_a_failing_mail_server_never_fails_the_write_and_the_mail_is_retried(project, owner, member, settings):
    settings.EMAIL_BACKEND = "notifications.tests.support.FlakyBackend"
    settings.NOTIFICATIONS_EMAIL_RETRY_DELAYS = [3600.0]
    FlakyBackend.failures, FlakyBackend.refused = 1, 0

    made = comment(owner, project, f"look @{member.handle}")  # the write succeeds whatever the mail server does
    settle()

    assert Comment.objects.filter(pk=made["id"]).exists()
    note = Notification.objects.get()
    assert note.emailed_at is None and "the mail server is down" in note.email_error
    state = MailState.objects.get(user=member)
    assert state.consecutive_failures == 1 and state.next_attempt_at > timezone.now() and state.scheduled
    assert mail.outbox == []

    # The retry is queued for later; when it is due, the mail goes out once.
    MailState.objects.filter(user=member).update(next_attempt_at=timezone.now())
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_worker()
    assert len(mail.outbox) == 1 and FlakyBackend.refused == 1
    assert Notification.objects.get().emailed_at is not None
    assert MailState.objects.get(user=member).consecutive_failures == 0


def test_a_mail_that_keeps_failing_is_given_up_and_stays_on_the_site(project, owner, member, settings):
    settings.EMAIL_BACKEND = "notifications.tests.support.FlakyBackend"
    settings.NOTIFICATIONS_EMAIL_RETRY_DELAYS = [0.0, 0.0]
    FlakyBackend.failures, FlakyBackend.refused = 100, 0

    comment(owner, project, f"look @{member.handle}")
    settle()

    note = Notification.objects.get()
    assert FlakyBackend.refused == 3 and note.emailed_at is None and note.email_mode == "none"
    assert note.email_error.startswith("Given up after 3 failed sends")
    on_maintenance()
    run_worker()
    assert FlakyBackend.refused == 3  # not retried for ever
    assert as_user(member).get("/api/v1/notifications/?unread=true").json()["count"] == 1


def test_a_notification_read_before_its_mail_is_not_mailed(project, owner, member, settings):
    settings.EMAIL_BACKEND = "notifications.tests.support.FlakyBackend"
    settings.NOTIFICATIONS_EMAIL_RETRY_DELAYS = [3600.0]
    FlakyBackend.failures, FlakyBackend.refused = 1, 0
    comment(owner, project, f"look @{member.handle}")
    settle()
    as_user(member).post("/api/v1/notifications/read/", {}, format="json")

    MailState.objects.filter(user=member).update(next_attempt_at=None, scheduled=False)
    assert notification_mail.schedule_instant(member.pk)
    run_worker()
    assert mail.outbox == [] and Notification.objects.get().email_mode == "none"
