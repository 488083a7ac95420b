import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from core.errors import ActionForbidden, Conflict, InvalidInput
from decisions.models import Decision, DecisionState
from decisions.options import clean_options, clean_tags
from decisions.services import decision_create, decision_restore, decision_soft_delete, decision_update
from decisions.tests.factories import DecisionFactory, two_options
from projects.tests.factories import ProjectFactory


def test_member_creates_a_draft(project, member):
    decision = decision_create(actor=member, project=project, title="T", question="Q?", options=two_options())
    assert decision.state == DecisionState.DRAFT and decision.created_by == member
    row = AuditEntry.objects.get(event_name="decision.created")
    assert row.actor == member and row.project_id == project.pk


def test_viewer_cannot_create_decision(project, viewer):
    with pytest.raises(ActionForbidden):
        decision_create(actor=viewer, project=project, title="T")
    assert not Decision.objects.exists()
    assert AuditEntry.objects.filter(event_type="permission_denied", actor=viewer).count() == 1


def test_related_decisions_must_share_the_project(project, member):
    foreign = DecisionFactory(project=ProjectFactory())
    with pytest.raises(InvalidInput):
        decision_create(actor=member, project=project, title="T", related_decisions=[foreign])
    assert not Decision.objects.filter(project=project).exists()


def test_related_decisions_changes_record_only_what_changed(project, member):
    a, b = DecisionFactory(project=project), DecisionFactory(project=project)
    DecisionFactory(project=ProjectFactory(), title="Secret elsewhere")
    decision = decision_create(actor=member, project=project, title="T", related_decisions=[a, b])
    decision_update(decision=decision, actor=member, related_decisions=[])
    rows = AuditEntry.objects.filter(entity_id=str(decision.pk), changes__has_key="related_decisions")
    text = " ".join(str(r.changes) for r in rows)
    assert "Secret elsewhere" not in text
    assert decision.related_decisions.count() == 0


def test_supersedes_must_be_a_decided_decision_of_the_same_project(project, member):
    draft = DecisionFactory(project=project)
    with pytest.raises(InvalidInput):
        decision_create(actor=member, project=project, title="T", supersedes=draft)
    other = DecisionFactory(project=ProjectFactory(), state=DecisionState.DECIDED)
    with pytest.raises(InvalidInput):
        decision_create(actor=member, project=project, title="T", supersedes=other)


def test_edit_only_in_draft_or_active(project, member):
    decision = DecisionFactory(project=project, state=DecisionState.DECIDED)
    with pytest.raises(Conflict):
        decision_update(decision=decision, actor=member, title="x")
    with pytest.raises(Conflict):
        decision_soft_delete(decision=decision, actor=member)


def test_soft_delete_and_restore(project, member, operator):
    decision = DecisionFactory(project=project)
    decision_soft_delete(decision=decision, actor=member)
    assert not Decision.objects.visible_to(member).exists()
    with pytest.raises(ActionForbidden):
        decision_restore(decision=decision, actor=project.owner)  # not who deleted it
    decision_restore(decision=decision, actor=operator)
    assert Decision.objects.visible_to(member).count() == 1


@pytest.mark.parametrize(
    "value",
    [
        "not a list",
        [1, 2],
        [{"id": "a"}],
        [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}],
        [{"id": "a", "label": "A", "pros": "nope"}],
        [{"id": "a", "label": "A", "extra": 1}],
        [{"id": "a\x00", "label": "A"}],
        [{"id": 5, "label": "A"}],
    ],
)
def test_bad_options_are_rejected(value):
    with pytest.raises(ValidationError):
        clean_options(value)


def test_options_and_tags_are_normalised():
    assert clean_options([{"id": " a ", "label": "A", "description": "", "pros": ["x"]}]) == [
        {"id": "a", "label": "A", "pros": ["x"]}
    ]
    assert clean_tags(["x", "x", " y "]) == ["x", "y"]
    with pytest.raises(ValidationError):
        clean_tags(["", "x"])
    with pytest.raises(ValidationError):
        clean_tags("x")
