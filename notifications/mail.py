"""Notification mail, sent by the task worker, never on a request: one mail per notification for people
who chose `instant`, one digest a day for `daily`, nothing for `none` (User.notifications, on the
account page and at /api/v1/notifications/preferences/).

Each person's mail goes out one run at a time (`MailState.lease_until`, renewed before every message).
A notification is mailed once: `emailed_at` is set right after the mail server took the message, and
only notifications without it are sent. A failed send stops the run; the same mail is retried after
NOTIFICATIONS_EMAIL_RETRY_DELAYS (±20 % jitter), and given up after the last one (`email_error` says
why; the notification stays on the site). A worker that dies between the server's acceptance and
that UPDATE sends that one message again: the only way a mail is sent twice.

Every message links back to its page with an absolute URL (notifications.conf.site_url) and carries
an unsubscribe link that works without signing in: a signed token (django.core.signing) naming the
person, whose page asks before it sets the preference to none (GET shows, POST applies), so a mail
scanner following links unsubscribes nobody. The same URL takes RFC 8058's one-click POST.
"""

import logging
import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.conf import settings
from django.db.models import F, Q
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from . import conf
from .models import EmailMode, MailState, Notification

logger = logging.getLogger("commandcentral.notifications.mail")

BATCH = 50  # instant mails per run before it hands over to a fresh task
DIGEST_MAX = 200  # notifications listed in one digest (the page has them all)
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


# --- Links --------------------------------------------------------------------------------------------


def unsubscribe_token(user) -> str:
    return signing.dumps({"u": str(user.pk)}, salt=UNSUBSCRIBE_SALT, compress=True)


def user_of_unsubscribe_token(token: str):
    """The person an unsubscribe token names, or None for a token this site did not sign."""
    try:
        data = signing.loads(token or "", salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return get_user_model().objects.filter(pk=data.get("u"), is_active=True).first() if isinstance(data, dict) else None


def unsubscribe_url(user) -> str:
    return conf.site_url() + reverse("notification_unsubscribe", args=[unsubscribe_token(user)])


# --- Scheduling -----------------------------------------------------------------------------------------


def _state(user_id) -> None:
    MailState.objects.get_or_create(user_id=user_id)


def _claim(user_id) -> bool:
    _state(user_id)
    return bool(MailState.objects.filter(user_id=user_id, scheduled=False).update(scheduled=True))


def schedule_instant(user_id, *, run_after=None) -> bool:
    """Queue a mail run for `user_id` unless one is queued; True if this call queued it."""
    if not _claim(user_id):
        return False
    (send_instant.using(run_after=run_after) if run_after else send_instant).enqueue(str(user_id))
    return True


def resume_instant() -> int:
    """Queue a run for everyone with instant mail waiting whose run is neither queued nor retrying later
    nor under way (a queueing that failed, a worker that died)."""
    now = timezone.now()
    waiting = (Notification.objects.filter(email_mode=EmailMode.INSTANT, emailed_at__isnull=True, read_at__isnull=True)
               .values_list("recipient_id", flat=True).distinct())
    idle = MailState.objects.filter(user_id__in=waiting).filter(
        Q(scheduled=True) | Q(next_attempt_at__gt=now) | Q(lease_until__gt=now)).values_list("user_id", flat=True)
    queued = 0
    for user_id in set(waiting) - set(idle):
        queued += schedule_instant(user_id)
    return queued


def digest_due_since(now=None) -> datetime:
    """When today's digest became due (NOTIFICATIONS_DIGEST_HOUR, in TIME_ZONE); yesterday's before then."""
    local = timezone.localtime(now or timezone.now())
    due = timezone.make_aware(datetime.combine(local.date(), time(hour=conf.digest_hour())), local.tzinfo)
    return due if local >= due else due - timedelta(days=1)


def schedule_due_digests() -> int:
    """Queue the digest of each `daily` person with unread, unmailed notifications and no digest since
    the last digest hour. The queued run checks the same again, so a digest goes out once a day."""
    since = digest_due_since()
    waiting = (Notification.objects.filter(email_mode=EmailMode.DAILY, emailed_at__isnull=True, read_at__isnull=True,
                                           recipient__notifications=EmailMode.DAILY)
               .values_list("recipient_id", flat=True).distinct())
    done = MailState.objects.filter(user_id__in=waiting).filter(
        Q(digest_sent_at__gte=since) | Q(scheduled=True) | Q(next_attempt_at__gt=timezone.now())
    ).values_list("user_id", flat=True)
    queued = 0
    for user_id in set(waiting) - set(done):
        if _claim(user_id):
            send_digest.enqueue(str(user_id))
            queued += 1
    return queued


# --- Runs --------------------------------------------------------------------------------------------------


class _Lease:
    """One mail run's hold on a person's mail, renewed before each message (`renew`, False once lost)."""

    def __init__(self, user_id):
        self.user_id = user_id
        self.until = None

    def take(self) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=conf.lease_seconds())
        taken = (MailState.objects.filter(user_id=self.user_id).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                 .update(lease_until=until, scheduled=False))
        self.until = until if taken else None
        return bool(taken)

    def renew(self) -> bool:
        until = timezone.now() + timedelta(seconds=conf.lease_seconds())
        if not MailState.objects.filter(user_id=self.user_id, lease_until=self.until).update(lease_until=until):
            return False
        self.until = until
        return True

    def release(self) -> None:
        MailState.objects.filter(user_id=self.user_id, lease_until=self.until).update(lease_until=None)


def _start(user_id, retry) -> "_Lease | None":
    """The run's lease, or None (another run holds it: come back shortly; a retry is not due yet)."""
    _state(user_id)
    lease = _Lease(user_id)
    if not lease.take():
        MailState.objects.filter(user_id=user_id).update(scheduled=False)
        retry(run_after=timezone.now() + timedelta(seconds=2))
        return None
    due = MailState.objects.values_list("next_attempt_at", flat=True).get(user_id=user_id)
    if due is not None and due > timezone.now():
        lease.release()
        retry(run_after=due)
        return None
    return lease


@task(queue_name="default")
def send_instant(user_id: str) -> int:
    """Mail each of this person's instant notifications not mailed yet, oldest first; returns how many."""
    lease = _start(user_id, lambda run_after: schedule_instant(user_id, run_after=run_after))
    if lease is None:
        return 0
    sent = 0
    try:
        user = get_user_model().objects.filter(pk=user_id).first()
        pending = list(Notification.objects.filter(recipient_id=user_id, email_mode=EmailMode.INSTANT,
                                                   emailed_at__isnull=True).select_related("actor").order_by("id")[:BATCH])
        for notification in pending:
            if not lease.renew():
                return sent  # another run took over
            unsent = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True)
            if user is None or not user.is_active or user.notifications != EmailMode.INSTANT or notification.read_at:
                # Read on the site already, or the preference changed since: the digest or nobody mails it.
                mode = user.notifications if user is not None and user.is_active and not notification.read_at else EmailMode.NONE
                unsent.update(email_mode=mode)
                continue
            if not _send_or_retry(user, lease, lambda: _instant_message(user, notification), [notification.pk],
                                  lambda run_after: schedule_instant(user_id, run_after=run_after)):
                return sent
            unsent.update(emailed_at=timezone.now(), email_error="")
            sent += 1
        if len(pending) == BATCH:
            schedule_instant(user_id)
    finally:
        lease.release()
    return sent


@task(queue_name="default")
def send_digest(user_id: str) -> int:
    """One mail listing this person's unread notifications not mailed yet; returns how many it listed."""
    lease = _start(user_id, lambda run_after: _retry_digest(user_id, run_after))
    if lease is None:
        return 0
    try:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        since = digest_due_since()
        if user is None or user.notifications != EmailMode.DAILY or MailState.objects.filter(
                user_id=user_id, digest_sent_at__gte=since).exists():
            return 0
        pending = list(Notification.objects.filter(recipient=user, email_mode=EmailMode.DAILY, emailed_at__isnull=True,
                                                   read_at__isnull=True).select_related("actor").order_by("id")[:DIGEST_MAX])
        if not pending:
            return 0
        ids = [notification.pk for notification in pending]
        if not _send_or_retry(user, lease, lambda: _digest_message(user, pending), ids,
                              lambda run_after: _retry_digest(user_id, run_after)):
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(emailed_at=now, email_error="")
        MailState.objects.filter(user_id=user_id).update(digest_sent_at=now)
        return len(ids)
    finally:
        lease.release()


def _retry_digest(user_id, run_after) -> None:
    if _claim(user_id):
        send_digest.using(run_after=run_after).enqueue(str(user_id))


def retry_delay(failures: int) -> float | None:
    """Seconds before the next try after `failures` failed sends in a row; None: give up."""
    delays = conf.email_retry_delays()
    if failures > len(delays):
        return None
    return delays[failures - 1] * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def _send_or_retry(user, lease, message, ids: list[int], retry) -> bool:
    """Send; on a failure record it, and queue the retry (or give up on these notifications' mail)."""
    try:
        message().send()
    except Exception as error:  # the mail server's refusal, a timeout, a broken connection...
        what = f"{type(error).__name__}: {error}"[:500]
        state = MailState.objects.filter(user_id=user.pk)
        state.update(consecutive_failures=F("consecutive_failures") + 1, last_error=what)
        failures = state.values_list("consecutive_failures", flat=True).get()
        delay = retry_delay(failures)
        if delay is None:
            Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(
                email_mode=EmailMode.NONE, email_error=f"Given up after {failures} failed sends; the last: {what}"[:500])
            state.update(consecutive_failures=0, next_attempt_at=None)
            logger.error("notification mail given up", extra={"user": str(user.pk), "error": what})
            return False
        retry_at = timezone.now() + timedelta(seconds=delay)
        Notification.objects.filter(pk__in=ids).update(email_error=what)
        state.update(next_attempt_at=retry_at)
        lease.release()
        retry(run_after=retry_at)
        logger.warning("notification mail failed", extra={"user": str(user.pk), "error": what,
                                                           "retry_at": retry_at.isoformat()})
        return False
    MailState.objects.filter(user_id=user.pk).update(consecutive_failures=0, next_attempt_at=None, last_error="")
    return True


# --- Messages ------------------------------------------------------------------------------------------


def _message(user, *, subject: str, template: str, context: dict) -> EmailMultiAlternatives:
    unsubscribe = unsubscribe_url(user)
    context = {**context, "user": user, "site": conf.site_url(), "unsubscribe": unsubscribe,
               "all_notifications": conf.site_url() + reverse("notification_list")}
    body = loader.render_to_string(template, context)
    return EmailMultiAlternatives(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [user.email], headers={
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    })


def sentence(notification: Notification) -> str:
    """"Ada mentioned you in comment on Plan": one notification in words (mail, page)."""
    who = notification.actor.get_full_name() if notification.actor_id and notification.actor else "Someone"
    title = notification.subject_title
    return {
        "mentioned": f"{who} mentioned you in a {title}",
        "review_requested": f"{who} asked for your review of “{title}”",
        "invited": f"{who} invited you to the project {title} {notification.detail}".rstrip(),
        "decision_decided": f"{who} decided “{title}”",
        "transition": f"{who} moved {notification.subject_type} “{title}” ({notification.detail})",
    }.get(notification.kind, f"{who}: {title}")


def _instant_message(user, notification: Notification) -> EmailMultiAlternatives:
    return _message(user, subject=f"[CommandCentral] {sentence(notification)}"[:200],
                    template="notifications/email_instant.txt",
                    context={"notification": notification, "sentence": sentence(notification),
                             "link": conf.site_url() + notification.url})


def _digest_message(user, notifications: list[Notification]) -> EmailMultiAlternatives:
    items = [{"sentence": sentence(n), "link": conf.site_url() + n.url, "at": n.created_at} for n in notifications]
    count = len(items)
    return _message(user, subject=f"[CommandCentral] {count} unread notification{'s' if count != 1 else ''}",
                    template="notifications/email_digest.txt", context={"items": items, "count": count})
