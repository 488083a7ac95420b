"""Reads for pages that list decisions. Everything starts from `visible_to(user)`."""

from .models import Decision


def project_decisions(*, project, user) -> list[Decision]:
    """The decisions of `project` that `user` can see, newest first."""
    return list(
        Decision.objects.visible_to(user).filter(project=project).select_related("created_by").order_by("-created_at")
    )
