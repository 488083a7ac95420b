"""Project pages: who sees what, forms, transitions and team changes leaving the same audit rows."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEntry, AuditEventType
from core.transitions import perform_transition
from projects.models import Membership, MembershipRole, Project, ProjectState
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

SEES_PROJECT = ["operator", "owner", "member", "viewer"]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def transition_url(project, name):
    return reverse("project_transition", args=[project.pk, name])


# --- List ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", SEES_PROJECT + ["outsider"])
def test_list_shows_a_project_to_its_team_and_operators_only(client, roles, project, role):
    ProjectFactory(name="Someone else's")
    client.force_login(roles[role])
    response = client.get(reverse("project_list"))
    listed = [p.name for p in response.context["page"].object_list]
    assert (project.name in listed) == (role in SEES_PROJECT)
    assert ("Someone else's" in listed) == (role == "operator")


def test_list_filters_by_state_and_search_with_the_shared_filterset(client, owner):
    ProjectFactory(owner=owner, name="Alpha rocket", state=ProjectState.ACTIVE)
    ProjectFactory(owner=owner, name="Beta rocket")
    ProjectFactory(owner=owner, name="Gamma boat", state=ProjectState.ACTIVE)
    client.force_login(owner)
    response = client.get(reverse("project_list"), {"state": "active", "search": "rocket"})
    assert [p.name for p in response.context["page"].object_list] == ["Alpha rocket"]
    assert 'value="active" checked' in response.content.decode()


def test_list_reports_an_invalid_filter_instead_of_failing(client, owner):
    client.force_login(owner)
    response = client.get(reverse("project_list"), {"state": "flying"})
    assert response.status_code == 200
    assert "flying is not one of the available choices" in response.content.decode()


def test_list_is_paginated(client, owner):
    ProjectFactory.create_batch(27, owner=owner)
    client.force_login(owner)
    first = client.get(reverse("project_list"))
    assert len(first.context["page"].object_list) == 25
    assert "page=2" in first.content.decode()
    assert len(client.get(reverse("project_list"), {"page": 2}).context["page"].object_list) == 2


# --- Create and edit -----------------------------------------------------------------------------


def test_any_user_creates_a_project_and_owns_it(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("project_create")).status_code == 200
    response = client.post(reverse("project_create"), {"name": "  New thing ", "description": "Why not"})
    project = Project.objects.get(name="New thing")
    assert response["Location"] == project.get_absolute_url()
    assert (project.owner, project.state, project.slug) == (outsider, ProjectState.PROPOSED, "new-thing")
    created = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_id=str(project.pk))
    assert created.actor == outsider and created.event_name == "project.created"


def test_create_form_shows_validation_errors(client, owner):
    client.force_login(owner)
    response = client.post(reverse("project_create"), {"name": " ", "repo_url": "not a url", "slug": "bad slug!"})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "repo_url", "slug"}
    assert not Project.objects.exists()


def test_create_with_a_taken_slug_gets_a_suffix_and_says_nothing_of_the_other_project(client, owner):
    ProjectFactory(slug="taken")  # someone else's, hidden from owner
    client.force_login(owner)
    response = client.post(reverse("project_create"), {"name": "Other", "slug": "taken"})
    assert response.status_code == 302
    created = Project.objects.get(name="Other")
    assert created.slug == "taken-2" and created.owner == owner
    assert b"already exists" not in client.get(response["Location"]).content


def test_owner_edits_the_project(client, owner, project):
    client.force_login(owner)
    page = client.get(reverse("project_edit", args=[project.pk]))
    assert page.context["form"].initial["name"] == project.name
    response = client.post(reverse("project_edit", args=[project.pk]), {"name": "Renamed", "slug": ""})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "Renamed" and project.slug.startswith("project-")
    assert AuditEntry.objects.filter(event_type=AuditEventType.ENTITY_UPDATED, actor=owner,
                                     entity_id=str(project.pk)).exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_team_members_may_not_edit_and_the_refusal_is_audited(client, roles, project, role):
    client.force_login(roles[role])
    response = client.get(reverse("project_edit", args=[project.pk]))
    assert response.status_code == 403
    assert "Only the owner or an operator can change this project." in response.content.decode()
    denied = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.actor, denied.event_name, denied.success) == (roles[role], "project.update", False)


def test_outsider_gets_404_on_every_project_page(client, outsider, project):
    client.force_login(outsider)
    for name in ("project_detail", "project_edit"):
        assert client.get(reverse(name, args=[project.pk])).status_code == 404
    for name in ("project_delete", "project_team_add"):
        assert client.post(reverse(name, args=[project.pk])).status_code == 404
    assert client.post(transition_url(project, "activate")).status_code == 404
    assert not AuditEntry.objects.filter(project=project, actor=outsider).exists()


def test_edit_of_a_closed_project_shows_the_conflict(client, owner):
    project = ProjectFactory(owner=owner, state=ProjectState.COMPLETED)
    client.force_login(owner)
    response = client.post(reverse("project_edit", args=[project.pk]), {"name": "Too late"})
    assert response.context["form"].non_field_errors() == ["This project is completed; it can no longer be edited."]


# --- Detail --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role, buttons, can_manage", [
    ("operator", ["activate", "kill"], True),
    ("owner", ["activate", "kill"], True),
    ("member", [], False),
    ("viewer", [], False),
])
def test_detail_offers_exactly_the_transitions_this_user_may_run(client, roles, project, role, buttons, can_manage):
    client.force_login(roles[role])
    response = client.get(project.get_absolute_url())
    body = response.content.decode()
    assert sorted(response.context["allowed_transitions"]) == sorted(buttons)
    for name in ("activate", "kill", "pause", "resume", "complete"):
        assert (f'transitions/{name}/"' in body) == (name in buttons)
    assert ("Add or change role" in body) == can_manage
    assert ('href="' + reverse("project_edit", args=[project.pk]) + '"' in body) == can_manage
    assert 'class="state state-current" data-state="proposed"' in body
    assert "member@example.com" in body and "viewer@example.com" in body


def test_detail_shows_decisions_and_the_audit_timeline(client, member, owner, project):
    from decisions.tests.factories import DecisionFactory

    DecisionFactory(project=project, title="Pick a database")
    perform_transition(project, "activate", actor=owner, rationale="Budget approved")
    client.force_login(member)
    response = client.get(project.get_absolute_url())
    body = response.content.decode()
    assert "Pick a database" in body and "New decision" in body
    assert [e.event_name for e in response.context["timeline"]][0] == "project.activate"
    assert "Budget approved" in body
    assert 'id="entities"' in body


def test_no_buttons_are_explained_by_role_or_by_a_final_state(client, owner, member, project):
    client.force_login(member)
    assert "does not let you change this project" in client.get(project.get_absolute_url()).content.decode()
    killed = ProjectFactory(owner=owner, state=ProjectState.KILLED)
    client.force_login(owner)
    assert "Killed is a final state" in client.get(killed.get_absolute_url()).content.decode()


def test_viewer_is_not_offered_new_decision(client, viewer, project):
    client.force_login(viewer)
    assert "New decision" not in client.get(project.get_absolute_url()).content.decode()


def test_invalid_uuid_is_a_404(client, owner):
    client.force_login(owner)
    assert client.get("/projects/123/").status_code == 404


# --- Transitions ---------------------------------------------------------------------------------


def test_owner_activates_with_a_rationale_and_leaves_the_same_row_as_the_api(client, owner, project):
    client.force_login(owner)
    response = client.post(transition_url(project, "activate"), {"rationale": "Kick-off done"})
    assert response["Location"] == project.get_absolute_url()
    assert messages_of(response) == ["Activate done: the project is now active."]
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE and project.state_changed_by == owner
    entry = AuditEntry.objects.get(event_name="project.activate")
    assert (entry.event_type, entry.actor, entry.success, entry.from_state, entry.to_state, entry.rationale) == (
        AuditEventType.TRANSITION_SUCCESS, owner, True, "proposed", "active", "Kick-off done"
    )


def test_member_is_refused_with_a_message_and_one_permission_denied_row(client, member, project):
    client.force_login(member)
    response = client.post(transition_url(project, "activate"), {"rationale": "sneaky"}, follow=True)
    assert "You do not have permission to activate this project." in response.content.decode()
    project.refresh_from_db()
    assert project.state == ProjectState.PROPOSED
    rows = AuditEntry.objects.filter(event_name="project.activate")
    assert [(r.event_type, r.actor, r.success) for r in rows] == [(AuditEventType.PERMISSION_DENIED, member, False)]


def test_wrong_state_is_refused_with_a_message_and_a_transition_denied_row(client, owner, project):
    client.force_login(owner)
    response = client.post(transition_url(project, "pause"), {"rationale": ""})
    assert messages_of(response) == ["Cannot pause a project that is proposed."]
    denied = AuditEntry.objects.get(event_name="project.pause")
    assert (denied.event_type, denied.success, denied.actor) == (AuditEventType.TRANSITION_DENIED, False, owner)


def test_unknown_transition_is_a_404(client, owner, project):
    client.force_login(owner)
    assert client.post(transition_url(project, "explode")).status_code == 404
    assert not AuditEntry.objects.filter(event_name__startswith="project.").exclude(
        event_type=AuditEventType.ENTITY_CREATED).exists()


def test_transition_needs_post(client, owner, project):
    client.force_login(owner)
    assert client.get(transition_url(project, "activate")).status_code == 405


def test_overlong_rationale_changes_nothing(client, owner, project):
    client.force_login(owner)
    response = client.post(transition_url(project, "activate"), {"rationale": "x" * 5001})
    assert messages_of(response)[0].startswith("Nothing was changed:")
    project.refresh_from_db()
    assert project.state == ProjectState.PROPOSED


def test_htmx_transition_returns_the_page_for_the_swap(client, owner, project):
    client.force_login(owner)
    response = client.post(transition_url(project, "activate"), {"rationale": "via htmx"},
                           headers={"HX-Request": "true"}, follow=True)
    body = response.content.decode()
    assert 'id="page"' in body and "Activate done" in body
    assert 'class="state state-current" data-state="active"' in body


# --- Delete --------------------------------------------------------------------------------------


def test_owner_deletes_a_proposed_project(client, owner, project):
    client.force_login(owner)
    response = client.post(reverse("project_delete", args=[project.pk]))
    assert response["Location"] == reverse("project_list")
    project.refresh_from_db()
    assert project.deleted_at is not None
    assert client.get(project.get_absolute_url()).status_code == 404


def test_active_project_cannot_be_deleted(client, owner):
    project = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    client.force_login(owner)
    response = client.post(reverse("project_delete", args=[project.pk]))
    assert messages_of(response) == ["This project is active; only proposed projects can be deleted."]
    project.refresh_from_db()
    assert project.deleted_at is None


def test_member_cannot_delete(client, member, project):
    client.force_login(member)
    response = client.post(reverse("project_delete", args=[project.pk]))
    assert messages_of(response) == ["Only the owner or an operator can delete this project."]
    assert AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, event_name="project.delete").exists()


# --- Team ----------------------------------------------------------------------------------------


def test_owner_adds_a_member_by_email(client, owner, project, outsider):
    client.force_login(owner)
    response = client.post(reverse("project_team_add", args=[project.pk]),
                           {"email": "OUTSIDER@example.com", "role": "viewer"})
    assert messages_of(response) == ["outsider@example.com is now a viewer of this project."]
    membership = Membership.objects.get(project=project, user=outsider)
    assert membership.role == MembershipRole.VIEWER
    row = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_type="membership",
                                 entity_id=str(membership.pk))
    assert row.actor == owner and row.project_id == project.pk


def test_owner_changes_a_role(client, owner, project, viewer):
    client.force_login(owner)
    client.post(reverse("project_team_add", args=[project.pk]), {"email": viewer.email, "role": "member"})
    assert Membership.objects.get(project=project, user=viewer).role == MembershipRole.MEMBER


def test_adding_an_unknown_email_is_explained(client, owner, project):
    client.force_login(owner)
    response = client.post(reverse("project_team_add", args=[project.pk]), {"email": "nobody@example.com",
                                                                            "role": "member"})
    assert messages_of(response) == ["There is no user with this email address."]
    assert not AuditEntry.objects.filter(success=False).exists()


def test_adding_the_owner_shows_the_service_message(client, owner, project):
    client.force_login(owner)
    response = client.post(reverse("project_team_add", args=[project.pk]), {"email": owner.email, "role": "member"})
    assert messages_of(response) == ["The owner is already part of the project."]


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_team_members_cannot_manage_the_team(client, roles, project, outsider, role):
    client.force_login(roles[role])
    response = client.post(reverse("project_team_add", args=[project.pk]), {"email": outsider.email,
                                                                            "role": "member"})
    assert messages_of(response) == ["Only the owner or an operator can manage the team."]
    assert not Membership.objects.filter(user=outsider).exists()
    denied = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.actor, denied.event_name) == (roles[role], "project.team_add")


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_the_refusal_of_a_team_add_does_not_tell_whether_the_email_has_an_account(client, roles, project, outsider,
                                                                                  role):
    client.force_login(roles[role])
    url = reverse("project_team_add", args=[project.pk])

    answers = []
    for email in (outsider.email, "nobody-here@example.com"):
        response = client.post(url, {"email": email, "role": "member"}, follow=True)  # the message is shown
        answers.append((response.redirect_chain, response.status_code, messages_of(response)))

    assert answers[0] == answers[1]
    assert answers[0][2] == ["Only the owner or an operator can manage the team."]
    assert not Membership.objects.filter(user=outsider).exists()
    denied = AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED).order_by("id")
    assert [(row.actor, row.event_name, row.success) for row in denied] == [(roles[role], "project.team_add", False)] * 2
    assert denied[0].failure_reason == denied[1].failure_reason


def test_owner_removes_a_member_after_confirming_and_can_undo_it(client, owner, project, member):
    client.force_login(owner)
    remove = reverse("project_team_remove", args=[project.pk, member.pk])
    assert f'href="{remove}"' in client.get(project.get_absolute_url()).content.decode()  # a link to ask first
    asked = client.get(remove)
    assert asked.status_code == 200 and "Remove" in asked.content.decode() and member.email in asked.content.decode()
    assert Membership.objects.filter(project=project, user=member, role="member").exists()  # asking changes nothing

    response = client.post(remove, follow=True)
    assert not Membership.objects.filter(project=project, user=member).exists()
    assert AuditEntry.objects.filter(event_type=AuditEventType.ENTITY_DELETED, entity_type="membership",
                                     actor=owner).count() == 1
    undo = reverse("project_team_restore", args=[project.pk, member.pk, "member"])
    page = response.content.decode()
    assert "member@example.com was removed from the team." in page and f'action="{undo}"' in page

    back = client.post(undo, follow=True)
    assert Membership.objects.get(project=project, user=member).role == "member"
    assert "member@example.com is back on the team as a member." in back.content.decode()
    assert AuditEntry.objects.filter(event_type=AuditEventType.ENTITY_CREATED, entity_type="membership",
                                     actor=owner, project=project).exists()
    assert client.post(reverse("project_team_restore", args=[project.pk, member.pk, "emperor"])).status_code == 404


def test_a_member_cannot_undo_a_removal_or_even_ask_to_remove(client, owner, member, viewer, project):
    client.force_login(member)
    asked = client.get(reverse("project_team_remove", args=[project.pk, viewer.pk]))
    assert messages_of(asked) == ["Only the owner or an operator can manage the team."]
    refused = client.post(reverse("project_team_restore", args=[project.pk, viewer.pk, "member"]))
    assert messages_of(refused)[-1] == "Only the owner or an operator can manage the team."
    assert Membership.objects.get(project=project, user=viewer).role == "viewer"
    assert AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, actor=member).count() == 2


def test_removing_someone_not_on_the_team_is_explained(client, owner, project, outsider):
    client.force_login(owner)
    response = client.post(reverse("project_team_remove", args=[project.pk, outsider.pk]))
    assert messages_of(response) == ["outsider@example.com is not a member of this project."]


def test_member_cannot_remove_anyone(client, member, viewer, project):
    client.force_login(member)
    response = client.post(reverse("project_team_remove", args=[project.pk, viewer.pk]))
    assert messages_of(response) == ["Only the owner or an operator can manage the team."]
    assert Membership.objects.filter(project=project, user=viewer).exists()


def test_the_list_sorts_filters_mine_and_shows_my_role(client, owner, member, project):
    """The project list sorts by name, filters to one member's projects and shows the caller's role
    in each."""
    other = ProjectFactory(name="Aardvark", owner=member)
    client.force_login(member)

    by_name = client.get(reverse("project_list"), {"sort": "name"}).content.decode()
    assert by_name.index("Aardvark") < by_name.index(project.name)
    assert "You: <strong>owner</strong>" in by_name and "You: <strong>member</strong>" in by_name

    client.force_login(owner)
    mine = client.get(reverse("project_list"), {"member": str(owner.pk)}).content.decode()
    assert project.name in mine and "Aardvark" not in mine and other.name not in mine


def test_a_viewer_is_told_their_role_and_who_can_act(client, viewer, project, owner):
    client.force_login(viewer)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Your role here: <strong>viewer</strong>" in page
    assert f"ask the owner, {owner.email}, or an operator" in page
