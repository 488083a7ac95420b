import pytest

from audit.models import AuditEntry, AuditEventType
from core.transitions import (
    RequirementsMissing,
    TransitionForbidden,
    TransitionNotAvailable,
    allowed_transitions,
    perform_transition,
)
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import ProjectState
from projects.tests.factories import ProjectFactory


@pytest.fixture
def active_project(project, owner):
    perform_transition(project, "activate", actor=owner)
    return project


def test_activate_without_question_or_options_names_both(active_project, member):
    decision = DecisionFactory(project=active_project, question="  ", options=[{"id": "a", "label": "A"}])
    with pytest.raises(RequirementsMissing) as refused:
        perform_transition(decision, "activate", actor=member)
    assert refused.value.status == 400
    assert refused.value.missing == ["has_question", "has_two_options"]
    decision.refresh_from_db()
    assert decision.state == DecisionState.DRAFT
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert row.extra == {"reason": "requirements", "missing": ["has_question", "has_two_options"]}
    assert row.failure_reason == "Cannot activate yet: it needs a question and at least two options."
    assert row.actor == member


def test_member_activates_a_complete_draft(active_project, member):
    decision = DecisionFactory(project=active_project)
    entry = perform_transition(decision, "activate", actor=member, rationale="ready")
    decision.refresh_from_db()
    assert decision.state == DecisionState.ACTIVE
    assert (entry.event_name, entry.actor, entry.project_id) == ("decision.activate", member, active_project.pk)


def test_draft_with_one_option_still_offers_activate(active_project, member):
    decision = DecisionFactory(project=active_project, options=[{"id": "a", "label": "A"}])
    assert allowed_transitions(decision, member) == ["activate"]


@pytest.mark.parametrize(
    "role,can_activate,can_decide",
    [("operator", True, True), ("owner", True, True), ("member", True, False), ("viewer", False, False),
     ("outsider", False, False)],
)
def test_decision_permission_matrix(active_project, roles, role, can_activate, can_decide):
    user = roles[role]
    decision = DecisionFactory(project=active_project)
    if can_activate:
        perform_transition(decision, "activate", actor=user)
    else:
        with pytest.raises(TransitionForbidden):
            perform_transition(decision, "activate", actor=user)
        perform_transition(decision, "activate", actor=roles["owner"])
    if can_decide:
        perform_transition(decision, "decide", actor=user, selected_option="a", rationale="r")
        assert Decision.objects.get(pk=decision.pk).state == DecisionState.DECIDED
    else:
        with pytest.raises(TransitionForbidden):
            perform_transition(decision, "decide", actor=user, selected_option="a")
        with pytest.raises(TransitionForbidden):
            perform_transition(decision, "archive", actor=user)
        assert Decision.objects.get(pk=decision.pk).state == DecisionState.ACTIVE
        assert AuditEntry.objects.filter(actor=user, event_type=AuditEventType.PERMISSION_DENIED).count() >= 2


def test_decide_on_an_unknown_option_is_refused(active_project, owner):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    with pytest.raises(RequirementsMissing) as refused:
        perform_transition(decision, "decide", actor=owner, selected_option="nope")
    assert refused.value.missing == ["has_valid_selected_option"]
    decision.refresh_from_db()
    assert (decision.state, decision.selected_option) == (DecisionState.ACTIVE, "")


def test_decide_records_choice_rationale_and_decider(active_project, owner):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    entry = perform_transition(decision, "decide", actor=owner, selected_option="b", rationale="cheaper")
    decision.refresh_from_db()
    assert (decision.state, decision.selected_option, decision.rationale) == ("decided", "b", "cheaper")
    assert decision.decided_by == owner and decision.decided_at is not None
    assert entry.changes["selected_option"] == ["", "b"]


def test_deciding_a_superseding_decision_archives_the_older_in_the_same_transaction(active_project, owner):
    older = DecisionFactory(project=active_project, state=DecisionState.DECIDED, selected_option="a")
    newer = DecisionFactory(project=active_project, state=DecisionState.ACTIVE, supersedes=older)
    perform_transition(newer, "decide", actor=owner, selected_option="b", rationale="new facts")

    older.refresh_from_db()
    assert older.state == DecisionState.ARCHIVED
    assert list(older.superseded_by.all()) == [newer]
    archive_row = AuditEntry.objects.get(event_name="decision.archive")
    assert archive_row.entity_id == str(older.pk)
    assert archive_row.extra == {"superseded_by": str(newer.pk)}
    assert str(newer.pk) in archive_row.rationale
    decide_row = AuditEntry.objects.get(event_name="decision.decide")
    assert decide_row.id < archive_row.id


def test_a_failed_archive_of_the_older_rolls_back_the_decide(active_project, owner, monkeypatch):
    older = DecisionFactory(project=active_project, state=DecisionState.DECIDED, selected_option="a")
    newer = DecisionFactory(project=active_project, state=DecisionState.ACTIVE, supersedes=older)

    def refuse(obj, name, **kwargs):
        raise TransitionNotAvailable(obj, name, [])

    # The supersession hook (decisions.services.archive_superseded) runs inside the decide's transaction.
    monkeypatch.setattr("decisions.services.perform_transition", refuse)
    with pytest.raises(TransitionNotAvailable):
        perform_transition(newer, "decide", actor=owner, selected_option="b")
    newer.refresh_from_db()
    assert newer.state == DecisionState.ACTIVE
    assert not AuditEntry.objects.filter(event_type="transition_success").exclude(event_name="project.activate").exists()


@pytest.mark.parametrize("closing", ["complete", "kill"])
def test_decisions_of_a_closed_project_can_no_longer_change(active_project, owner, closing):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    perform_transition(active_project, closing, actor=owner)
    decision.refresh_from_db()
    with pytest.raises(RequirementsMissing) as refused:
        perform_transition(decision, "archive", actor=owner)
    assert "has_open_project" in refused.value.missing


def test_archive_is_terminal(active_project, owner):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    perform_transition(decision, "archive", actor=owner)
    assert allowed_transitions(Decision.objects.get(pk=decision.pk), owner) == []
    with pytest.raises(TransitionNotAvailable):
        perform_transition(decision, "activate", actor=owner)


def test_unknown_transition_and_unexpected_parameters(active_project, owner):
    from core.transitions import UnknownTransition

    decision = DecisionFactory(project=active_project)
    with pytest.raises(UnknownTransition):
        perform_transition(decision, "explode", actor=owner)
    with pytest.raises(TypeError):
        perform_transition(decision, "activate", actor=owner, selected_option="a")


def test_decision_in_a_proposed_project_can_activate(db):
    project = ProjectFactory(state=ProjectState.PROPOSED)
    decision = DecisionFactory(project=project)
    perform_transition(decision, "activate", actor=project.owner)
    assert Decision.objects.get(pk=decision.pk).state == DecisionState.ACTIVE
