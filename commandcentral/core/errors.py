"""Domain errors every surface maps the same way (API handler, page messages, admin, commands)."""

from django.core.exceptions import PermissionDenied


class ActionForbidden(PermissionDenied):
    """403: the user can see the object but may not do this. Already recorded as permission_denied."""

    status = 403

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Conflict(Exception):
    """409: the object's state does not allow this change (e.g. delete an active project)."""

    status = 409

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(Exception):
    """400 raised by a service on a rule a serializer or form cannot see (e.g. cross-project links)."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def require(allowed: bool, *, actor, obj, action: str, message: str) -> None:
    """Raise ActionForbidden (after recording the refusal) unless `allowed`.

    Call it before opening the service's atomic block: a row written inside it would roll back.
    """
    if allowed:
        return
    from commandcentral.core.recording import entity_type_of, record_permission_denied

    record_permission_denied(actor=actor, obj=obj, event_name=f"{entity_type_of(obj)}.{action}", reason=message)
    raise ActionForbidden(message)
