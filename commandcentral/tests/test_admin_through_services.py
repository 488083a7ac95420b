"""Admin writes go through the services, and refused edits leave a trace.

Every test posts the admin's own forms (or the API, or a page) through the test client with the real
middleware, then checks the stored state, the response and the audit rows.
"""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies
from accounts.tests.factories import UserFactory
from core.transitions import perform_transition
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import Membership, MembershipRole, Project, ProjectState
from projects.tests.factories import ProjectFactory


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def project_form(project, **changes) -> dict:
    data = {"name": project.name, "slug": project.slug, "description": project.description,
            "settings": json.dumps(project.settings), "metadata": json.dumps(project.metadata),
            "repo_path": project.repo_path, "repo_url": project.repo_url,
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    return {**data, **changes}


def decision_form(decision, **changes) -> dict:
    data = {"title": decision.title, "question": decision.question, "context": decision.context,
            "options": json.dumps(decision.options), "tags": json.dumps(decision.tags),
            "review_by": "", "supersedes": "", "project": str(decision.project_id)}
    return {**data, **changes}


def rows(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def decided(owner) -> Decision:
    project = ProjectFactory(owner=owner)
    perform_transition(project, "activate", actor=owner)
    decision = DecisionFactory(project=project)
    perform_transition(decision, "activate", actor=owner)
    perform_transition(decision, "decide", actor=owner, selected_option="a", rationale="cheaper")
    return decision


# --- The change forms --------------------------------------------------------------------------

def test_renaming_a_killed_project_in_the_admin_is_refused_on_the_form_and_audited(admin_client, project, operator):
    perform_transition(project, "kill", actor=operator, rationale="stopped")
    url = reverse("admin:projects_project_change", args=[project.pk])

    response = admin_client.post(url, project_form(project, name="Renamed after death"))

    assert response.status_code == 200  # the form again, with the user's input and the refusal
    assert "This project is killed; it can no longer be edited." in response.content.decode()
    assert b"Renamed after death" in response.content
    assert Project.objects.get(pk=project.pk).name == project.name
    [refusal] = rows(event_type="change_denied")
    assert (refusal.event_name, refusal.actor, refusal.success) == ("project.update", operator, False)
    assert refusal.failure_reason == "This project is killed; it can no longer be edited."
    assert not rows(event_type="entity_updated", entity_id=str(project.pk))
    assert_trail_verifies()  # the row written again after the admin's rollback is sealed like any other


def test_editing_a_project_in_the_admin_is_the_services_update(admin_client, project, operator):
    url = reverse("admin:projects_project_change", args=[project.pk])

    response = admin_client.post(url, project_form(project, name="Better name", settings='{"colour": "teal"}'))

    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.settings) == ("Better name", {"colour": "teal"})
    [update] = rows(event_type="entity_updated", entity_id=str(project.pk))
    assert update.actor == operator and update.changes["name"][1] == "Better name"


def test_project_settings_must_be_an_object_in_the_admin_too(admin_client, project):
    url = reverse("admin:projects_project_change", args=[project.pk])

    response = admin_client.post(url, project_form(project, settings='"not an object"'))

    assert response.status_code == 200
    assert "Settings must be a JSON object." in response.content.decode()
    assert Project.objects.get(pk=project.pk).settings == project.settings


def test_adding_a_project_in_the_admin_makes_the_operator_its_owner(admin_client, operator):
    response = admin_client.post(reverse("admin:projects_project_add"),
                                 project_form(Project(name="From the admin", slug="", settings={}, metadata={}),
                                              description="d"))

    assert response.status_code == 302, response.content.decode()[:3000]
    project = Project.objects.get(name="From the admin")
    assert project.owner == operator and project.slug == "from-the-admin" and project.state == ProjectState.PROPOSED
    [created] = rows(event_type="entity_created", entity_id=str(project.pk))
    assert created.actor == operator


def test_the_owner_is_read_only_on_the_project_form(admin_client, project, outsider):
    url = reverse("admin:projects_project_change", args=[project.pk])

    admin_client.post(url, project_form(project, owner=str(outsider.pk), description="changed"))

    project.refresh_from_db()
    assert project.description == "changed" and project.owner.email == "owner@example.com"


def test_a_decided_decision_cannot_move_project_or_take_bogus_options_in_the_admin(admin_client, owner, operator):
    decision = decided(owner)
    elsewhere = ProjectFactory(owner=owner)
    url = reverse("admin:decisions_decision_change", args=[decision.pk])

    response = admin_client.post(url, decision_form(decision, project=str(elsewhere.pk), title="Rewritten",
                                                    options='[{"bogus": 1}]', tags='"not a list"'))

    assert response.status_code == 200
    assert "This decision is decided; it can no longer be edited." in response.content.decode()
    stored = Decision.objects.get(pk=decision.pk)
    assert (stored.project_id, stored.title, stored.options, stored.tags) == (
        decision.project_id, decision.title, decision.options, decision.tags)
    assert stored.state == DecisionState.DECIDED
    [refusal] = rows(event_type="change_denied")
    assert (refusal.event_name, refusal.actor, refusal.entity_id) == ("decision.update", operator, str(decision.pk))


@pytest.mark.parametrize("field,value,message", [
    ("options", '[{"bogus": 1}]', "Option 1 has unknown keys: bogus."),
    ("tags", '"not a list"', "Tags must be a list of strings."),
])
def test_a_draft_decisions_options_and_tags_keep_their_shape_in_the_admin(admin_client, project, field, value, message):
    decision = DecisionFactory(project=project)
    url = reverse("admin:decisions_decision_change", args=[decision.pk])

    response = admin_client.post(url, decision_form(decision, **{field: value}))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert getattr(Decision.objects.get(pk=decision.pk), field) == getattr(decision, field)
    assert not rows(event_type="entity_updated", entity_id=str(decision.pk))


def test_editing_a_draft_decision_in_the_admin_goes_through_the_service(admin_client, project, operator):
    decision = DecisionFactory(project=project)
    other = DecisionFactory(project=project)
    url = reverse("admin:decisions_decision_change", args=[decision.pk])

    response = admin_client.post(url, decision_form(decision, title="Sharper", related_decisions=[str(other.pk)]))

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.title == "Sharper" and list(decision.related_decisions.all()) == [other]
    assert any(row.actor == operator and "title" in row.changes
               for row in rows(event_type="entity_updated", entity_id=str(decision.pk)))


def test_a_decision_cannot_be_linked_across_projects_in_the_admin(admin_client, project):
    decision = DecisionFactory(project=project)
    foreign = DecisionFactory()
    url = reverse("admin:decisions_decision_change", args=[decision.pk])

    response = admin_client.post(url, decision_form(decision, related_decisions=[str(foreign.pk)]))

    assert response.status_code == 200
    assert "Related decisions must belong to the same project." in response.content.decode()
    assert not decision.related_decisions.exists()


# --- The team ---------------------------------------------------------------------------------

def test_the_team_inline_is_read_only(admin_client, project, outsider):
    url = reverse("admin:projects_project_change", args=[project.pk])
    data = project_form(project, **{
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": str(outsider.pk), "memberships-0-role": "member", "memberships-0-project": str(project.pk),
    })

    admin_client.post(url, data)

    assert not Membership.objects.filter(project=project, user=outsider).exists()


def test_membership_admin_applies_membership_adds_rules(admin_client, project, owner, operator):
    inactive = UserFactory(email="gone@example.com", is_active=False)
    add = reverse("admin:projects_membership_add")

    for user, message in ((owner, "The owner is already part of the project."),
                          (inactive, "Inactive users cannot join a project.")):
        response = admin_client.post(add, {"project": str(project.pk), "user": str(user.pk), "role": "member"})
        assert response.status_code == 200
        assert message in response.content.decode()
        assert not Membership.objects.filter(project=project, user=user).exists()

    newcomer = UserFactory(email="newcomer@example.com")
    response = admin_client.post(add, {"project": str(project.pk), "user": str(newcomer.pk), "role": "viewer"})
    assert response.status_code == 302
    membership = Membership.objects.get(project=project, user=newcomer)
    assert membership.role == MembershipRole.VIEWER
    [created] = rows(event_type="entity_created", entity_type="membership", entity_id=str(membership.pk))
    assert created.actor == operator and created.project_id == project.pk


def test_membership_admin_changes_and_removals_go_through_the_service(admin_client, project, member, operator):
    membership = Membership.objects.get(project=project, user=member)
    change = reverse("admin:projects_membership_change", args=[membership.pk])

    response = admin_client.post(change, {"role": "viewer", "project": "ignored", "user": "ignored"})
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == MembershipRole.VIEWER

    response = admin_client.post(reverse("admin:projects_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    [deleted] = rows(event_type="entity_deleted", entity_id=str(membership.pk))
    assert deleted.actor == operator


def test_bulk_removal_of_memberships_goes_through_the_service(admin_client, project, operator):
    ids = [str(pk) for pk in Membership.objects.filter(project=project).values_list("pk", flat=True)]

    response = admin_client.post(reverse("admin:projects_membership_changelist"),
                                 {"action": "delete_selected", "_selected_action": ids, "post": "yes"})

    assert response.status_code == 302
    assert not Membership.objects.filter(project=project).exists()
    assert {row.actor for row in rows(event_type="entity_deleted", entity_type="membership")} == {operator}
    assert len(rows(event_type="entity_deleted", entity_type="membership")) == len(ids)


# --- Refused edits and deletes leave one row, on every surface ---------------------------------

def test_editing_a_decided_decision_over_the_api_is_409_with_one_audit_row(api_client, owner):
    decision = decided(owner)
    api_client.force_authenticate(owner)
    before = AuditEntry.objects.count()

    response = api_client.patch(f"/api/v1/decisions/{decision.pk}/", {"title": "Rewritten"}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == "This decision is decided; it can no longer be edited."
    assert Decision.objects.get(pk=decision.pk).title == decision.title
    assert AuditEntry.objects.count() == before + 1
    refusal = AuditEntry.objects.latest("id")
    assert (refusal.event_type, refusal.event_name, refusal.actor, refusal.success) == (
        "change_denied", "decision.update", owner, False)
    assert refusal.failure_reason == response.json()["detail"]
    assert refusal.project_id == decision.project_id


def test_deleting_an_active_project_over_the_api_is_409_with_one_audit_row(api_client, project, owner):
    perform_transition(project, "activate", actor=owner)
    api_client.force_authenticate(owner)

    response = api_client.delete(f"/api/v1/projects/{project.pk}/")

    assert response.status_code == 409
    assert Project.objects.filter(pk=project.pk).exists()
    [refusal] = rows(event_type="change_denied")
    assert (refusal.event_name, refusal.actor, refusal.entity_id) == ("project.delete", owner, str(project.pk))
    assert refusal.failure_reason == "This project is active; only proposed projects can be deleted."


def test_a_refused_page_edit_leaves_one_row(client, project, owner):
    perform_transition(project, "activate", actor=owner)
    perform_transition(project, "complete", actor=owner, rationale="done")
    client.force_login(owner)

    response = client.post(reverse("project_edit", args=[project.pk]),
                           {"name": "Late rename", "slug": project.slug, "description": ""})

    assert response.status_code in (200, 409)
    assert Project.objects.get(pk=project.pk).name == project.name
    [refusal] = rows(event_type="change_denied")
    assert (refusal.event_name, refusal.actor) == ("project.update", owner)


def test_a_forbidden_api_edit_is_still_one_permission_denied_row(api_client, project, viewer):
    api_client.force_authenticate(viewer)

    response = api_client.patch(f"/api/v1/projects/{project.pk}/", {"name": "Mine now"}, format="json")

    assert response.status_code == 403
    [refusal] = rows(success=False)
    assert (refusal.event_type, refusal.event_name, refusal.actor) == ("permission_denied", "project.update", viewer)


def _forbidden_view(request):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied("Not for you.")


def _urlconf():
    from django.urls import path

    from commandcentral import urls

    return [path("forbidden/", _forbidden_view), *urls.urlpatterns]


urlpatterns = _urlconf()
handler403 = "commandcentral.error_views.permission_denied"


def test_any_other_403_on_a_page_is_recorded_once(client, member, settings):
    settings.ROOT_URLCONF = __name__
    client.force_login(member)

    response = client.get("/forbidden/")

    assert response.status_code == 403
    [refusal] = rows(success=False)
    assert (refusal.event_type, refusal.event_name, refusal.actor, refusal.failure_reason) == (
        "permission_denied", "page.get", member, "Not for you.")
    assert refusal.extra == {"path": "/forbidden/", "method": "GET"}
