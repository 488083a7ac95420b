"""Every write of the notifications app: watch and unwatch a project (audited), mark notifications read
(not audited), the mail preference (accounts.profile, audited as user.updated).

Marking read leaves no audit row on purpose: it is one person's own reading state, changes nothing
anyone governs and nobody else can see; the trail keeps what was done to the project, not who has
looked at their inbox. It is an UPDATE of the caller's own rows only, so nobody marks another's.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.profile import profile_update
from core.errors import InvalidInput
from core.recording import audited_write

from .models import Notification, Watch
from .signals import notifications_read

MAX_IDS = 1000
MAX_ID = 2**63 - 1  # a notification id is a 64-bit integer: anything larger names none (and PostgreSQL refuses it)


def watch(*, project, actor) -> Watch:
    """`actor` follows `project` (one they can see: callers look it up with core.access). Idempotent: a
    second watch changes nothing and writes no row."""
    existing = Watch.objects.filter(project=project, user=actor).first()
    if existing is not None:
        return existing
    try:
        with audited_write(actor), transaction.atomic():
            made = Watch(project=project, user=actor)
            made.save()
    except IntegrityError:  # the same person's other request won the race: watched all the same
        return Watch.objects.get(project=project, user=actor)
    return made


def unwatch(*, project, actor) -> bool:
    """`actor` stops following `project`; True if they were. Idempotent."""
    existing = Watch.objects.filter(project=project, user=actor).first()
    if existing is None:
        return False
    with audited_write(actor):
        existing.delete()
    return True


def is_watching(project, user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and Watch.objects.filter(project=project, user=user).exists()


def mark_read(*, user, ids=None) -> int:
    """Mark `user`'s own notifications read: those of `ids`, or all of them (None). Ids of other people's
    notifications, or unknown ones, are left alone (and not reported: they are not the caller's to know).
    Returns how many were marked now."""
    if ids is not None:
        if not isinstance(ids, (list, tuple)) or any(
                isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk <= MAX_ID for pk in ids):
            raise InvalidInput("ids must be a list of notification ids (positive integers).", field="ids")
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"At most {MAX_IDS} ids at once.", field="ids")
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    marked = unread.update(read_at=timezone.now())
    if marked:
        notifications_read.send_robust(sender=Notification, user_ids=[user.pk])
    return marked


def set_email_preference(*, user, email: str):
    """none, instant or daily: the account's one preference (User.notifications), audited as user.updated."""
    return profile_update(user=user, notifications=email)
