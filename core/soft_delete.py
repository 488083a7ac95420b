"""Soft delete and restore of a governed object (a project, a decision): the steps every such write shares.

Each checks who may (403, recorded as permission_denied) and what the object's state allows (409,
recorded as change_denied), both before the write, then sets or clears `deleted_at`/`deleted_by` in one
audited write (django-auditlog's row names `actor`). What differs between the models, who may delete
and which states keep an object, is the app's rule: its service hands it in.
"""

from typing import Callable

from django.utils import timezone

from .access import can_restore
from .errors import record_refusal, require
from .recording import audited_write

SOFT_DELETE_FIELDS = ["deleted_at", "deleted_by", "updated_at"]


def soft_delete(obj, *, actor, allowed: bool, forbidden: str, conflict: Callable[..., str | None]):
    """Mark `obj` deleted by `actor`: a 403 with `forbidden` unless `allowed` (the app's access rule),
    a 409 with `conflict(obj)` when that says why the object's state keeps it (else None)."""
    require(allowed, actor=actor, obj=obj, action="delete", message=forbidden)
    if reason := conflict(obj):
        raise record_refusal(actor=actor, obj=obj, action="delete", message=reason)
    with audited_write(actor):
        obj.deleted_at, obj.deleted_by = timezone.now(), actor
        obj.save(update_fields=SOFT_DELETE_FIELDS)
    return obj


def restore(obj, *, actor, forbidden: str, conflict: Callable[..., str | None] | None = None):
    """Bring `obj` back: a 403 with `forbidden` unless access.can_restore, a 409 with `conflict(obj)`
    when that says what keeps it deleted (else None). A live `obj` is left as it is."""
    require(can_restore(obj, actor), actor=actor, obj=obj, action="restore", message=forbidden)
    if obj.deleted_at is None:
        return obj
    if conflict is not None and (reason := conflict(obj)):
        raise record_refusal(actor=actor, obj=obj, action="restore", message=reason)
    with audited_write(actor):
        obj.deleted_at, obj.deleted_by = None, None
        obj.save(update_fields=SOFT_DELETE_FIELDS)
    return obj
