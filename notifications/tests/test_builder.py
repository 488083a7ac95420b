"""Notifications are made from the sealed ledger by the builder task, run by django-tasks' real database
worker, after writes through the API: who gets what, nobody else, and each exactly once."""

from unittest import mock

import pytest

from accounts.tests.factories import UserFactory
from audit.models import AuditEntry, LedgerLeaf
from notifications import builder, kinds
from notifications.models import BuilderState, Notification, Watch
from notifications.services import watch

from .support import active_decision, as_user, comment, notified, run_worker, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_mention_notifies_the_mentioned_member_once_and_not_the_author(project, owner, member, viewer, outsider):
    made = comment(owner, project, f"What do you think, @{member.handle} and @{outsider.handle}? And @{owner.handle}.")
    settle()

    assert notified() == [("mentioned", member.email)]
    note = Notification.objects.get()
    assert (note.actor, note.subject_type, note.subject_id, note.project_id) == (owner, "comment", made["id"], project.pk)
    assert note.url == f"/projects/{project.pk}/#comment-{made['id']}"
    leaf = LedgerLeaf.objects.get(leaf_index=note.leaf_index)
    assert leaf.entry.event_name == "comment.created" and leaf.entry.entity_id == made["id"]

    settle()  # the builder again: nothing new, nothing twice
    assert Notification.objects.count() == 1


def test_an_edit_notifies_only_the_people_it_adds(project, owner, member, viewer):
    made = comment(owner, project, f"Hello @{member.handle}")
    settle()
    response = as_user(owner).patch(f"/api/v1/comments/{made['id']}/", {"body": f"Hello @{member.handle} and @{viewer.handle}"},
                                    format="json")
    assert response.status_code == 200
    settle()

    assert notified() == [("mentioned", member.email), ("mentioned", viewer.email)]
    assert AuditEntry.objects.filter(event_name="comment.updated", entity_id=made["id"]).count() == 1


def test_naming_reviewers_requests_their_review(project, owner, member):
    second = UserFactory(email="second@example.com")
    as_user(owner).post(f"/api/v1/projects/{project.pk}/team/", {"user_id": str(second.pk), "role": "member"}, format="json")
    decision = active_decision(owner, project, reviewers=[member, owner])
    settle()
    assert notified("review_requested") == [("review_requested", member.email)]  # not the owner, who named them

    as_user(owner).patch(f"/api/v1/decisions/{decision}/", {"reviewers": [str(member.pk), str(second.pk)]}, format="json")
    settle()
    assert notified("review_requested") == [("review_requested", member.email), ("review_requested", second.email)]
    note = Notification.objects.get(kind="review_requested", recipient=second)
    assert (note.subject_type, note.subject_id, note.url) == ("decision", decision, f"/decisions/{decision}/")


def test_a_decided_decision_reaches_its_reviewers_and_the_watchers_not_the_decider(project, owner, member, viewer, outsider):
    decision = active_decision(owner, project, reviewers=[member], required_approvals=1)
    assert as_user(viewer).post(f"/api/v1/projects/{project.pk}/watch/").status_code == 200
    assert as_user(owner).post(f"/api/v1/projects/{project.pk}/watch/").status_code == 200
    assert as_user(member).post(f"/api/v1/decisions/{decision}/reviews/", {"verdict": "approve"}, format="json").status_code == 201
    settle()
    Notification.objects.all().delete()

    response = as_user(owner).post(f"/api/v1/decisions/{decision}/decide/", {"rationale": "A it is", "selected_option": "a"},
                                   format="json")
    assert response.status_code == 200
    settle()

    assert notified() == [("decision_decided", member.email), ("decision_decided", viewer.email)]
    assert {n.detail for n in Notification.objects.all()} == {"decide: active → decided"}


def test_a_transition_reaches_the_watchers_who_can_still_see_the_project(project, owner, member, viewer, outsider):
    for user in (member, viewer):
        assert as_user(user).post(f"/api/v1/projects/{project.pk}/watch/").status_code == 200
    assert as_user(owner).delete(f"/api/v1/projects/{project.pk}/team/{viewer.pk}/").status_code == 204  # viewer leaves

    assert as_user(owner).post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "go"}, format="json").status_code == 200
    settle()

    assert notified() == [("transition", member.email)]
    note = Notification.objects.get()
    assert (note.subject_type, note.subject_id, note.detail, note.actor) == ("project", str(project.pk),
                                                                            "activate: proposed → active", owner)
    assert not Notification.objects.filter(recipient__in=[outsider, viewer, owner]).exists()


def test_an_invitation_notifies_the_account_of_the_invited_address(project, owner, outsider, client):
    response = as_user(owner).post(f"/api/v1/projects/{project.pk}/invitations/", {"email": outsider.email, "role": "viewer"},
                                   format="json")
    assert response.status_code == 201
    as_user(owner).post(f"/api/v1/projects/{project.pk}/invitations/", {"email": "nobody@example.com"}, format="json")
    settle()

    assert notified() == [("invited", outsider.email)]
    note = Notification.objects.get()
    assert note.email_mode == "none"  # the invitation's own mail is the only one
    from django.core import mail

    # The two invitations' own mails, and no notification mail besides.
    assert sorted(message.to[0] for message in mail.outbox) == sorted([outsider.email, "nobody@example.com"])
    assert (note.subject_type, note.subject_id, note.subject_title) == ("invitation", response.json()["id"], project.name)
    assert "token" not in note.url and len(note.url) < 80  # the link's token is not stored
    client.force_login(outsider)
    followed = client.get(note.url)
    assert followed.status_code == 302 and followed["Location"].startswith("/invitations/")
    assert client.get(followed["Location"]).status_code == 200  # the invitation's own page, for its person
    client.force_login(owner)
    assert client.get(note.url).status_code == 404  # nobody else's


def test_an_outsider_and_the_actor_get_nothing(project, owner, member, outsider):
    watch(project=project, actor=outsider)  # watched while on no team (it cannot happen through the API)
    watch(project=project, actor=owner)
    comment(member, project, f"@{member.handle} note to self, @{outsider.handle}")
    as_user(owner).post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "go"}, format="json")
    settle()

    assert Notification.objects.count() == 0


def test_a_row_sealed_while_the_builder_crashed_is_notified_exactly_once_after(project, owner, member):
    comment(owner, project, f"first @{member.handle}")
    settle()
    real = kinds.notifications_for
    calls = {"n": 0}

    def crashing(entry, leaf_index):
        calls["n"] += 1
        if entry.event_name == "comment.created" and calls["n"] > 1:
            raise RuntimeError("the worker died")
        return real(entry, leaf_index)

    comment(owner, project, f"second @{member.handle}")
    comment(owner, project, f"third @{member.handle}")
    with mock.patch.object(builder, "notifications_for", crashing):
        settle()  # the run fails half-way through its batch: nothing of the batch is kept

    state = BuilderState.objects.get()
    assert Notification.objects.count() == 1 and "the worker died" in state.last_error
    assert state.consecutive_failures == 1 and state.lease_until is None

    builder.resume()  # the maintenance tick: rows wait, nothing is queued, nobody holds the lease
    run_worker()
    bodies = sorted(AuditEntry.objects.get(ledger_leaf__leaf_index=n.leaf_index).changes["body"][1]
                    for n in Notification.objects.all())
    assert bodies == [f"first @{member.handle}", f"second @{member.handle}", f"third @{member.handle}"]
    assert BuilderState.objects.get().cursor == LedgerLeaf.objects.count()

    builder.run()  # and again: nothing twice
    assert Notification.objects.count() == 3


def test_a_run_whose_lease_ran_out_keeps_nothing_and_the_cursor_is_the_new_runs(project, owner, member):
    comment(owner, project, f"hello @{member.handle}")
    from audit.ledger.sequencer import seal_pending

    seal_pending()
    from django.utils import timezone

    # A run that died holding the lease: until it runs out, nobody else builds; after, the next run does.
    BuilderState.objects.filter(pk=1).update(lease_until=timezone.now() + timezone.timedelta(seconds=60), scheduled=False)
    assert builder.run() == 0 and Notification.objects.count() == 0
    BuilderState.objects.filter(pk=1).update(lease_until=timezone.now() - timezone.timedelta(seconds=1), scheduled=False)
    assert builder.resume() is True
    run_worker()
    assert notified() == [("mentioned", member.email)]


def test_the_write_path_only_queues_a_run(project, owner, member):
    """A comment's request makes no notification itself: the seal queues the builder, the worker builds."""
    comment(owner, project, f"hello @{member.handle}")
    from audit.ledger.sequencer import seal_pending

    seal_pending()
    assert Notification.objects.count() == 0 and BuilderState.objects.get().scheduled is True
    run_worker()
    assert notified() == [("mentioned", member.email)]
    assert Watch.objects.count() == 0
