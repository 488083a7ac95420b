"""Projects, their team, and the project lifecycle."""

from django.conf import settings

AUTH_USER_MODEL = settings.AUTH_USER_MODEL  # the model's `settings` field shadows the module in its body
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core import access
from core.access import can_steer
from core.base_models import TimestampedModel, UUIDModel
from core.transitions import StateTracked


class ProjectState(models.TextChoices):
    PROPOSED = "proposed"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    KILLED = "killed"


class MembershipRole(models.TextChoices):
    MEMBER = "member"
    VIEWER = "viewer"


class ProjectQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, user):
        """Live projects this user may see at all (core.access). Anything else answers 404."""
        return access.visible_projects(user, self)


class Project(StateTracked, ConcurrentTransitionMixin, UUIDModel):
    audit_entity_type = "project"

    name = models.CharField(max_length=200)
    # Not indexed on its own: every lookup by slug is of a live project, which the partial unique index
    # project_slug_unique_live (below) serves; a plain index beside it was one more page every create wrote.
    slug = models.SlugField(max_length=220, db_index=False)
    description = models.TextField(blank=True)
    state = FSMField(default=ProjectState.PROPOSED, choices=ProjectState.choices, protected=True, db_index=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # No index on the two "who" columns below: nothing lists projects by who changed or deleted them,
    # and every create and transition would pay for one (a B-tree page each per commit). Deleting a
    # user, which they PROTECT, reads the table once instead.
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects", blank=True
    )
    settings = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    repo_path = models.CharField(max_length=500, blank=True)
    repo_url = models.URLField(max_length=500, blank=True)
    # Indexed as the first column of project_live_created_idx (below), which serves the live projects.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Its second column, newest first: the live lists read that index; a plain index of the column, only
    # good for lists that include deleted projects (the admin's), was one more page every create wrote.
    created_at = models.DateTimeField(auto_now_add=True)
    # Who deleted it: they may undo it for a while (access.can_restore).
    deleted_by = models.ForeignKey(AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_index=False)

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
