"""The admin's transitions say from → to, list their requirements, pick Decide's option,
and the site is branded CommandCentral."""

from django.urls import reverse

from audit.models import AuditEntry
from core.transitions import perform_transition
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory


def test_the_change_page_offers_decide_with_from_and_to(client, operator, project, owner):
    perform_transition(project, "activate", actor=owner)
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(operator)

    page = client.get(reverse("admin:decisions_decision_change", args=[decision.pk])).content.decode()

    assert "Decide (active → decided)" in page
    assert "Archive (active → archived)" in page
    assert "CommandCentral administration" in page and "Django administration" not in page


def test_decide_in_the_admin_picks_an_option_and_goes_through_the_engine(client, operator, project, owner):
    perform_transition(project, "activate", actor=owner)
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(operator)
    url = reverse("admin:decisions_decision_transition", args=[decision.pk, "decide"])

    form = client.get(url).content.decode()
    assert "Active → <strong>decided</strong>" in form
    assert 'type="radio" name="selected_option" value="b"' in form and "Option B (b)" in form
    assert 'value="Confirm decide"' in form

    response = client.post(url, {"selected_option": "b", "rationale": "cheaper"})

    assert response.status_code == 302
    decision.refresh_from_db()
    assert (decision.state, decision.selected_option, decision.decided_by) == (DecisionState.DECIDED, "b", operator)
    row = AuditEntry.objects.get(event_name="decision.decide")
    assert (row.event_type, row.actor, row.rationale) == ("transition_success", operator, "cheaper")


def test_the_admin_transition_page_lists_missing_requirements_and_waits(client, operator, project):
    decision = DecisionFactory(project=project, question="", options=[{"id": "a", "label": "A"}])
    client.force_login(operator)

    page = client.get(reverse("admin:decisions_decision_transition", args=[decision.pk, "activate"])).content.decode()

    assert "✗ A question — missing" in page and "✗ At least two options — missing" in page
    assert 'value="Confirm activate" disabled' in page
    assert Decision.objects.get(pk=decision.pk).state == DecisionState.DRAFT
