"""Reads of notifications, for the pages, the API and the live event stream."""

from django.db.models import Count, Max

from .models import Notification, Watch


def for_user(user, *, unread: bool = False):
    """The caller's own notifications, newest first, with their actors."""
    rows = Notification.objects.filter(recipient=user).select_related("actor").order_by("-id")
    return rows.filter(read_at__isnull=True) if unread else rows


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def unread_counts(user_ids) -> dict:
    """{user id: unread notifications} for these users, in one query (0 for those with none). The keys
    are the ids as given (UUIDs or their strings)."""
    given = {str(user_id): user_id for user_id in user_ids}
    counts = dict.fromkeys(given.values(), 0)
    if not given:
        return counts
    rows = (Notification.objects.filter(recipient_id__in=list(given), read_at__isnull=True).order_by()
            .values("recipient_id").annotate(unread=Count("id")).values_list("recipient_id", "unread"))
    for recipient_id, unread in rows:
        counts[given[str(recipient_id)]] = unread
    return counts


def latest_id() -> int:
    """The largest notification id (0 for none): it grows whenever notifications are made."""
    return Notification.objects.aggregate(latest=Max("id"))["latest"] or 0


def recipients_since(notification_id: int) -> set:
    """The users who got notifications with ids above `notification_id` (the stream's tick)."""
    return set(Notification.objects.filter(id__gt=notification_id).values_list("recipient_id", flat=True).distinct())


def watched_project_ids(user) -> set:
    return set(Watch.objects.filter(user=user).values_list("project_id", flat=True))
