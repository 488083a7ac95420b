"""The one audit table: django-auditlog's custom log entry model, append-only."""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models, router, transaction
from django.utils import timezone

from commandcentral.core import access
from commandcentral.core.recording import ActorType, AuditEventType

from . import integrity

__all__ = ["ActorType", "AuditCheckpoint", "AuditEntry", "AuditEventType", "AuditImmutable", "AuditSealBroken"]


class AuditImmutable(Exception):
    """Raised on any attempt to change or delete an audit row."""


class AuditSealBroken(Exception):
    """Something changed a row's hashed content between sealing and the INSERT (a bug, never data)."""


_EVENT_FOR_ACTION = {
    AbstractLogEntry.Action.CREATE: (AuditEventType.ENTITY_CREATED, "created"),
    AbstractLogEntry.Action.UPDATE: (AuditEventType.ENTITY_UPDATED, "updated"),
    AbstractLogEntry.Action.DELETE: (AuditEventType.ENTITY_DELETED, "deleted"),
}


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutable("Audit rows are never updated.")

    def delete(self):
        raise AuditImmutable("Audit rows are never deleted.")

    def bulk_create(self, objs, *args, **kwargs):
        # bulk_create skips save(), hence the hash chain; rows are appended one at a time.
        raise AuditImmutable("Audit rows are appended one by one through save(); bulk_create is refused.")

    def visible_to(self, user):
        """Rows this user may read: operators everything, others the rows of projects they can see."""
        # A correlated EXISTS, not `project__in=<subquery>`: SQLite turns the IN list into one index
        # search per visible project and sorts every matching row before LIMIT (O(trail) per page);
        # EXISTS lets it walk the (filter, -id) index newest first and stop after one page.
        return access.rows_of_visible_projects(self, user, correlated=True)


class AuditEntryManager(LogEntryManager.from_queryset(AuditEntryQuerySet)):
    pass


class AuditEntry(AbstractLogEntry):
    """One row per change, transition attempt, refusal and authentication event.

    The integer id orders the trail. Foreign keys PROTECT so that deleting a user, project or content
    type can never rewrite history (auditlog's defaults SET_NULL / CASCADE would, PITFALLS §1.3).
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    object_pk = models.CharField(max_length=255, blank=True, default="", db_index=True)
    object_repr = models.TextField(blank=True, default="")
    # No single-column index: audit_actor_id_idx (actor, -id) serves every lookup by actor, PROTECT's
    # check included. Each index is written on every append (bench/README.md).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False
    )
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)

    event_type = models.CharField(max_length=32, choices=AuditEventType.choices)  # audit_event_type_id_idx
    event_name = models.CharField(max_length=100, db_index=True)
    entity_type = models.CharField(max_length=50, blank=True, default="")
    entity_id = models.CharField(max_length=255, blank=True, default="")
    project = models.ForeignKey(  # audit_project_id_idx (project, -id) serves lookups by project
        "projects.Project", on_delete=models.PROTECT, related_name="audit_entries", null=True, blank=True,
        db_index=False,
    )
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    success = models.BooleanField(default=True)  # audit_success_id_idx
    transition = models.CharField(max_length=50, blank=True, default="")
    from_state = models.CharField(max_length=50, blank=True, default="")
    to_state = models.CharField(max_length=50, blank=True, default="")
    rationale = models.TextField(blank=True, default="")
    failure_reason = models.TextField(blank=True, default="")
    extra = models.JSONField(default=dict, blank=True)

    # Hash chain (audit/integrity/canonical.py documents the canonical form). `seq` is gap-free and unique:
    # the unique index is the fork guard if two appenders ever got past the lock.
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, editable=False)

    objects = AuditEntryManager()

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["project", "-id"], name="audit_project_id_idx"),
            models.Index(fields=["event_type", "-id"], name="audit_event_type_id_idx"),
            models.Index(fields=["actor", "-id"], name="audit_actor_id_idx"),
            models.Index(fields=["entity_type", "entity_id", "-id"], name="audit_entity_id_idx"),
            models.Index(fields=["success", "-id"], name="audit_success_id_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_name} {'ok' if self.success else 'refused'}"

    def save(self, *args, **kwargs):
        # Invariant, not business logic: a row is written once and never again.
        if not self._state.adding:
            raise AuditImmutable("Audit rows are never updated.")
        self._fill_derived_fields()
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        # The chain lock (PostgreSQL) or write lock (SQLite) must cover reading the head and the
        # INSERT, and last until commit. No savepoint: a failed append must fail the whole change.
        with transaction.atomic(using=using, savepoint=False):
            integrity.seal(self, using=using)
            sealed = self._hashed_values()
            super().save(*args, **kwargs)
            # A pre_save receiver (auditlog's context once did, issue 13) that sets a hashed column
            # after the seal would store a row that fails its own hash: refuse it, with the change.
            if self._hashed_values() != sealed:
                changed = [name for name, before, after in zip(integrity.HASHED_FIELDS, sealed, self._hashed_values()) if before != after]
                raise AuditSealBroken(f"audit row changed after it was sealed: {', '.join(changed)}")

    def _hashed_values(self) -> tuple:
        return tuple(getattr(self, name) for name in integrity.HASHED_FIELDS)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("Audit rows are never deleted.")

    @staticmethod
    def lock_chain(using: str = "default") -> None:
        """Serialize appenders until the transaction ends (audited_write takes it first)."""
        integrity.lock_chain(using)

    def _fill_derived_fields(self) -> None:
        """Rows written by django-auditlog's signals carry only its own columns; derive ours."""
        if not self.event_type and self.action in _EVENT_FOR_ACTION:
            self.event_type, verb = _EVENT_FOR_ACTION[self.action]
            self.entity_type = self.entity_type or self._entity_type_from_content_type()
            self.event_name = self.event_name or f"{self.entity_type}.{verb}"
        if not self.entity_id and self.object_pk:
            self.entity_id = str(self.object_pk)
        if self.project_id is None and isinstance(self.additional_data, dict):
            self.project_id = self.additional_data.get("project_id")
        from commandcentral.core.recording import user_or_none, current_actor, current_context

        context = current_context()
        if self.actor_id is None:
            # The actor a service declared for this write, else the caller of the request or command.
            actor = current_actor() or (user_or_none(context.actor) if context is not None else None)
            if actor is not None:
                self.actor_id = actor.pk
                self.actor_email = self.actor_email or actor.email
        if self.remote_addr is None and context is not None:
            self.remote_addr = context.remote_addr
        if self.actor_id and self.actor_type == ActorType.SYSTEM:
            self.actor_type = ActorType.USER
        if self.actor_id and not self.actor_email:
            self.actor_email = self.actor.email

    def _entity_type_from_content_type(self) -> str:
        model = self.content_type.model_class() if self.content_type_id else None
        return getattr(model, "audit_entity_type", None) or (self.content_type.model if self.content_type_id else "")


class AuditCheckpointQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutable("Audit checkpoints are never updated.")

    def delete(self):
        raise AuditImmutable("Audit checkpoints are never deleted.")


class AuditCheckpoint(models.Model):
    """A signed checkpoint of the chain head (made by `audit_checkpoint`), kept for the status views.

    Append-only like the trail. The copy that proves anything is the one an operator keeps outside
    this database; this table only says which head was last vouched for.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_id = models.BigIntegerField(null=True, blank=True)
    seq = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    document = models.TextField(help_text="The signed JSON document exactly as issued.")

    objects = AuditCheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"checkpoint seq {self.seq} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutable("Audit checkpoints are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("Audit checkpoints are never deleted.")
