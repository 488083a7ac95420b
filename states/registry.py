"""State machine definitions for every entity type CommandCentral governs.

`project` and `decision` are read at call time from the models' django-fsm-2 decorators (through
`transition_specs`), so they cannot drift from the code. `task`, `hypothesis` and `evidence` live in
other services and are declared here, once. Names of declared transitions do not exist: a
declared transition is identified by its target state.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django_fsm import ANY_OTHER_STATE, ANY_STATE

from core.transitions import state_field, transition_specs


@dataclass(frozen=True)
class Edge:
    to: str
    name: str | None = None


@dataclass(frozen=True)
class StateMachine:
    entity_type: str
    source: str  # "model" (derived from an FSM) or "declared"
    states: tuple[str, ...]
    initial_state: str
    transitions: dict[str, tuple[Edge, ...]]  # every state → its outgoing edges (empty when terminal)

    @property
    def terminal_states(self) -> tuple[str, ...]:
        return tuple(state for state in self.states if not self.transitions[state])

    def allowed_targets(self, state: str) -> list[str]:
        """Targets reachable in one step from `state` (empty for terminal or unknown states)."""
        return [edge.to for edge in self.transitions.get(state, ())]

    def as_dict(self) -> dict:
        return {
            "entity_type": self.entity_type,
            "source": self.source,
            "states": list(self.states),
            "initial_state": self.initial_state,
            "terminal_states": list(self.terminal_states),
            "transitions": {
                state: [{"to": edge.to, "name": edge.name} for edge in edges]
                for state, edges in self.transitions.items()
            },
        }


# --- Declared once: from → allowed targets; the first state is the initial one -------------------

DECLARED: dict[str, dict[str, tuple[str, ...]]] = {
    "task": {
        "backlog": ("in_progress", "blocked"),
        "in_progress": ("review", "blocked", "backlog"),
        "review": ("done", "in_progress"),
        "blocked": ("backlog", "in_progress"),
        "done": (),
    },
    "hypothesis": {
        "proposed": ("testing", "archived"),
        "testing": ("validated", "invalidated", "proposed"),
        "validated": ("archived",),
        "invalidated": ("archived",),
        "archived": (),
    },
    "evidence": {
        "pending": ("validated", "deprecated"),
        "validated": ("referenced", "deprecated"),
        "referenced": ("deprecated",),
        "deprecated": (),
    },
}

# Entity types whose state lives on a CommandCentral model; they are never registered as EntityState.
MODEL_GOVERNED = ("project", "decision")


def _declared(entity_type: str) -> StateMachine:
    table = DECLARED[entity_type]
    return StateMachine(
        entity_type=entity_type,
        source="declared",
        states=tuple(table),
        initial_state=next(iter(table)),
        transitions={state: tuple(Edge(to=target) for target in targets) for state, targets in table.items()},
    )


def derive_from_model(entity_type: str, model) -> StateMachine:
    """The machine the model's @transition decorators declare, wildcards expanded."""
    field = state_field(model)
    states = tuple(str(value) for value, _label in field.choices)
    edges: dict[str, list[Edge]] = {state: [] for state in states}
    for spec in transition_specs(model).values():
        if spec.target not in edges:
            raise ImproperlyConfigured(f"{model.__name__}.{spec.name} targets '{spec.target}', not a declared choice.")
        for source in spec.sources:
            if source == ANY_STATE:
                sources = states
            elif source == ANY_OTHER_STATE:
                sources = tuple(state for state in states if state != spec.target)
            else:
                sources = (source,)
            for state in sources:
                edges[state].append(Edge(to=spec.target, name=spec.name))
    return StateMachine(
        entity_type=entity_type,
        source="model",
        states=states,
        initial_state=str(field.get_default()),
        transitions={state: tuple(found) for state, found in edges.items()},
    )


def _model_for(entity_type: str):
    # Imported here: the registry is read after app loading, and projects/decisions import nothing of ours.
    from decisions.models import Decision
    from projects.models import Project

    return {"project": Project, "decision": Decision}[entity_type]


def get_definition(entity_type: str) -> StateMachine | None:
    """The state machine of `entity_type`, or None when CommandCentral has none for it."""
    if entity_type in MODEL_GOVERNED:
        return derive_from_model(entity_type, _model_for(entity_type))
    if entity_type in DECLARED:
        return _declared(entity_type)
    return None


def all_definitions() -> list[StateMachine]:
    return [get_definition(entity_type) for entity_type in (*MODEL_GOVERNED, *DECLARED)]
