"""Entities that live in other services and whose lifecycle CommandCentral governs."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from core import access
from core.base_models import UUIDModel

# Each of the three key parts is a segment of /entity-states/{service}/{entity_type}/{entity_id}/,
# so none may contain a slash.
SERVICE_PATTERN = r"[A-Za-z0-9._-]{1,100}"
ENTITY_TYPE_PATTERN = r"[a-z][a-z0-9_]{0,49}"
ENTITY_ID_PATTERN = r"[A-Za-z0-9._:@~-]{1,255}"
STATE_PATTERN = r"[a-z][a-z0-9_]{0,49}"

validate_service = RegexValidator(f"^{SERVICE_PATTERN}$", "Letters, digits, '.', '_' or '-' (at most 100).")
validate_entity_type = RegexValidator(
    f"^{ENTITY_TYPE_PATTERN}$", "Lowercase letters, digits and '_', starting with a letter (at most 50)."
)
validate_entity_id = RegexValidator(
    f"^{ENTITY_ID_PATTERN}$", "Letters, digits and . _ : @ ~ - only (no '/'; at most 255)."
)
validate_state = RegexValidator(
    f"^{STATE_PATTERN}$", "Lowercase letters, digits and '_', starting with a letter (at most 50)."
)


class EntityStateQuerySet(models.QuerySet):
    def visible_to(self, user, *, project_ids=()):
        """Entities of projects this user can see, plus project-less ones they registered (operators: all).
        project_ids: access.visible_project_ids(user), when the caller has read them already."""
        own = Q(project__isnull=True, registered_by=user) if access.is_active_user(user) else None
        return access.rows_of_visible_projects(self, user, own=own, ids=project_ids)

    def for_project(self, project):
        return self.filter(project=project)


class EntityState(UUIDModel):
    """The current state of one entity of another service, under the state machine of its type.

    `current_state` is a plain column, not an FSMField: the machine depends on `entity_type`. It is
    changed only by `states.services.entity_transition`.
    """

    audit_entity_type = "entity_state"

    service = models.CharField(max_length=100, validators=[validate_service])
    entity_type = models.CharField(max_length=50, validators=[validate_entity_type])
    entity_id = models.CharField(max_length=255, validators=[validate_entity_id])
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="entity_states"
    )
    current_state = models.CharField(max_length=50, db_index=True, validators=[validate_state])
    last_transition_at = models.DateTimeField(null=True, blank=True)
    last_transition_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_transition_from = models.CharField(max_length=50, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Entities without a project are visible to operators and to the (service) account that registered them.
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="registered_entities"
    )

    objects = EntityStateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A key is unique within its project, so no one can take (or find out about) another
            # project's keys; entities without a project (operators' only) are unique among themselves.
            models.UniqueConstraint(fields=["project", "service", "entity_type", "entity_id"],
                                    condition=models.Q(project__isnull=False), name="entity_state_unique_key_in_project"),
            models.UniqueConstraint(fields=["service", "entity_type", "entity_id"],
                                    condition=models.Q(project__isnull=True), name="entity_state_unique_key_unassigned"),
        ]
        indexes = [models.Index(fields=["project", "entity_type"], name="entity_state_project_type_idx")]

    def __str__(self) -> str:
        return f"{self.service}/{self.entity_type}/{self.entity_id}"

    @property
    def state(self) -> str:
        """The name the transition errors read (`TransitionRefused.current_state`)."""
        return self.current_state

    def get_additional_data(self) -> dict:
        """Read by django-auditlog for every row about this entity: ties the row to the project."""
        return {"project_id": str(self.project_id) if self.project_id else None}
