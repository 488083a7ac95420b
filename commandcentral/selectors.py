"""Dashboard reads. Everything starts from `visible_to(user)`."""

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import AuditEntry
from decisions.models import Decision, DecisionState
from projects.models import Project, ProjectState


def _per_state(queryset, choices) -> list[tuple[str, int]]:
    counts = dict(queryset.order_by().values_list("state").annotate(n=Count("pk")))
    return [(value, counts.get(value, 0)) for value, _ in choices]


def dashboard_counts(*, user) -> dict:
    """Projects and decisions per state, every state listed (zero included), in lifecycle order."""
    return {
        "projects": _per_state(Project.objects.visible_to(user), ProjectState.choices),
        "decisions": _per_state(Decision.objects.visible_to(user), DecisionState.choices),
    }


def recent_activity(*, user, limit: int = 10):
    return list(AuditEntry.objects.visible_to(user).select_related("actor", "project")[:limit])


def recent_denied(*, user, limit: int = 10):
    return list(AuditEntry.objects.visible_to(user).filter(success=False).select_related("actor", "project")[:limit])


def decisions_past_review(*, user, today: date | None = None, limit: int = 20):
    """Decisions whose review date has passed and that are not archived yet."""
    today = today or timezone.localdate()
    return list(
        Decision.objects.visible_to(user)
        .filter(review_by__lt=today)
        .exclude(state=DecisionState.ARCHIVED)
        .select_related("project")
        .order_by("review_by")[:limit]
    )


def activity_per_day(*, user, days: int = 14, today: date | None = None) -> list[tuple[date, int, int]]:
    """(day, successful events, refused events) for each of the last `days` days, oldest first."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    rows = (
        AuditEntry.objects.visible_to(user)
        .filter(timestamp__gte=since)
        .annotate(day=TruncDate("timestamp"))
        .order_by()
        .values("day")
        .annotate(ok=Count("pk", filter=Q(success=True)), denied=Count("pk", filter=Q(success=False)))
    )
    by_day = {row["day"]: (row["ok"], row["denied"]) for row in rows}
    return [
        (day, *by_day.get(day, (0, 0)))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]
