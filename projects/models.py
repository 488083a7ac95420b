"""Projects, their team, and the project lifecycle."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from commandcentral.base_models import TimestampedModel, UUIDModel
from commandcentral.by_key import get_by_key
from commandcentral.transitions import StateTracked


class ProjectState(models.TextChoices):
    PROPOSED = "proposed"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    KILLED = "killed"


class MembershipRole(models.TextChoices):
    MEMBER = "member"
    VIEWER = "viewer"


def role_of(project: "Project", user) -> str | None:
    """operator, owner, member, viewer, or None for anyone else."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_staff:
        return "operator"
    if project.owner_id == user.pk:
        return "owner"
    cache = getattr(project, "_roles", None)
    if cache is None:
        cache = project._roles = {}
    if user.pk not in cache:
        cache[user.pk] = (
            Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
        )
    return cache[user.pk]


def can_steer(project: "Project", user) -> bool:
    """Operators and the owner may edit the project, manage its team and move it between states."""
    return role_of(project, user) in ("operator", "owner")


def can_contribute(project: "Project", user) -> bool:
    """Operators, the owner and members may create and edit decisions and track entities."""
    return role_of(project, user) in ("operator", "owner", MembershipRole.MEMBER)


def visible_project(user, pk) -> "Project":
    """The live project `pk` if `user` may see it, else Project.DoesNotExist (callers answer 404).

    The same rule as ProjectQuerySet.visible_to(): role_of() is not None exactly for the projects it
    returns (a test pins that). Read by primary key instead: building and compiling visible_to()'s
    subquery was a fifth of a project request (bench/README.md). The role looked up stays cached on
    the project for the permission checks that follow, and an owner reading their own project is
    its `owner` already.
    """
    if pk is None:
        raise Project.DoesNotExist
    project = get_by_key(Project, pk)
    if project.deleted_at is not None or role_of(project, user) is None:
        raise Project.DoesNotExist
    if project.owner_id == user.pk:
        project.owner = user
    return project


class ProjectQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, user):
        """Live projects this user may see at all. Anything outside this set must answer 404."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        live = self.live()
        if user.is_staff:
            return live
        member_of = Membership.objects.filter(user=user).values("project_id")
        # A subquery rather than a join: no duplicates, no distinct() needed.
        return live.filter(Q(owner=user) | Q(pk__in=member_of))


class Project(StateTracked, ConcurrentTransitionMixin, UUIDModel):
    audit_entity_type = "project"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    description = models.TextField(blank=True)
    state = FSMField(default=ProjectState.PROPOSED, choices=ProjectState.choices, protected=True, db_index=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects", blank=True
    )
    settings = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    repo_path = models.CharField(max_length=500, blank=True)
    repo_url = models.URLField(max_length=500, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(deleted_at__isnull=True), name="project_slug_unique_live"
            )
        ]
        # Live projects newest first (every list): without it SQLite picks the deleted_at index,
        # reads every live project and sorts them for each page.
        indexes = [models.Index(fields=["deleted_at", "-created_at"], name="project_live_created_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.pk])

    def get_additional_data(self) -> dict:
        """Read by django-auditlog for every row about this project: ties the row to the project."""
        return {"project_id": str(self.pk)}

    @property
    def is_closed(self) -> bool:
        return self.state in (ProjectState.COMPLETED, ProjectState.KILLED)

    # The decorators are the only written copy of the project state machine.
    @transition(state, source=ProjectState.PROPOSED, target=ProjectState.ACTIVE, permission=can_steer)
    def activate(self) -> None:
        """State change only; saving and auditing belong to perform_transition."""

    @transition(state, source=ProjectState.ACTIVE, target=ProjectState.PAUSED, permission=can_steer)
    def pause(self) -> None:
        """State change only."""

    @transition(state, source=ProjectState.PAUSED, target=ProjectState.ACTIVE, permission=can_steer)
    def resume(self) -> None:
        """State change only."""

    @transition(state, source=ProjectState.ACTIVE, target=ProjectState.COMPLETED, permission=can_steer)
    def complete(self) -> None:
        """State change only."""

    @transition(
        state,
        source=[ProjectState.PROPOSED, ProjectState.ACTIVE, ProjectState.PAUSED],
        target=ProjectState.KILLED,
        permission=can_steer,
    )
    def kill(self) -> None:
        """State change only."""


class Membership(TimestampedModel):
    audit_entity_type = "membership"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER)

    class Meta:
        ordering = ["project", "user__email"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"

    def get_additional_data(self) -> dict:
        return {"project_id": str(self.project_id)}
