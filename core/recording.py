"""The audit recording API: rows that django-auditlog's signals cannot write (transitions, refusals,
auth events), the service write block, and the request/command context every row is stamped with.

No app's models are imported: the audit table is django-auditlog's swapped log entry model
(`auditlog.get_logentry_model()`, i.e. `audit.AuditEntry`), looked up when a row is written.
"""

import contextlib
import json
from contextvars import ContextVar
from dataclasses import dataclass

from auditlog import get_logentry_model
from auditlog.cid import get_cid
from auditlog.models import AbstractLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction


class AuditEventType(models.TextChoices):
    ENTITY_CREATED = "entity_created"
    ENTITY_UPDATED = "entity_updated"
    ENTITY_DELETED = "entity_deleted"
    TRANSITION_SUCCESS = "transition_success"
    TRANSITION_DENIED = "transition_denied"
    PERMISSION_DENIED = "permission_denied"
    CHANGE_DENIED = "change_denied"  # an edit or delete the object's state refuses (409)
    AUTH_LOGIN = "auth_login"
    AUTH_LOGOUT = "auth_logout"
    AUTH_FAILED = "auth_failed"
    AUDIT_MAINTENANCE = "audit_maintenance"  # operator actions on the trail itself


class ActorType(models.TextChoices):
    USER = "user"
    SYSTEM = "system"
    SERVICE = "service"


def user_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def actor_type_of(actor) -> str:
    """user, or service for a service account (accounts.User.is_service)."""
    return ActorType.SERVICE if getattr(actor, "is_service", False) else ActorType.USER


def entity_type_of(obj) -> str:
    return getattr(obj, "audit_entity_type", None) or obj._meta.model_name


def project_id_of(obj):
    """The project an object belongs to (a project belongs to itself)."""
    if obj is None:
        return None
    if obj._meta.model_name == "project":
        return obj.pk
    return getattr(obj, "project_id", None)


def record_event(
    *,
    event_type: str,
    event_name: str,
    actor=None,
    obj=None,
    success: bool = True,
    action: int = AbstractLogEntry.Action.ACCESS,
    **fields,
):
    """Append one row (an audit.AuditEntry). `fields` are AuditEntry columns (from_state, rationale, extra, ...)."""
    actor = user_or_none(actor)
    for key in ("changes", "extra"):
        if fields.get(key) is not None:
            # What is stored is what a reader gets back: plain JSON types, not tuples or enums.
            fields[key] = json.loads(json.dumps(fields[key], cls=DjangoJSONEncoder))
    if obj is not None:
        # The instance, not type(obj): Django's logout signal passes request.user, a SimpleLazyObject.
        fields.setdefault("content_type", ContentType.objects.get_for_model(obj))
        fields.setdefault("object_pk", str(obj.pk))
        fields.setdefault("object_repr", str(obj)[:2000])
        fields.setdefault("entity_type", entity_type_of(obj))
        fields.setdefault("entity_id", str(obj.pk))
        fields.setdefault("project_id", project_id_of(obj))
    return get_logentry_model().objects.create(
        event_type=event_type,
        event_name=event_name,
        actor=actor,
        actor_email=getattr(actor, "email", None),
        actor_type=actor_type_of(actor) if actor else fields.pop("actor_type", ActorType.SYSTEM),
        success=success,
        action=action,
        cid=get_cid(),
        **fields,
    )


def record_permission_denied(*, actor, obj, event_name: str, reason: str, **fields):
    return record_event(
        event_type=AuditEventType.PERMISSION_DENIED,
        event_name=event_name,
        actor=actor,
        obj=obj,
        success=False,
        failure_reason=reason,
        **fields,
    )


@dataclass(frozen=True)
class AuditContext:
    """Who is calling and from where, for every row written while it is in force.

    `actor` may be lazy (a request's user is known only once DRF has authenticated it); it is resolved
    when a row is written.
    """

    actor: object = None
    remote_addr: str | None = None


_audit_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


@contextlib.contextmanager
def audit_context(*, actor=None, remote_addr: str | None = None):
    """The caller of a request or a command. Replaces django-auditlog's context, whose `pre_save`
    receiver set remote_addr and the actor *after* the row was hashed:
    AuditEntry.save() reads this before sealing, so the hash covers the row as it is stored."""
    token = _audit_context.set(AuditContext(actor=actor, remote_addr=remote_addr))
    try:
        yield
    finally:
        _audit_context.reset(token)


def current_context() -> AuditContext | None:
    return _audit_context.get()


_acting_actor: ContextVar = ContextVar("audit_acting_actor", default=None)


def current_actor():
    """The actor a service declared for the write in progress (see audited_write)."""
    return _acting_actor.get()


@contextlib.contextmanager
def audited_write(actor):
    """A service's write: one atomic block whose audit rows name `actor`.

    Services know their actor on every surface (API with JWT, pages, admin, commands), so the rows
    django-auditlog writes inside this block take it from here instead of from the request.
    """
    token = _acting_actor.set(user_or_none(actor))
    try:
        # No lock shared by all writers (it would serialize every write of the system): audit rows are
        # queued with the change and sealed into the ledger after commit (audit/ledger/sequencer.py).
        with transaction.atomic():
            yield
    finally:
        _acting_actor.reset(token)


def track_changes(model, *, exclude_fields=(), **options) -> None:
    """Register `model` with django-auditlog: every save and delete writes a row with the field changes.

    Reverse relations are left out. auditlog diffs every field `_meta.get_fields()` lists, and that
    includes the other side of each foreign key pointing at the model, which has no value of its own:
    a new project's row would say `"entity_states": [null, "states.EntityState.None"]` for each of
    them, and so would every webhook payload. Call it from an AppConfig.ready(), when every model, and
    so every reverse relation, is known.
    """
    from auditlog.registry import auditlog

    reverse = [field.name for field in model._meta.get_fields() if field.auto_created and not field.concrete]
    auditlog.register(model, exclude_fields=[*exclude_fields, *reverse], **options)
