"""People and process in a real browser, end to end through the pages: an owner invites someone by email,
the worker mails the link, the newcomer joins with a name and a password, is named a reviewer with another
member, discusses the decision with an @mention, approves while the other objects (deciding is blocked),
and once the objection turns into an approval the owner decides. No step may trip the Content-Security-
Policy or log a console error (the fixtures and helpers are the site's browser tests')."""

import os
import re

import pytest
from django.core import mail
from django.core.management import call_command

from accounts.models import Invitation, User
from audit.models import AuditEntry, AuditEventType
from audit.tests.verify import assert_trail_verifies
from commandcentral.tests.test_browser import (  # noqa: F401
    CHROMIUM, base_url, browser, loaded, log_in, open_page, run_transition, sync_api,
)
from core.transitions import perform_transition
from decisions.models import Decision, DecisionState, Verdict
from decisions.tests.factories import DecisionFactory
from discussions.models import Comment
from projects.models import MembershipRole

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"),
]

expect = sync_api.expect
NEWCOMER = "newcomer@example.com"
NEW_PASSWORD = "a-long-Unusual-passphrase-42"


def run_worker() -> None:
    """What `manage.py db_worker` does, until no task is ready (in this thread, as the invitation tests do)."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)


def record_verdict(page, verdict: str):
    loaded(page)  # the form posts through htmx
    reviews = page.locator("#reviews")
    reviews.get_by_label(verdict.capitalize(), exact=True).check()
    reviews.get_by_role("button", name="Record my verdict").click()


def names(entity_type: str) -> list[str]:
    return list(AuditEntry.objects.filter(entity_type=entity_type).order_by("id").values_list("event_name", flat=True))


@pytest.mark.django_db(transaction=True)
def test_an_invited_newcomer_joins_reviews_and_the_owner_decides(open_page, base_url, project, owner, member):
    perform_transition(project, "activate", actor=owner)
    decision = DecisionFactory(project=project, title="Pick a queue", state=DecisionState.ACTIVE)
    decision_url = decision.get_absolute_url()

    # 1. The owner invites the newcomer from the project page's Invitations card.
    owner_view = open_page()
    owner_page = owner_view.page
    log_in(owner_view, base_url, owner.email, project.get_absolute_url())
    card = owner_page.locator("#invitations")
    expect(card).to_contain_text("No pending invitations.")
    card.get_by_label("Email of the person to invite").fill(NEWCOMER)
    card.get_by_label("Role").select_option("member")
    card.get_by_role("button", name="Invite").click()
    loaded(owner_page)
    expect(owner_page.locator("#invitations li[data-invitation]")).to_have_attribute("data-invitation", NEWCOMER)
    expect(owner_page.get_by_text(f"Invitation sent to {NEWCOMER}")).to_be_visible()
    assert mail.outbox == []  # the mail is the worker's, not the request's

    # 2. The worker sends the mail; the newcomer opens its link in a browser of their own.
    run_worker()
    assert [message.to for message in mail.outbox] == [[NEWCOMER]]
    link = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", mail.outbox[0].body).group(1)
    newcomer_view = open_page()
    newcomer_page = newcomer_view.page
    newcomer_page.goto(f"{base_url}{link}")
    expect(newcomer_page.get_by_role("heading", name=f"Join {project.name}")).to_be_visible()
    newcomer_page.get_by_label("Name").fill("Nina Newcomer")
    newcomer_page.get_by_label(re.compile(r"^Password(?! again)")).fill(NEW_PASSWORD)
    newcomer_page.get_by_label("Password again").fill(NEW_PASSWORD)
    newcomer_page.get_by_role("button", name="Create my account and join").click()
    expect(newcomer_page).to_have_url(f"{base_url}{project.get_absolute_url()}")
    expect(newcomer_page.get_by_text(f"Welcome! You joined {project.name} as a member.")).to_be_visible()
    newcomer = User.objects.get(email=NEWCOMER)
    assert newcomer.name == "Nina Newcomer" and newcomer.check_password(NEW_PASSWORD)
    assert project.memberships.get(user=newcomer).role == MembershipRole.MEMBER
    assert Invitation.objects.get().accepted_by == newcomer

    # 3. The owner names the newcomer and the member reviewers, one approval needed, on the edit page.
    owner_page.goto(f"{base_url}/decisions/{decision.pk}/edit/")
    owner_page.get_by_label(NEWCOMER, exact=True).check()
    owner_page.get_by_label(member.email, exact=True).check()
    owner_page.get_by_label("Required approvals").fill("1")
    owner_page.get_by_role("button", name="Save").click()
    expect(owner_page).to_have_url(f"{base_url}{decision_url}")
    expect(owner_page.get_by_text("Decision saved.")).to_be_visible()
    decision.refresh_from_db()
    assert set(decision.reviewers.all()) == {newcomer, member} and decision.required_approvals == 1
    expect(owner_page.locator("#reviews")).to_contain_text("Deciding needs 1 approval and no standing objection")

    # 4. The newcomer comments with an @mention of the owner: it appears without a reload, resolved.
    newcomer_page.goto(f"{base_url}{decision_url}")
    comments = newcomer_page.locator("#comments")
    expect(comments).to_contain_text("No comments yet.")
    newcomer_page.evaluate("window.sameDocument = true")  # gone if the page reloads
    comments.get_by_label("Comment").fill(f"Fine by me, @{owner.handle}: **SQS** it is.")
    comments.get_by_role("button", name="Comment").click()
    expect(comments.locator(".comment strong", has_text="SQS")).to_be_visible()
    expect(comments.locator(".comment")).to_contain_text(f"@{owner.handle}")
    expect(comments.locator(".comment-note")).to_have_count(0)  # no "not on this project's team"
    assert newcomer_page.evaluate("window.sameDocument") is True
    comment = Comment.objects.get()
    assert comment.author == newcomer and list(comment.mentions.all()) == [owner] and comment.unresolved_mentions == []

    # 5. The newcomer approves, the member objects: the owner's Decide checklist says why it is blocked.
    record_verdict(newcomer_page, Verdict.APPROVE)
    expect(newcomer_page.locator("#reviews .reviewer-approve")).to_contain_text(NEWCOMER)
    expect(newcomer_page.get_by_text("Your verdict is recorded: approve.")).to_be_visible()

    member_view = open_page()
    member_page = member_view.page
    log_in(member_view, base_url, member.email, decision_url)
    record_verdict(member_page, Verdict.OBJECT)
    expect(member_page.locator("#reviews .reviewer-object")).to_contain_text(member.email)
    expect(member_page.locator("#reviews legend")).to_have_text("Change your verdict")

    owner_page.reload()
    panel = owner_page.locator("#state-panel")
    panel.locator("details.transition-decide summary").click()
    form = panel.locator("details.transition-decide form")
    expect(form.locator(".check-missing")).to_contain_text("No standing objection from a reviewer")
    expect(form.locator(".check-met", has_text="1 approval from its reviewers")).to_be_visible()
    expect(form.get_by_role("button", name="Confirm decide")).to_be_disabled()

    # 6. The member changes their verdict (the latest counts); the owner decides with an option.
    record_verdict(member_page, Verdict.APPROVE)
    expect(member_page.locator("#reviews .reviewer-approve")).to_have_count(2)
    expect(member_page.locator("#reviews .reviewer-object")).to_have_count(0)

    owner_page.reload()
    run_transition(owner_page, "decide", "Both reviewers approve.", option_label="Option A")
    expect(owner_page.locator("#state-panel .badge")).to_have_text("decided")
    decision.refresh_from_db()
    assert decision.state == DecisionState.DECIDED and decision.selected_option == "a"
    assert decision.decided_by == owner

    # The audit rows each step left, and a trail that still verifies.
    assert names("invitation") == ["invitation.created", "invitation.accepted"]
    assert names("comment") == ["comment.created"]
    reviewed = AuditEntry.objects.filter(event_name="decision.reviewed").order_by("id")
    assert [(entry.actor_id, entry.extra["verdict"]) for entry in reviewed] == [
        (newcomer.pk, "approve"), (member.pk, "object"), (member.pk, "approve"),
    ]
    decide = AuditEntry.objects.get(event_name="decision.decide")
    assert decide.event_type == AuditEventType.TRANSITION_SUCCESS and decide.actor_id == owner.pk
    assert Decision.objects.get(pk=decision.pk).reviews.count() == 3
    assert_trail_verifies()
    for watched in (owner_view, newcomer_view, member_view):
        watched.assert_clean()
