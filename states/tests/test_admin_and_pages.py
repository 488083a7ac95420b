"""The admin changes a state only through the audited transition; the project-page snippet lists entities."""

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from audit.models import AuditEntry, AuditEventType
from states.selectors import project_entities
from states.tests.factories import EntityStateFactory


@pytest.fixture
def admin_client_for(client, operator):
    client.force_login(operator)
    return client


def test_operator_lists_and_searches_entity_states(admin_client_for, task):
    response = admin_client_for.get(reverse("admin:states_entitystate_changelist"), {"q": task.entity_id})
    assert response.status_code == 200
    assert task.entity_id in response.content.decode()


def test_change_page_is_read_only_and_links_to_the_transition(admin_client_for, task):
    response = admin_client_for.get(reverse("admin:states_entitystate_change", args=[task.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("admin:states_entitystate_transition", args=[task.pk]) in page
    assert 'name="current_state"' not in page


def test_admin_cannot_add_or_delete(admin_client_for, task):
    assert admin_client_for.get(reverse("admin:states_entitystate_add")).status_code == 403
    assert admin_client_for.post(reverse("admin:states_entitystate_delete", args=[task.pk])).status_code == 403


def test_admin_transition_goes_through_the_service_and_is_audited(admin_client_for, operator, task):
    url = reverse("admin:states_entitystate_transition", args=[task.pk])
    form_page = admin_client_for.get(url)
    assert form_page.status_code == 200
    assert 'value="in_progress"' in form_page.content.decode()

    response = admin_client_for.post(url, {"to_state": "in_progress", "rationale": "operator fix"})

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.current_state, task.last_transition_by) == ("in_progress", operator)
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_SUCCESS, entity_id=str(task.pk))
    assert (row.actor, row.rationale, row.from_state) == (operator, "operator fix", "backlog")


def test_admin_offers_only_allowed_targets(admin_client_for, task):
    url = reverse("admin:states_entitystate_transition", args=[task.pk])

    response = admin_client_for.post(url, {"to_state": "done"})

    assert response.status_code == 200  # the form comes back with its error
    task.refresh_from_db()
    assert task.current_state == "backlog"
    assert not AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_SUCCESS).exists()


def test_admin_transition_refused_by_the_service_is_shown_and_recorded(admin_client_for, operator, project):
    canvas = EntityStateFactory(project=project, entity_type="canvas", current_state="sketch")
    url = reverse("admin:states_entitystate_transition", args=[canvas.pk])

    response = admin_client_for.post(url, {"to_state": "sketch"}, follow=True)

    assert "already" in response.content.decode()
    assert AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_DENIED, actor=operator).exists()


def test_admin_transition_of_a_terminal_entity_shows_no_form(admin_client_for, project):
    done = EntityStateFactory(project=project, current_state="done")
    page = admin_client_for.get(reverse("admin:states_entitystate_transition", args=[done.pk])).content.decode()
    assert "terminal state" in page
    assert "Apply transition" not in page


def test_admin_transition_of_an_unknown_id_is_404(admin_client_for, db):
    url = reverse("admin:states_entitystate_transition", args=["not-a-uuid"])
    assert admin_client_for.get(url).status_code == 404


def test_non_staff_cannot_reach_the_admin_transition(client, member, task):
    client.force_login(member)
    response = client.post(reverse("admin:states_entitystate_transition", args=[task.pk]), {"to_state": "blocked"})
    assert response.status_code == 302  # to the admin login
    task.refresh_from_db()
    assert task.current_state == "backlog"


def test_project_snippet_lists_visible_entities(project, member, task):
    html = render_to_string("states/_project_entities.html", {"entities": project_entities(project=project,
                                                                                           user=member)})
    assert task.entity_id in html
    assert "badge-backlog" in html


def test_project_snippet_says_when_there_is_nothing(project, outsider, task):
    entities = project_entities(project=project, user=outsider)
    assert list(entities) == []
    assert "No entities" in render_to_string("states/_project_entities.html", {"entities": entities})
