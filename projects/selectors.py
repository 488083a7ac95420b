"""Reads for the project pages. Everything starts from `visible_to(user)`."""

from django.db.models import Count, Q

from audit.models import AuditEntry
from commandcentral.core.access import role_of
from decisions.models import Decision

from .filters import ProjectFilter
from .models import Membership, Project


def project_list(*, user, params) -> ProjectFilter:
    """The shared FilterSet over the projects `user` can see, with decision counts."""
    queryset = (
        Project.objects.visible_to(user)
        .select_related("owner")
        .annotate(decision_count=Count("decisions", filter=Q(decisions__deleted_at__isnull=True)))
        .order_by("-created_at")
    )
    return ProjectFilter(params, queryset=queryset)


def note_roles(projects, *, user) -> None:
    """Set `project.my_role` (access.role_of) on each project of a page with one membership query: the
    roles found are put in role_of's per-project cache first."""
    projects = list(projects)
    roles = dict(Membership.objects.filter(user_id=user.pk, project__in=[p.pk for p in projects])
                 .values_list("project_id", "role"))
    for project in projects:
        project._roles = {user.pk: roles.get(project.pk)}
        project.my_role = role_of(project, user)


def project_team(*, project: Project):
    return list(project.memberships.select_related("user").order_by("role", "user__email"))


def project_decisions(*, project: Project, user):
    return list(
        Decision.objects.visible_to(user).filter(project=project).select_related("created_by").order_by("-created_at")
    )


def project_timeline(*, project: Project, user, limit: int = 25):
    """Audit rows of the project, its decisions and its team, newest first."""
    return list(AuditEntry.objects.visible_to(user).filter(project=project).select_related("actor")[:limit])
