"""The one transition action: check → execute → log, for FSM models and entity states alike.

`run(action)` is the engine: it locks the row, checks, changes it, saves it and writes the one
`transition_success` row in one transaction, runs the success hooks apps registered (in the same
transaction), and on a refusal records it after the rollback (`transition_denied`, or
`permission_denied` for a 403) and re-raises it. An action says only *how*: `FSMTransition` for the
django-fsm-2 models (`perform_transition`, which API, pages, admin buttons and the `transition`
command call), `states.services.EntityTransition` for entity states. Nothing else changes a state.

Order of checks for FSM models (each refusal is recorded): unknown name → 404 · permission= false →
403 · not allowed from the current state → 409 · requirements (conditions) missing → 400.
"""

import copy
import functools
from dataclasses import dataclass, field
from typing import Callable

from auditlog.context import disable_auditlog
from auditlog.diff import model_instance_diff
from auditlog.models import AbstractLogEntry
from django.conf import settings
from django.db import connections, router
from django.db.models import signals
from django.utils import timezone
from django_fsm import ConcurrentTransition, ConcurrentTransitionMixin, FSMFieldMixin, Transition
from prometheus_client import Counter

from .access import is_active_user
from .by_key import get_by_key
from .errors import (  # the refusals live with the other domain errors; imported from here too
    RequirementsMissing,
    TransitionConflict,
    TransitionForbidden,
    TransitionNotAvailable,
    TransitionRefused,
    UnknownTransition,
)
from .recording import AuditEventType, audited_write, entity_type_of, record_event, record_permission_denied

TRANSITIONS = Counter(
    "commandcentral_transitions",
    "Transition attempts by model, transition name and outcome (success or the refusal's reason code).",
    ["model", "name", "outcome"],
)


# --- What the model FSMs declare ---------------------------------------------------------------


def requirement(text, *, from_input: bool = False):
    """Name a transition condition in plain words, e.g. @requirement("a question") (or a function of
    the object, for words that name its data).

    The words are what pages, the admin and API refusals say ("it needs a question"); the function's
    name stays the machine name (`missing` in API refusals). `from_input`: met by what the caller sends
    with the transition (decide's chosen option), so a checklist cannot tick it beforehand.
    """

    def mark(predicate: Callable) -> Callable:
        predicate.requirement_text = text
        predicate.from_input = from_input
        return predicate

    return mark


def requirement_text(predicate: Callable, obj=None) -> str:
    text = getattr(predicate, "requirement_text", predicate.__name__.replace("_", " "))
    return text(obj) if callable(text) else text


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
        if not is_active_user(user):
            return False
        return bool(self.permission(obj, user)) if self.permission else True

    def missing_requirements(self, obj) -> list[str]:
        return [condition.__name__ for condition in self.conditions if not condition(obj)]

    def checklist(self, obj) -> list[dict]:
        """Each requirement in plain words, and whether `obj` meets it now (None: the caller's input decides)."""
        return [
            {"name": condition.__name__, "text": requirement_text(condition, obj),
             "met": None if getattr(condition, "from_input", False) else bool(condition(obj))}
            for condition in self.conditions
        ]

    def blocked_by(self, obj) -> list[str]:
        """The plain words of the requirements `obj` does not meet yet (input-dependent ones aside)."""
        return [item["text"] for item in self.checklist(obj) if item["met"] is False]


def state_field(model):
    return model._meta.get_field("state")


@functools.cache
def transition_specs(model) -> dict[str, TransitionSpec]:
    """Every transition of `model`, in declaration order, derived from django-fsm-2's metadata. Read once
    per model: the @transition decorators are fixed when the class is made, and a single object's API
    answer reads them for its allowed_transitions. Callers must not change the dict."""
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


def allowed_specs(obj, user) -> list[TransitionSpec]:
    """The transitions this user may run from the current state (requirements are not considered)."""
    return [spec for spec in transition_specs(type(obj)).values() if obj.state in spec.sources and spec.has_perm(obj, user)]


def allowed_transitions(obj, user) -> list[str]:
    """Names of allowed_specs()."""
    return [spec.name for spec in allowed_specs(obj, user)]


# --- The engine ------------------------------------------------------------------------------------


class TransitionAction:
    """One attempt to move one object as `actor`. Subclasses say how; `run()` does the rest."""

    name: str
    metric_model: str
    metric_name: str

    def __init__(self, obj, *, actor, rationale: str = "", extra: dict | None = None):
        self.obj, self.actor, self.rationale, self.extra = obj, actor, rationale, dict(extra or {})

    @property
    def event_name(self) -> str:
        return f"{entity_type_of(self.obj)}.{self.name}"

    def precheck(self) -> None:
        """Refusals decided before any lock (raise a TransitionRefused)."""

    def lock(self):
        """A fresh copy of the object, row-locked on PostgreSQL (SQLite's IMMEDIATE write lock does the same)."""
        return get_by_key(type(self.obj), self.obj.pk, for_update=True)

    def state_of(self, obj) -> str:
        raise NotImplementedError

    def check(self, current) -> None:
        """Raise the refusal that applies to the locked copy, if any."""

    def apply(self, current) -> None:
        """Change the locked copy in memory; run() saves it."""
        raise NotImplementedError

    def to_state(self, current=None) -> str:
        """The target state: of the change made (`current`), or of the attempt refused (None)."""
        raise NotImplementedError

    def refusal_extra(self, refused: "TransitionRefused") -> dict:
        return {"reason": refused.reason_code}

    def conflict(self) -> "TransitionRefused":
        """The refusal for a concurrent change django-fsm-2 detected at save time."""
        raise NotImplementedError

    def finish(self, current) -> None:
        """After commit: the caller's object becomes the row just committed."""
        self.obj.refresh_from_db()

    def after_refusal(self) -> None:
        """After a recorded refusal, before it is raised."""


# Run inside the transition's transaction after its success row, keyed by (app_label.Model, name).
_SUCCESS_HOOKS: dict[tuple[str, str], list[Callable]] = {}


def on_success(model_label: str, name: str):
    """Register `hook(obj, *, actor, entry)` to run inside every successful `name` of that model's
    transaction (e.g. deciding a decision archives the one it supersedes): it commits or rolls back
    with the transition. Models never call the engine themselves."""

    def register(hook: Callable) -> Callable:
        _SUCCESS_HOOKS.setdefault((model_label.lower(), name), []).append(hook)
        return hook

    return register


def run(action: TransitionAction):
    """Run `action`; returns its transition_success audit row, or records and raises the refusal."""
    from_state = action.state_of(action.obj)
    try:
        action.precheck()
        with audited_write(action.actor):
            current = action.lock()
            from_state = action.state_of(current)
            before = copy.copy(current)
            action.check(current)
            action.apply(current)
            entry = save_transition(
                before, current, actor=action.actor, event_name=action.event_name, transition=action.name,
                from_state=from_state, to_state=action.to_state(current), rationale=action.rationale,
                extra=action.extra,
            )
            for hook in _SUCCESS_HOOKS.get((current._meta.label_lower, action.name), ()):
                hook(current, actor=action.actor, entry=entry)
    except ConcurrentTransition:
        refused = action.conflict()
    except TransitionRefused as error:
        refused = error
    else:
        action.finish(current)
        _count(action, "success")
        return entry
    action.after_refusal()
    _count(action, refused.reason_code)
    _record_refusal(action, refused, from_state=from_state)
    raise refused


def _count(action: TransitionAction, outcome: str) -> None:
    TRANSITIONS.labels(model=action.metric_model, name=action.metric_name, outcome=outcome).inc()


def _record_refusal(action: TransitionAction, refused: "TransitionRefused", *, from_state: str) -> None:
    """Written after the rollback; inside the atomic block the row would vanish with it."""
    fields = dict(
        actor=action.actor, obj=action.obj, event_name=action.event_name, transition=action.name,
        from_state=from_state, to_state=action.to_state(), rationale=action.rationale,
        extra=action.refusal_extra(refused),
    )
    if isinstance(refused, TransitionForbidden):
        # A permission refusal is this one row, not a second transition_denied row.
        record_permission_denied(reason=refused.message, **fields)
    else:
        record_event(event_type=AuditEventType.TRANSITION_DENIED, success=False, failure_reason=refused.message, **fields)


def save_transition(before, current, *, actor, event_name: str, **fields):
    """Save `current` (changed from `before`) and write its one transition_success row with the diff.

    auditlog's own update row is suppressed: it would only repeat the diff this row carries.
    """
    changed = _changed_fields(before, current)
    _save_changed(before, current, changed)
    return record_event(
        event_type=AuditEventType.TRANSITION_SUCCESS,
        event_name=event_name,
        actor=actor,
        obj=current,
        action=AbstractLogEntry.Action.UPDATE,
        # Only the saved columns can differ: auditlog's diff of the rest would find nothing.
        changes=model_instance_diff(before, current, fields_to_check=changed, use_json_for_changes=True),
        **fields,
    )


class _CheckedUpdate:
    """`UPDATE <table> SET <changed columns> WHERE <key> = %s AND <state> = %s`, built once per model and set
    of columns: what django-fsm-2's ConcurrentTransitionMixin makes `save(update_fields=...)` run, without
    building and compiling a queryset for it on every transition (a tenth of one: bench/README.md)."""

    def __init__(self, model, attnames: tuple, state_fields, connection):
        quote = connection.ops.quote_name
        meta = model._meta
        by_attname = {field.attname: field for field in meta.concrete_fields}
        self.fields = tuple(by_attname[name] for name in attnames)
        self.state_fields = tuple(field for field in state_fields if field.model is model)
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        conditions = " AND ".join(f"{quote(field.column)} = %s" for field in (meta.pk, *self.state_fields))
        self.sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {conditions}"


_checked_updates: dict[tuple, _CheckedUpdate] = {}


def _save_changed(before, current, changed: list[str]) -> None:
    """Save the `changed` columns of `current` if its state is still `before`'s, else ConcurrentTransition.

    The row is locked (select_for_update, or SQLite's write lock), so the state check is the same
    belt-and-braces django-fsm-2 adds. `TRANSITION_FAST_SAVE = False` (a Django setting) takes
    `save(update_fields=...)`; core/tests/test_transition_save.py holds the two to the same row.
    Model signals are sent as save() sends them (django-auditlog's are suppressed here: the
    transition's own row carries the diff).
    """
    model = type(current)
    with disable_auditlog():
        if not getattr(settings, "TRANSITION_FAST_SAVE", True) or not isinstance(current, ConcurrentTransitionMixin):
            current.save(update_fields=changed)  # a model without django-fsm-2's guard: save() as it is
            return
        using = current._state.db or router.db_for_write(model, instance=current)
        connection = connections[using]
        key = (model, tuple(changed), using, connection.vendor)
        update = _checked_updates.get(key)
        if update is None:
            update = _checked_updates[key] = _CheckedUpdate(model, tuple(changed), current.state_fields, connection)
        fields = frozenset(changed)
        if signals.pre_save.has_listeners(model):
            signals.pre_save.send(sender=model, instance=current, raw=False, using=using, update_fields=fields)
        values = [field.get_db_prep_save(field.pre_save(current, False), connection) for field in update.fields]
        where = [_db_value(current, model._meta.pk, connection),
                 *(_db_value(before, field, connection) for field in update.state_fields)]
        with connection.cursor() as cursor:
            cursor.execute(update.sql, [*values, *where])
            if cursor.rowcount != 1:
                raise ConcurrentTransition("Cannot save object! The state has been changed since fetched from the database!")
        if signals.post_save.has_listeners(model):
            signals.post_save.send(sender=model, instance=current, created=False, update_fields=fields, raw=False,
                                   using=using)
    remember_state(current)


def remember_state(obj) -> None:
    """django-fsm-2's ConcurrentTransitionMixin checks a save against the state it remembers from the
    object's last load or save. An empty update_fields is Django's documented "save nothing" (no query,
    no signal), so this brings that memory up to date through the mixin's own save(), not its internals."""
    if isinstance(obj, ConcurrentTransitionMixin):
        obj.save(update_fields=[])


def _db_value(obj, field, connection):
    return field.get_db_prep_value(getattr(obj, field.attname), connection, prepared=False)


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


# --- FSM models ----------------------------------------------------------------------------------


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
        texts = [requirement_text(condition, obj) for condition in spec.conditions if condition.__name__ in missing]
        raise RequirementsMissing(obj, spec.name, missing, texts)


class FSMTransition(TransitionAction):
    """A django-fsm-2 transition: the decorator's permission=, source and conditions decide."""

    def __init__(self, obj, name: str, *, actor, rationale: str = "", extra: dict | None = None, **params):
        super().__init__(obj, actor=actor, rationale=rationale, extra=extra)
        self.spec = declared_transition(obj, name)  # unknown: 404, nothing recorded
        unexpected = set(params) - set(self.spec.params)
        if unexpected:
            raise TypeError(f"{name} takes no parameter(s) {sorted(unexpected)}")
        self.name = self.metric_name = name
        self.metric_model = entity_type_of(obj)
        self.params = params

    def state_of(self, obj) -> str:
        return obj.state

    def check(self, current) -> None:
        for param, value in self.params.items():
            setattr(current, param, value)
        ensure_allowed(current, self.spec, self.actor)

    def apply(self, current) -> None:
        getattr(current, self.name)()
        current.mark_state_changed(by=self.actor, transition=self.name, rationale=self.rationale)

    def to_state(self, current=None) -> str:
        return current.state if current is not None else self.spec.target

    def refusal_extra(self, refused) -> dict:
        missing = {"missing": refused.missing} if isinstance(refused, RequirementsMissing) else {}
        return {"reason": refused.reason_code, **missing}

    def conflict(self):
        self.obj.refresh_from_db()
        return TransitionConflict(
            self.obj, self.name, allowed_transitions(self.obj, self.actor),
            f"The {entity_type_of(self.obj)} was changed by someone else; it is now {self.obj.state}.",
        )

    def finish(self, current) -> None:
        """`obj` becomes the row just committed, copied from the saved copy instead of read back:
        refresh_from_db() costs a query and drops every cached relation, so the API's response
        serializer paid one more query for the owner (bench/README.md)."""
        obj = self.obj
        for model_field in obj._meta.concrete_fields:
            value = getattr(current, model_field.attname)
            if model_field.is_relation and model_field.is_cached(obj) and getattr(obj, model_field.attname) != value:
                model_field.delete_cached_value(obj)
            # Through __dict__: the FSM state field is protected against assignment.
            obj.__dict__[model_field.attname] = value
        remember_state(obj)


def perform_transition(obj, name: str, *, actor, rationale: str = "", extra: dict | None = None, **params):
    """Run FSM transition `name` on `obj` as `actor`; returns the transition_success audit row.

    State change and audit row commit together; a refusal is recorded after the rollback and raised.
    """
    return run(FSMTransition(obj, name, actor=actor, rationale=rationale, extra=extra, **params))


class StateTracked:
    """Bookkeeping every FSM model shares; saving and auditing belong to the engine (run)."""

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
