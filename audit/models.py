"""The one audit table: django-auditlog's custom log entry model, append-only."""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models, router, transaction
from django.utils import timezone

from core import access, plain_insert
from core.recording import ActorType, AuditEventType

from .ledger import sequencer
from .ledger.merkle import NODE_INDEX_BITS

__all__ = [
    "ActorType", "AuditEntry", "AuditEventType", "AuditImmutable", "LedgerCheckpoint", "LedgerLeaf", "LedgerNode",
    "LedgerQueue",
]


class AuditImmutable(Exception):
    """Raised on any attempt to change or delete an audit row, a ledger leaf, node or checkpoint."""


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
        # bulk_create skips save(), hence the ledger queue; rows are appended one at a time.
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
    type can never rewrite history (auditlog's defaults SET_NULL / CASCADE would UPDATE or delete audit rows).
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # No index: entity_id holds the same key and audit_entity_id_idx (entity_type, entity_id, -id) serves
    # every lookup of an object's rows; this one was a random page more to write on every append.
    object_pk = models.CharField(max_length=255, blank=True, default="")
    # auditlog's integer object id (empty for UUID-keyed objects) and its action: nothing filters on
    # either, so neither has an index to write on every append (migration 0013).
    object_id = models.BigIntegerField(blank=True, null=True, verbose_name="object id")
    action = models.PositiveSmallIntegerField(choices=AbstractLogEntry.Action.choices, verbose_name="action")
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
        # The row and its place in the sequencer's queue commit or roll back together. No lock is
        # shared with other writers: the sequencer gives leaf indices after commit (audit/ledger/).
        with transaction.atomic(using=using, savepoint=False):
            if getattr(settings, "AUDIT_FAST_APPEND", True):  # the same two rows, without save()'s machinery
                plain_insert.insert(self, using)
                plain_insert.insert(LedgerQueue(entry_id=self.pk), using)
            else:
                super().save(*args, **kwargs)
                LedgerQueue.objects.using(using).create(entry_id=self.pk)
        sequencer.seal_after_commit(using)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("Audit rows are never deleted.")

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
        from core.recording import actor_type_of, user_or_none, current_actor, current_context

        context = current_context()
        actor = None
        if self.actor_id is None:
            # The actor a service declared for this write, else the caller of the request or command.
            actor = current_actor() or (user_or_none(context.actor) if context is not None else None)
            if actor is not None:
                self.actor_id = actor.pk
                self.actor_email = self.actor_email or actor.email
        if self.remote_addr is None and context is not None:
            self.remote_addr = context.remote_addr
        if self.actor_id and self.actor_type == ActorType.SYSTEM:
            self.actor_type = actor_type_of(actor if actor is not None else self.actor)
        if self.actor_id and not self.actor_email:
            self.actor_email = self.actor.email

    def _entity_type_from_content_type(self) -> str:
        model = self.content_type.model_class() if self.content_type_id else None
        return getattr(model, "audit_entity_type", None) or (self.content_type.model if self.content_type_id else "")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutable(f"{self.model._meta.verbose_name_plural} are never updated.")

    def delete(self):
        raise AuditImmutable(f"{self.model._meta.verbose_name_plural} are never deleted.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutable(f"{self._meta.verbose_name_plural} are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable(f"{self._meta.verbose_name_plural} are never deleted.")


class RowidKey(models.BigIntegerField):
    """A 64-bit primary key that SQLite stores as the table's rowid: there only a column declared
    `INTEGER PRIMARY KEY` is, and a `bigint` key gets a separate index instead, one more B-tree page
    written by every insert and delete. `bigint` on other databases."""

    def db_type(self, connection):
        return "integer" if connection.vendor == "sqlite" else super().db_type(connection)


class LedgerQueue(models.Model):
    """Audit rows committed but not yet in the ledger: written with the row, removed by the sequencer.

    Not append-only, on purpose: it is the sequencer's work list (Trillian's "unsequenced" table).
    A row taken out of it without being sealed is found by verify_audit (`unqueued_row`).
    """

    entry_id = RowidKey(primary_key=True)
    enqueued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "unsealed audit row"

    def __str__(self) -> str:
        return f"audit row #{self.entry_id} waiting since {self.enqueued_at:%H:%M:%S}"


class LedgerLeaf(AppendOnly):
    """Leaf `leaf_index` of the RFC 9162 tree: one audit row, and SHA-256(0x00 ‖ its canonical bytes)."""

    leaf_index = models.BigIntegerField(primary_key=True)
    entry = models.OneToOneField(AuditEntry, on_delete=models.PROTECT, related_name="ledger_leaf")
    leaf_hash = models.BinaryField(max_length=32)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "ledger leaf"

    def __str__(self) -> str:
        return f"leaf #{self.leaf_index} (audit row #{self.entry_id})"



class LedgerNode(AppendOnly):
    """The hash of a complete subtree of level ≥ 1 (2^level leaves from index · 2^level), stored once.

    With these, the root and every proof cost O(log n) reads (audit/ledger/merkle.py).
    """

    key = models.BigIntegerField(primary_key=True, help_text="level · 2^48 + index")
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = "ledger node"

    @staticmethod
    def key_of(level: int, index: int) -> int:
        return (level << NODE_INDEX_BITS) | index

    @property
    def level(self) -> int:
        return self.key >> NODE_INDEX_BITS

    @property
    def index(self) -> int:
        return self.key & ((1 << NODE_INDEX_BITS) - 1)

    def __str__(self) -> str:
        return f"node level {self.level} index {self.index}"


class LedgerCheckpoint(AppendOnly):
    """A signed tree head: a C2SP tlog-checkpoint in a signed note, exactly as issued."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-tree_size"]
        get_latest_by = "tree_size"
        verbose_name = "ledger checkpoint"

    def __str__(self) -> str:
        return f"checkpoint of tree size {self.tree_size} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class LedgerCosignature(AppendOnly):
    """A witness's cosignature line (C2SP cosignature/v1) on our checkpoint of `tree_size`, as it answered."""

    tree_size = models.BigIntegerField(db_index=True)
    witness = models.CharField(max_length=300, help_text="the witness's cosigner verifier key")
    line = models.TextField(help_text="the signature line, '— <name> <base64>' and its newline")
    cosigned_at = models.DateTimeField(help_text="the time inside the cosignature")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "witness cosignature"
        constraints = [models.UniqueConstraint(fields=["tree_size", "witness"], name="audit_cosignature_once_per_size")]

    def __str__(self) -> str:
        return f"cosignature of tree size {self.tree_size} by {self.witness.split('+', 1)[0]}"


class WitnessState(models.Model):
    """How submitting our checkpoints to one configured witness goes: the size it last cosigned, the last error.

    Not append-only: it is a status, not evidence (the cosignatures are the evidence). The witness keeps
    its own record of our log, so a value changed here is corrected by the witness's 409 answer.
    """

    witness = models.CharField(max_length=300, unique=True, help_text="the witness's cosigner verifier key")
    url = models.URLField(max_length=500)
    cosigned_size = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "witness"

    def __str__(self) -> str:
        return self.witness.split("+", 1)[0]


class WitnessedCheckpoint(AppendOnly):
    """As a witness: a checkpoint of another log that we verified and cosigned (our last-seen state of it)."""

    origin = models.CharField(max_length=255)
    tree_size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField(help_text="the checkpoint as the log submitted it")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "witnessed checkpoint"
        constraints = [models.UniqueConstraint(fields=["origin", "tree_size"], name="audit_witnessed_once_per_size")]
        indexes = [models.Index(fields=["origin", "-tree_size"], name="audit_witnessed_latest_idx")]

    def __str__(self) -> str:
        return f"{self.origin} at tree size {self.tree_size}"
