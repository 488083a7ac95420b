"""Feeds read like sentences, with titles linked."""

from django.urls import reverse

from core.transitions import perform_transition
from decisions.tests.factories import DecisionFactory
from projects.services import membership_add


def test_the_dashboard_feed_reads_like_sentences(client, owner, outsider, project):
    owner.name = "Mia Owner"
    owner.save()
    perform_transition(project, "activate", actor=owner, rationale="go")
    decision = DecisionFactory(project=project, title="Queue #2")
    perform_transition(decision, "activate", actor=owner)
    membership_add(project=project, actor=owner, user=outsider, role="viewer")
    client.force_login(owner)

    page = client.get(reverse("dashboard")).content.decode()

    assert (f'Mia Owner activated <a href="{reverse("decision_detail", args=[decision.pk])}">Queue #2</a> — now Active'
            in page)
    assert f'Mia Owner activated <a href="{project.get_absolute_url()}">{project.name}</a> — now Active' in page
    assert f"Mia Owner added {outsider.email} (viewer) to {project.name}" in page


def test_a_failed_sign_in_names_the_account_tried_without_making_anyone_its_actor(client, operator, owner):
    from audit.models import AuditEntry

    response = client.post(reverse("login"), {"username": owner.email, "password": "not the password"})
    assert response.status_code == 200  # the form again, with its error
    row = AuditEntry.objects.get(event_name="auth.failed")
    assert row.actor_id is None and row.extra["email"] == owner.email and not row.success

    client.force_login(operator)
    page = client.get(reverse("audit_list")).content.decode()
    assert f"A sign-in as {owner.email} failed" in page
    assert "The system failed" not in page


def test_a_refused_transition_says_what_was_tried_not_active_to_active(client, owner, viewer, project):
    from audit.models import AuditEntry

    perform_transition(project, "activate", actor=owner, rationale="go")
    client.force_login(owner)
    client.post(reverse("project_transition", args=[project.pk, "activate"]), {"rationale": "again"})
    client.force_login(viewer)
    client.post(reverse("project_transition", args=[project.pk, "pause"]), {"rationale": "mine now"})
    refused = AuditEntry.objects.filter(project=project, success=False, transition__in=["activate", "pause"])
    assert refused.count() == 2

    client.force_login(owner)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "tried to activate; it is already active" in page
    assert "tried to pause; it stays active" in page
    assert "active → active" not in page
    assert "proposed → active" in page  # what did happen reads as before
