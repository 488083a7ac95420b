"""Domain errors every surface maps the same way (API handler, page messages, admin, commands), and the
one shape of an error's JSON body."""

from django.core.exceptions import PermissionDenied

from .recording import AuditEventType

# The machine code of an error body by HTTP status, when nothing more precise is known.
STATUS_CODES = {
    400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
    415: "unsupported_media_type", 422: "unprocessable", 429: "throttled", 500: "server_error",
    503: "unavailable",
}


def error_body(status: int, detail: str, *, code: str | None = None, errors: dict | None = None, **extra) -> dict:
    """Every error the API answers, 4xx and 5xx alike: `detail` (a sentence for a person), `code` (a
    stable word for a program), `errors` ({field: [messages]}) when fields were wrong, and what a kind of
    error adds (a refused transition's current_state and allowed_transitions, its missing requirements)."""
    body = {"detail": detail, "code": code or STATUS_CODES.get(status, "error")}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


class ActionForbidden(PermissionDenied):
    """403: the user can see the object but may not do this. Already recorded as permission_denied."""

    status = 403
    code = "permission_denied"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Conflict(Exception):
    """409: the object's state does not allow this change (e.g. delete an active project)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(Exception):
    """400 raised by a service on a rule a serializer or form cannot see (e.g. cross-project links)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def plain_list(items: list[str]) -> str:
    """"a", "a and b", "a, b and c": requirements in a sentence."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def require(allowed: bool, *, actor, obj, action: str, message: str) -> None:
    """Raise ActionForbidden (after recording the refusal as permission_denied) unless `allowed`.

    `action` is "<entity type>.<verb>" when there is no `obj` yet (a create). Call it before opening
    the service's atomic block: a row written inside it would roll back.
    """
    if allowed:
        return
    raise _recorded(ActionForbidden(message), event_type=AuditEventType.PERMISSION_DENIED, actor=actor, obj=obj,
                    action=action)


def record_refusal(*, actor, obj, action: str, message: str) -> "Conflict":
    """Write a change_denied audit row for a change the object's state does not allow, and return the
    Conflict (409) for the caller to raise: `raise record_refusal(...)`.

    The row is written when this is called, so call it before the service's atomic block, like `require`.
    """
    return _recorded(Conflict(message), event_type=AuditEventType.CHANGE_DENIED, actor=actor, obj=obj, action=action)


def _recorded(refusal, *, event_type: str, actor, obj, action: str):
    from core.recording import entity_type_of, record_event

    event_name = f"{entity_type_of(obj)}.{action}" if obj is not None else action
    row = dict(event_type=event_type, event_name=event_name, actor=actor, obj=obj,
               success=False, failure_reason=refusal.message)
    refusal.audit_row = row
    refusal.audit_entry = record_event(**row)
    return refusal


def record_if_rolled_back(refusal) -> None:
    """After a refusal left an atomic block the caller opened (the admin's change form): the row it
    wrote inside is gone with the rollback, so it is written again, now outside. Otherwise nothing."""
    entry = getattr(refusal, "audit_entry", None)
    if entry is None:
        return
    still_there = type(entry)._base_manager.filter(pk=entry.pk, timestamp=entry.timestamp, event_name=entry.event_name).exists()
    if not still_there:
        from core.recording import record_event

        refusal.audit_entry = record_event(**refusal.audit_row)


# --- Transition refusals (raised by the one engine in core.transitions) ------------------------------------------------------------------------------------


class TransitionRefused(Exception):
    """Base of every refusal; `status` is what the HTTP surfaces answer."""

    status = 400
    event_type = AuditEventType.TRANSITION_DENIED
    reason_code = "refused"  # in the refusal's audit row and metrics
    code = "transition_refused"  # in the API's error body

    def __init__(self, obj, name: str, message: str):
        super().__init__(message)
        self.obj = obj
        self.name = name
        self.message = message
        self.current_state = getattr(obj, "state", "")


class UnknownTransition(TransitionRefused):
    status = 404
    reason_code = "unknown_transition"
    code = "unknown_transition"

    def __init__(self, obj, name: str):
        super().__init__(obj, name, f"{type(obj).__name__} has no transition '{name}'.")


class TransitionForbidden(TransitionRefused):
    status = 403
    event_type = AuditEventType.PERMISSION_DENIED
    reason_code = "permission"
    code = "permission_denied"

    def __init__(self, obj, name: str):
        super().__init__(obj, name, f"You do not have permission to {name} this {type(obj).__name__.lower()}.")


class TransitionNotAvailable(TransitionRefused):
    status = 409
    reason_code = "state"
    code = "invalid_state"

    def __init__(self, obj, name: str, allowed: list[str], message: str | None = None):
        self.allowed_transitions = allowed
        super().__init__(
            obj,
            name,
            message or f"Cannot {name} a {type(obj).__name__.lower()} that is {obj.state}.",
        )


class TransitionConflict(TransitionNotAvailable):
    """Someone else changed the state between our read and our write."""

    reason_code = "conflict"
    code = "concurrent_change"


class RequirementsMissing(TransitionRefused):
    status = 400
    reason_code = "requirements"
    code = "requirements_missing"

    def __init__(self, obj, name: str, missing: list[str], texts: list[str] | None = None):
        self.missing = missing  # the machine names (API `missing`)
        self.missing_text = texts or missing  # the same in plain words
        super().__init__(obj, name, f"Cannot {name} yet: it needs {plain_list(texts or missing)}.")
