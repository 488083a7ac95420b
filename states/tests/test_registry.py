"""The registry: declared machines exactly as specified below, derived machines exactly as the model FSMs."""

import pytest
from django_fsm import Transition

from audit.models import AuditEntry, AuditEventType
from states.registry import all_definitions, derive_from_model, get_definition
from states.services import EntityTransitionNotAvailable, entity_transition
from states.tests.factories import EntityStateFactory
from core.transitions import state_field, transition_specs
from decisions.models import Decision
from projects.models import Project

# The declared machines' specification, restated here on purpose: the test pins it, the registry implements it.
EXPECTED_MACHINES = {
    "task": {
        "backlog": ["in_progress", "blocked"],
        "in_progress": ["review", "blocked", "backlog"],
        "review": ["done", "in_progress"],
        "blocked": ["backlog", "in_progress"],
        "done": [],
    },
    "hypothesis": {
        "proposed": ["testing", "archived"],
        "testing": ["validated", "invalidated", "proposed"],
        "validated": ["archived"],
        "invalidated": ["archived"],
        "archived": [],
    },
    "evidence": {
        "pending": ["validated", "deprecated"],
        "validated": ["referenced", "deprecated"],
        "referenced": ["deprecated"],
        "deprecated": [],
    },
}
EXPECTED_INITIAL = {"task": "backlog", "hypothesis": "proposed", "evidence": "pending"}
EXPECTED_TERMINAL = {"task": ["done"], "hypothesis": ["archived"], "evidence": ["deprecated"]}

DECLARED_EDGES = [
    (entity_type, source, target)
    for entity_type, table in EXPECTED_MACHINES.items()
    for source, targets in table.items()
    for target in targets
]

FORBIDDEN_SAMPLE = [
    ("task", "backlog", "done"),
    ("task", "backlog", "review"),
    ("task", "review", "backlog"),
    ("task", "blocked", "done"),
    ("task", "done", "backlog"),
    ("hypothesis", "proposed", "validated"),
    ("hypothesis", "validated", "testing"),
    ("hypothesis", "archived", "proposed"),
    ("evidence", "pending", "referenced"),
    ("evidence", "referenced", "validated"),
    ("evidence", "deprecated", "pending"),
]


@pytest.mark.parametrize("entity_type", sorted(EXPECTED_MACHINES))
def test_declared_machine_matches_the_spec(entity_type):
    definition = get_definition(entity_type)
    assert definition.source == "declared"
    assert list(definition.states) == list(EXPECTED_MACHINES[entity_type])
    assert {state: definition.allowed_targets(state) for state in definition.states} == EXPECTED_MACHINES[entity_type]
    assert definition.initial_state == EXPECTED_INITIAL[entity_type]
    assert list(definition.terminal_states) == EXPECTED_TERMINAL[entity_type]


@pytest.mark.parametrize(("entity_type", "source", "target"), DECLARED_EDGES)
def test_every_declared_transition_is_allowed(entity_type, source, target, project, member):
    entity = EntityStateFactory(project=project, entity_type=entity_type, current_state=source)

    entry = entity_transition(entity, target, actor=member, rationale="per spec")

    entity.refresh_from_db()
    assert entity.current_state == target
    assert entity.last_transition_from == source
    assert entity.last_transition_by == member
    assert (entry.event_type, entry.event_name, entry.success) == (
        AuditEventType.TRANSITION_SUCCESS, f"{entity_type}.transition", True)
    assert (entry.from_state, entry.to_state, entry.rationale) == (source, target, "per spec")
    assert entry.project_id == project.pk


@pytest.mark.parametrize(("entity_type", "source", "target"), FORBIDDEN_SAMPLE)
def test_forbidden_transitions_are_refused_naming_the_allowed_targets(entity_type, source, target, project, member):
    entity = EntityStateFactory(project=project, entity_type=entity_type, current_state=source)

    with pytest.raises(EntityTransitionNotAvailable) as refused:
        entity_transition(entity, target, actor=member)

    allowed = EXPECTED_MACHINES[entity_type][source]
    assert refused.value.status == 409
    assert refused.value.current_state == source
    assert refused.value.allowed_transitions == allowed
    assert all(state in refused.value.message for state in allowed)
    entity.refresh_from_db()
    assert entity.current_state == source
    denied = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED, entity_id=str(entity.pk))
    assert (denied.success, denied.from_state, denied.to_state, denied.actor) == (False, source, target, member)


def _fsm_edges(model) -> set[tuple[str, str, str]]:
    """What django-fsm-2 itself says the model allows (wildcard sources expanded)."""
    states = [str(value) for value, _label in state_field(model).choices]
    edges = set()
    for transition in state_field(model).get_all_transitions(model):
        sources = states if transition.source in ("*", "+") else [transition.source]
        for source in sources:
            if transition.source == "+" and source == transition.target:
                continue
            edges.add((str(source), str(transition.target), transition.name))
    return edges


def _registry_edges(definition) -> set[tuple[str, str, str]]:
    return {(state, edge.to, edge.name) for state, edges in definition.transitions.items() for edge in edges}


@pytest.mark.parametrize(("entity_type", "model"), [("project", Project), ("decision", Decision)])
def test_derived_machine_equals_what_the_fsm_allows(entity_type, model):
    definition = get_definition(entity_type)

    assert definition.source == "model"
    assert _registry_edges(definition) == _fsm_edges(model)
    assert list(definition.states) == [str(value) for value, _label in state_field(model).choices]
    assert definition.initial_state == state_field(model).get_default()
    fsm_sources = {source for source, _target, _name in _fsm_edges(model)}
    assert set(definition.terminal_states) == set(definition.states) - fsm_sources


def test_a_transition_added_to_the_model_appears_in_the_registry(monkeypatch, request):
    field = state_field(Project)
    declared = list(field.get_all_transitions(Project))

    def reopen(self):
        """A transition that exists only in this test."""

    extra = Transition(method=reopen, source="completed", target="active", on_error=None, conditions=None,
                       permission=None, custom=None)
    monkeypatch.setattr(field, "get_all_transitions", lambda model: iter([*declared, extra]))
    # The specs are read once per model (the decorators are fixed when the class is made); this test
    # stands for a changed class, so it reads them again, and again after the patch is undone.
    transition_specs.cache_clear()
    request.addfinalizer(transition_specs.cache_clear)

    definition = get_definition("project")

    assert definition.allowed_targets("completed") == ["active"]
    assert ("completed", "active", "reopen") in _registry_edges(definition)
    assert "completed" not in definition.terminal_states


def test_registry_lists_every_machine_once():
    assert [definition.entity_type for definition in all_definitions()] == [
        "project", "decision", "task", "hypothesis", "evidence"]
    assert get_definition("spaceship") is None


def test_derived_machine_serializes_transition_names():
    as_dict = derive_from_model("project", Project).as_dict()
    assert {"to": "paused", "name": "pause"} in as_dict["transitions"]["active"]
    assert as_dict["transitions"]["killed"] == []
    assert as_dict["initial_state"] == "proposed"
