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
