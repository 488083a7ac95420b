"""Entity states get a page — in the navigation, filtered by service, type and state,
with each entity's history in readable words; visibility as everywhere."""

from django.urls import reverse

from states.services import entity_register, entity_transition


def test_the_entity_states_page_filters_and_shows_history(client, project, member, outsider):
    task = entity_register(actor=member, service="tracker", entity_type="task", entity_id="T-1", project=project)
    entity_register(actor=member, service="ci", entity_type="task", entity_id="B-9", project=project)
    entity_transition(task, "in_progress", actor=member, rationale="picked up")
    client.force_login(member)

    listing = client.get(reverse("entity_list")).content.decode()
    assert f'href="{reverse("entity_list")}"' in listing  # in the navigation
    assert "T-1" in listing and "B-9" in listing and "In progress" in listing

    filtered = client.get(reverse("entity_list"), {"service": "tracker", "current_state": "in_progress"}).content.decode()
    assert "T-1" in filtered and "B-9" not in filtered

    detail = client.get(reverse("entity_detail", args=[task.pk])).content.decode()
    assert "Backlog → In progress" in detail and "picked up" in detail and f"by {member.email}" in detail
    assert "Can move to" in detail

    client.force_login(outsider)
    assert "T-1" not in client.get(reverse("entity_list")).content.decode()
    assert client.get(reverse("entity_detail", args=[task.pk])).status_code == 404
