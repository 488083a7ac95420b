"""The one transition path. API, pages, admin buttons and the `transition` command all call
`perform_transition`; nothing else changes a state field.

Order of checks (each refusal is recorded): unknown name → 404 · permission= false → 403 ·
not allowed from the current state → 409 · requirements (conditions) missing → 400.
"""

import copy
from dataclasses import dataclass, field
from typing import Callable

from auditlog.context import disable_auditlog
from auditlog.diff import model_instance_diff
from django.utils import timezone
from django_fsm import ConcurrentTransition, FSMFieldMixin, Transition

from audit.models import AuditEntry, AuditEventType
from audit.recording import audited_write, record_event, record_permission_denied
from commandcentral.by_key import get_by_key
from commandcentral.metrics import count_transition


# --- What the model FSMs declare ---------------------------------------------------------------


@dataclass(frozen=True)
class TransitionSpec:
    """One named transition of a model, gathered from its @transition decorators."""

    name: str
    sources: tuple[str, ...]
    target: str
    permission: Callable | None
    conditions: tuple[Callable, ...]
    params: tuple[str, ...] = field(default=())

    def has_perm(self, obj, user) -> bool:
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        return bool(self.permission(obj, user)) if self.permission else True

    def missing_requirements(self, obj) -> list[str]:
        return [condition.__name__ for condition in self.conditions if not condition(obj)]


def state_field(model):
    return model._meta.get_field("state")


def transition_specs(model) -> dict[str, TransitionSpec]:
    """Every transition of `model`, in declaration order, derived from django-fsm-2's metadata."""
    gathered: dict[str, list[Transition]] = {}
    for fsm_transition in state_field(model).get_all_transitions(model):
        gathered.setdefault(fsm_transition.name, []).append(fsm_transition)
    specs = {}
    for name, group in gathered.items():
        first = group[0]
        specs[name] = TransitionSpec(
            name=name,
            sources=tuple(str(t.source) for t in group),
            target=str(first.target),
            permission=first.permission,
            conditions=tuple(first.conditions),
            params=tuple(first.custom.get("params", ())),
        )
    return specs


def allowed_transitions(obj, user) -> list[str]:
    """Names this user may run from the current state (requirements are not considered)."""
    return [
        spec.name
        for spec in transition_specs(type(obj)).values()
        if obj.state in spec.sources and spec.has_perm(obj, user)
    ]


# --- Refusals ------------------------------------------------------------------------------------


class TransitionRefused(Exception):
    """Base of every refusal; `status` is what the HTTP surfaces answer."""

    status = 400
    event_type = AuditEventType.TRANSITION_DENIED
    reason_code = "refused"

    def __init__(self, obj, name: str, message: str):
        super().__init__(message)
        self.obj = obj
        self.name = name
        self.message = message
        self.current_state = getattr(obj, "state", "")


class UnknownTransition(TransitionRefused):
    status = 404
    reason_code = "unknown_transition"

    def __init__(self, obj, name: str):
        super().__init__(obj, name, f"{type(obj).__name__} has no transition '{name}'.")


class TransitionForbidden(TransitionRefused):
    status = 403
    event_type = AuditEventType.PERMISSION_DENIED
    reason_code = "permission"

    def __init__(self, obj, name: str):
        super().__init__(obj, name, f"You do not have permission to {name} this {type(obj).__name__.lower()}.")


class TransitionNotAvailable(TransitionRefused):
    status = 409
    reason_code = "state"

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


class RequirementsMissing(TransitionRefused):
    status = 400
    reason_code = "requirements"

    def __init__(self, obj, name: str, missing: list[str]):
        self.missing = missing
        super().__init__(obj, name, f"Cannot {name}: requirements not met: {', '.join(missing)}.")


# --- The path ------------------------------------------------------------------------------------


def declared_transition(obj, name: str) -> TransitionSpec:
    spec = transition_specs(type(obj)).get(name)
    if spec is None:
        raise UnknownTransition(obj, name)
    return spec


def ensure_allowed(obj, spec: TransitionSpec, actor) -> None:
    """Raise the first refusal that applies: 403, then 409, then 400."""
    if not spec.has_perm(obj, actor):
        raise TransitionForbidden(obj, spec.name)
    if obj.state not in spec.sources:
        raise TransitionNotAvailable(obj, spec.name, allowed_transitions(obj, actor))
    if missing := spec.missing_requirements(obj):
        raise RequirementsMissing(obj, spec.name, missing)


def _lock(obj):
    """A fresh copy of `obj`, row-locked on PostgreSQL; SQLite's IMMEDIATE write lock does the same."""
    return get_by_key(type(obj), obj.pk, for_update=True)


def perform_transition(obj, name: str, *, actor, rationale: str = "", extra: dict | None = None, **params) -> AuditEntry:
    """Run transition `name` on `obj` as `actor`; returns the transition_success audit row.

    State change and audit row commit together. A refusal is recorded after the rollback (inside the
    atomic block its row would vanish with it) and then re-raised as a TransitionRefused.
    """
    spec = declared_transition(obj, name)
    unexpected = set(params) - set(spec.params)
    if unexpected:
        raise TypeError(f"{name} takes no parameter(s) {sorted(unexpected)}")
    from_state = obj.state
    try:
        with audited_write(actor):
            current = _lock(obj)
            from_state = current.state
            before = copy.copy(current)
            for param, value in params.items():
                setattr(current, param, value)
            ensure_allowed(current, spec, actor)
            getattr(current, name)()
            current.mark_state_changed(by=actor, transition=name, rationale=rationale)
            entry = save_transition(
                before,
                current,
                actor=actor,
                event_name=f"{spec_entity(obj)}.{name}",
                transition=name,
                from_state=from_state,
                to_state=current.state,
                rationale=rationale,
                extra=dict(extra or {}),
            )
            follow_up = getattr(current, "after_transition", None)
            if follow_up:
                follow_up(name, actor=actor, entry=entry)
    except ConcurrentTransition:
        obj.refresh_from_db()
        refused = TransitionConflict(
            obj, name, allowed_transitions(obj, actor), f"The {spec_entity(obj)} was changed by someone else; it is now {obj.state}."
        )
    except TransitionRefused as error:
        refused = error
    else:
        _take_saved_state(obj, current)
        count_transition(spec_entity(obj), name, "success")
        return entry
    _record_refusal(obj, spec, refused, actor=actor, from_state=from_state, rationale=rationale)
    raise refused


def _take_saved_state(obj, saved) -> None:
    """`obj` becomes the row just committed, copied from `saved` (the locked copy that was changed and
    saved) instead of read back: refresh_from_db() costs a query and drops every cached relation, so
    the API's response serializer paid one more query for the owner (bench/README.md)."""
    for model_field in obj._meta.concrete_fields:
        value = getattr(saved, model_field.attname)
        if model_field.is_relation and model_field.is_cached(obj) and getattr(obj, model_field.attname) != value:
            model_field.delete_cached_value(obj)
        # Through __dict__: the FSM state field is protected against assignment.
        obj.__dict__[model_field.attname] = value
    if hasattr(obj, "_update_initial_state"):
        obj._update_initial_state()  # ConcurrentTransitionMixin compares later saves against this


def save_transition(before, current, *, actor, event_name: str, **fields) -> AuditEntry:
    """Save `current` (changed from `before`) and write its one transition_success row with the diff.

    Call inside the caller's audited_write block. auditlog's own update row is suppressed: it would
    only repeat the diff this row carries. Shared by perform_transition and entity_transition.
    """
    changed = _changed_fields(before, current)
    with disable_auditlog():
        current.save(update_fields=changed)
    return record_event(
        event_type=AuditEventType.TRANSITION_SUCCESS,
        event_name=event_name,
        actor=actor,
        obj=current,
        action=AuditEntry.Action.UPDATE,
        # Only the saved columns can differ: auditlog's diff of the rest would find nothing.
        changes=model_instance_diff(before, current, fields_to_check=changed, use_json_for_changes=True),
        **fields,
    )


def _changed_fields(before, current) -> list[str]:
    """The columns a transition changed, and `auto_now` ones: the UPDATE writes just those.

    `before` is a shallow copy, so a value changed *in place* (a JSON dict mutated) would look
    unchanged: transition methods and mark_state_changed() assign new values, and must keep doing so.
    """
    return [
        field.attname
        for field in current._meta.concrete_fields
        if not field.primary_key
        and (getattr(field, "auto_now", False) or getattr(before, field.attname) != getattr(current, field.attname))
    ]


def spec_entity(obj) -> str:
    return getattr(obj, "audit_entity_type", None) or obj._meta.model_name


def _record_refusal(obj, spec, refused: TransitionRefused, *, actor, from_state, rationale) -> None:
    count_transition(spec_entity(obj), spec.name, refused.reason_code)
    fields = dict(
        actor=actor,
        obj=obj,
        event_name=f"{spec_entity(obj)}.{spec.name}",
        transition=spec.name,
        from_state=from_state,
        to_state=spec.target,
        rationale=rationale,
        extra={"reason": refused.reason_code, **({"missing": refused.missing} if isinstance(refused, RequirementsMissing) else {})},
    )
    if isinstance(refused, TransitionForbidden):
        # A permission refusal is this one row, not a second transition_denied row.
        record_permission_denied(reason=refused.message, **fields)
    else:
        record_event(
            event_type=AuditEventType.TRANSITION_DENIED,
            success=False,
            failure_reason=refused.message,
            **fields,
        )


class StateTracked:
    """Bookkeeping every FSM model shares; saving and auditing belong to perform_transition."""

    def mark_state_changed(self, *, by, transition: str, rationale: str) -> None:
        self.state_changed_at = timezone.now()
        self.state_changed_by = by if by is not None and by.is_authenticated else None

    @property
    def state_fields(self):
        """ConcurrentTransitionMixin's FSM fields, found once per class instead of once per instance.

        django-fsm-2 filters every model field on each __init__ (to remember the loaded state); on a
        list of 50 projects that was ~12% of the request (bench/README.md)."""
        cls = type(self)
        fields = cls.__dict__.get("_state_fields_cache")
        if fields is None:
            fields = tuple(field for field in cls._meta.fields if isinstance(field, FSMFieldMixin))
            cls._state_fields_cache = fields
        return fields
