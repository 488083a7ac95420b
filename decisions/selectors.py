"""Reads for pages that list decisions. Everything starts from `visible_to(user)`."""

from core.access import reviewable_projects

from .models import Decision, DecisionState, Review


def project_decisions(*, project, user) -> list[Decision]:
    """The decisions of `project` that `user` can see, newest first."""
    return list(
        Decision.objects.visible_to(user).filter(project=project).select_related("created_by").order_by("-created_at")
    )


def awaiting_my_review(*, user, limit: int = 20) -> list[Decision]:
    """Active decisions that name `user` as a reviewer, while they may review them (on the team), and have
    no verdict of theirs yet, oldest first."""
    if not getattr(user, "is_authenticated", False):
        return []
    reviewed = Review.objects.filter(reviewer=user).values("decision_id")
    return list(
        Decision.objects.visible_to(user)
        .filter(state=DecisionState.ACTIVE, reviewers=user, project__in=reviewable_projects(user))
        .exclude(pk__in=reviewed)
        .select_related("project")
        .order_by("state_changed_at", "created_at")[:limit]
    )
