from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from core.errors import ActionForbidden, Conflict, InvalidInput
from core.transitions import perform_transition
from core.access import visible_project
from projects.models import MembershipRole, Project, ProjectState
from projects.services import (
    membership_add,
    membership_remove,
    project_create,
    project_restore,
    project_soft_delete,
    project_update,
)
from projects.tests.factories import ProjectFactory


def test_create_generates_a_unique_slug_and_makes_the_caller_owner(owner):
    first = project_create(actor=owner, name="Data Platform")
    second = project_create(actor=owner, name="Data Platform")
    assert (first.slug, second.slug) == ("data-platform", "data-platform-2")
    assert first.owner == owner and first.state == ProjectState.PROPOSED
    row = AuditEntry.objects.get(event_name="project.created", entity_id=str(first.pk))
    assert row.actor == owner and row.project_id == first.pk
    third = project_create(actor=owner, name="Data Platform")  # two taken: the first free suffix
    assert third.slug == "data-platform-3" and Project.objects.count() == 3
    # The refused INSERT left nothing behind: one created row per project, the ledger intact.
    assert AuditEntry.objects.filter(event_name="project.created").count() == 3
    assert AuditEntry.objects.get(event_name="project.created", entity_id=str(third.pk)).changes["slug"][1] == third.slug
    from audit.ledger.verification import verify_ledger

    assert verify_ledger().ok


def test_a_deleted_projects_slug_is_free_again(owner):
    gone = project_create(actor=owner, name="Reused")
    project_soft_delete(project=gone, actor=owner)
    assert project_create(actor=owner, name="Reused").slug == "reused"
    assert project_create(actor=owner, name="Other", slug="reused-2").slug == "reused-2"


def test_a_taken_slug_gets_a_suffix_not_an_existence_answer(owner, outsider):
    hidden = project_create(actor=outsider, name="Hidden", slug="taken")
    second = project_create(actor=owner, name="B", slug="taken")
    third = project_create(actor=owner, name="C", slug="taken")
    assert (hidden.slug, second.slug, third.slug) == ("taken", "taken-2", "taken-3")
    assert AuditEntry.objects.filter(event_name="project.created").count() == 3
    # Renaming onto a taken slug is suffixed the same way.
    renamed = project_update(project=third, actor=owner, slug="taken-2")
    assert Project.objects.get(pk=renamed.pk).slug == "taken-2-2"


def test_member_cannot_edit_and_the_attempt_is_recorded(project, member):
    with pytest.raises(ActionForbidden):
        project_update(project=project, actor=member, name="Hijacked")
    assert Project.objects.get(pk=project.pk).name != "Hijacked"
    row = AuditEntry.objects.get(event_type="permission_denied")
    assert (row.event_name, row.actor, row.project_id) == ("project.update", member, project.pk)


def test_owner_edit_is_audited_with_the_diff(project, owner):
    project_update(project=project, actor=owner, description="New text")
    row = AuditEntry.objects.get(event_name="project.updated")
    assert row.changes["description"][1] == "New text" and row.actor == owner


def test_closed_project_cannot_be_edited(project, owner):
    perform_transition(project, "kill", actor=owner)
    with pytest.raises(Conflict):
        project_update(project=project, actor=owner, name="x")


def test_soft_delete_only_while_proposed_and_restore(project, owner, member, operator):
    project_soft_delete(project=project, actor=owner)
    assert not Project.objects.visible_to(owner).filter(pk=project.pk).exists()
    with pytest.raises(ActionForbidden):
        project_restore(project=project, actor=member)  # not who deleted it
    Project._base_manager.filter(pk=project.pk).update(deleted_at=timezone.now() - timedelta(minutes=11))
    project.refresh_from_db()
    with pytest.raises(ActionForbidden):
        project_restore(project=project, actor=owner)  # who deleted it, but too late to undo
    project_restore(project=project, actor=operator)
    assert Project.objects.visible_to(owner).filter(pk=project.pk).exists()
    updates = AuditEntry.objects.filter(event_name="project.updated").order_by("id")
    assert [sorted(u.changes) for u in updates] == [["deleted_at", "deleted_by"], ["deleted_at", "deleted_by"]]


def test_whoever_deleted_a_project_may_undo_it_for_a_while(project, owner):
    project_soft_delete(project=project, actor=owner)
    project_restore(project=project, actor=owner)
    assert Project.objects.get(pk=project.pk).deleted_at is None


def test_active_project_cannot_be_deleted(project, owner):
    perform_transition(project, "activate", actor=owner)
    with pytest.raises(Conflict):
        project_soft_delete(project=project, actor=owner)
    assert Project.objects.get(pk=project.pk).deleted_at is None


def test_restore_refuses_when_the_slug_was_reused(project, owner, operator):
    project_soft_delete(project=project, actor=owner)
    ProjectFactory(slug=project.slug)
    with pytest.raises(Conflict):
        project_restore(project=project, actor=operator)


def test_team_management(project, owner, outsider, member):
    membership_add(project=project, actor=owner, user=outsider, role=MembershipRole.VIEWER)
    assert Project.objects.visible_to(outsider).filter(pk=project.pk).exists()
    membership_remove(project=project, actor=owner, user=outsider)
    assert not Project.objects.visible_to(outsider).filter(pk=project.pk).exists()
    assert AuditEntry.objects.filter(event_name="membership.deleted", project=project).count() == 1
    with pytest.raises(InvalidInput):
        membership_remove(project=project, actor=owner, user=outsider)
    with pytest.raises(InvalidInput):
        membership_add(project=project, actor=owner, user=owner)
    with pytest.raises(InvalidInput):
        membership_add(project=project, actor=owner, user=outsider, role="king")
    with pytest.raises(ActionForbidden):
        membership_add(project=project, actor=member, user=outsider)


def test_visibility(project, roles):
    for role in ("operator", "owner", "member", "viewer"):
        assert Project.objects.visible_to(roles[role]).filter(pk=project.pk).exists(), role
    assert not Project.objects.visible_to(roles["outsider"]).exists()


def test_visible_project_follows_the_same_rule_as_visible_to(project, roles, owner):
    """visible_project (one project by key, used by every detail endpoint) and visible_to (lists) agree."""
    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    from accounts.tests.factories import UserFactory
    from projects.tests.factories import ProjectFactory

    deleted = ProjectFactory(owner=owner)
    deleted.deleted_at = timezone.now()
    deleted.save()
    inactive_staff = UserFactory(email="gone@example.com", is_staff=True, is_active=False)
    users = [*roles.values(), inactive_staff, AnonymousUser()]
    for candidate in (project, deleted):
        for user in users:
            listed = Project.objects.visible_to(user).filter(pk=candidate.pk).exists()
            try:
                visible_project(user, candidate.pk)
                got = True
            except Project.DoesNotExist:
                got = False
            assert got == listed, (candidate, user)
    assert visible_project(roles["member"], project.pk) == project
    with pytest.raises(Project.DoesNotExist):
        visible_project(roles["outsider"], project.pk)
    with pytest.raises(Project.DoesNotExist):
        visible_project(roles["operator"], None)
