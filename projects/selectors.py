"""Reads for the project pages. Everything starts from `visible_to(user)`."""

from django.db.models import Count, Q

from audit.models import AuditEntry

from .filters import ProjectFilter
from .models import Project


def project_list(*, user, params) -> ProjectFilter:
    """The shared FilterSet over the projects `user` can see, with decision counts."""
    queryset = (
        Project.objects.visible_to(user)
        .select_related("owner")
        .annotate(decision_count=Count("decisions", filter=Q(decisions__deleted_at__isnull=True)))
        .order_by("-created_at")
    )
    return ProjectFilter(params, queryset=queryset)


def project_team(*, project: Project):
    return list(project.memberships.select_related("user").order_by("role", "user__email"))


def project_timeline(*, project: Project, user, limit: int = 25):
    """Audit rows of the project, its decisions and its team, newest first."""
    return list(AuditEntry.objects.visible_to(user).filter(project=project).select_related("actor")[:limit])
