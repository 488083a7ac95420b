"""Delete asks first, an Undo follows it, Kill warns that it is final, a duplicate name is flagged."""

from django.urls import reverse

from audit.models import AuditEntry
from decisions.models import Decision
from decisions.tests.factories import DecisionFactory
from projects.models import Project


def test_delete_asks_first_then_offers_an_undo_that_works_once(client, project, owner):
    client.force_login(owner)
    page = client.get(project.get_absolute_url()).content.decode()
    assert f'href="{reverse("project_delete", args=[project.pk])}">Delete…</a>' in page

    confirm = client.get(reverse("project_delete", args=[project.pk]))
    assert confirm.status_code == 200 and "Delete this project?" in confirm.content.decode()
    assert Project.objects.get(pk=project.pk).deleted_at is None  # asking deletes nothing

    listing = client.post(reverse("project_delete", args=[project.pk]), follow=True).content.decode()
    assert Project.objects.get(pk=project.pk).deleted_at is not None
    undo_url = reverse("project_restore", args=[project.pk])
    assert f'action="{undo_url}"' in listing and "Undo" in listing
    assert undo_url not in client.get(reverse("project_list")).content.decode()  # offered once

    back = client.post(undo_url, follow=True)
    assert back.status_code == 200 and Project.objects.get(pk=project.pk).deleted_at is None
    rows = AuditEntry.objects.filter(event_name="project.updated", entity_id=str(project.pk)).order_by("id")
    assert [row.changes["deleted_at"][1] is None for row in rows] == [False, True]
    assert all(row.actor == owner for row in rows)


def test_nobody_else_can_use_the_undo(client, project, owner, member):
    client.force_login(owner)
    client.post(reverse("project_delete", args=[project.pk]))
    client.force_login(member)

    assert client.post(reverse("project_restore", args=[project.pk])).status_code == 404
    assert Project.objects.get(pk=project.pk).deleted_at is not None


def test_deleting_a_decision_asks_and_can_be_undone(client, project, member):
    decision = DecisionFactory(project=project)
    client.force_login(member)

    assert "Delete this decision?" in client.get(reverse("decision_delete", args=[decision.pk])).content.decode()
    client.post(reverse("decision_delete", args=[decision.pk]))
    assert Decision.objects.get(pk=decision.pk).deleted_at is not None
    client.post(reverse("decision_restore", args=[decision.pk]))
    assert Decision.objects.get(pk=decision.pk).deleted_at is None


def test_kill_warns_that_it_is_final(client, project, owner):
    client.force_login(owner)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Killed is final: after this the project can no longer change." in page
    assert "Active is final" not in page


def test_a_duplicate_name_is_flagged(client, project, owner):
    client.force_login(owner)
    response = client.post(reverse("project_create"), {"name": project.name.upper()}, follow=True)
    assert "Another project you can see is also called" in response.content.decode()


def test_a_member_removed_since_their_delete_cannot_undo_it(client, project, owner, member):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    client.post(reverse("decision_delete", args=[decision.pk]))
    client.force_login(owner)
    assert client.post(reverse("project_team_remove", args=[project.pk, member.pk])).status_code == 302
    client.force_login(member)

    refused = client.post(reverse("decision_restore", args=[decision.pk]))

    assert refused.status_code == 403
    assert Decision._base_manager.get(pk=decision.pk).deleted_at is not None
    row = AuditEntry.objects.get(event_type="permission_denied")
    assert (row.event_name, row.actor, row.success, row.entity_id) == ("decision.restore", member, False, str(decision.pk))
    assert "ten minutes" in row.failure_reason
    assert AuditEntry.objects.filter(event_name="decision.updated", entity_id=str(decision.pk)).count() == 1  # the delete


def test_a_member_made_a_viewer_since_their_delete_cannot_undo_it(client, project, owner, member):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    client.post(reverse("decision_delete", args=[decision.pk]))
    client.force_login(owner)
    client.post(reverse("project_team_add", args=[project.pk]), {"email": member.email, "role": "viewer"})
    client.force_login(member)

    assert client.post(reverse("decision_restore", args=[decision.pk])).status_code == 403
    assert Decision._base_manager.get(pk=decision.pk).deleted_at is not None
    assert AuditEntry.objects.filter(event_type="permission_denied", event_name="decision.restore", actor=member).count() == 1


def test_an_operator_demoted_since_their_delete_of_someone_elses_project_cannot_undo_it(client, project, operator):
    client.force_login(operator)
    client.post(reverse("project_delete", args=[project.pk]))
    operator.is_staff = False
    operator.save()

    assert client.post(reverse("project_restore", args=[project.pk])).status_code == 403
    assert Project._base_manager.get(pk=project.pk).deleted_at is not None
    row = AuditEntry.objects.get(event_type="permission_denied")
    assert (row.event_name, row.actor, row.entity_id) == ("project.restore", operator, str(project.pk))


def test_anyone_but_its_deleter_still_gets_a_404_and_leaves_no_row(client, project, member, outsider):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    client.post(reverse("decision_delete", args=[decision.pk]))
    client.force_login(outsider)

    assert client.post(reverse("decision_restore", args=[decision.pk])).status_code == 404
    assert not AuditEntry.objects.filter(success=False).exists()
