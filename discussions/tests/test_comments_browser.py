"""The comments section in a real browser: loaded, posted, edited and deleted with htmx, no reload, under
the strict Content-Security-Policy (the helpers and fixtures are the site's browser tests')."""

import re

import pytest

from audit.models import AuditEntry
from commandcentral.tests.test_browser import base_url, browser, loaded, log_in, open_page, sync_api  # noqa: F401
from decisions.tests.factories import DecisionFactory
from discussions.models import Comment

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
def decision(project):
    return DecisionFactory(project=project, title="Pick a queue")


def test_a_member_discusses_a_decision_without_a_reload(open_page, base_url, decision, member, owner):
    watched = open_page()
    page = watched.page
    log_in(watched, base_url, member.email, decision.get_absolute_url())
    section = page.locator("#comments")
    sync_api.expect(section).to_contain_text("No comments yet.")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    section.get_by_label("Comment").fill(f"We should use **SQS**. @{owner.handle} <script>alert(1)</script>")
    section.get_by_role("button", name="Comment").click()

    sync_api.expect(section.locator(".comment strong", has_text="SQS")).to_be_visible()
    sync_api.expect(section.locator(".comment")).to_contain_text("<script>alert(1)</script>")  # shown as text
    sync_api.expect(section.get_by_label("Comment")).to_have_value("")
    comment = Comment.objects.get()
    assert list(comment.mentions.all()) == [owner]

    section.get_by_role("link", name="Edit").click()
    editor = section.locator(f"#comment-{comment.pk} textarea")
    sync_api.expect(editor).to_be_visible()
    editor.fill("We should use _Kafka_ after all.")
    section.get_by_role("button", name="Save").click()
    sync_api.expect(section.locator(".comment em", has_text="Kafka")).to_be_visible()
    sync_api.expect(section.locator(".comment")).to_contain_text("(edited)")

    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Delete").click()
    sync_api.expect(section.locator(".comment")).to_have_count(0)

    assert page.evaluate("window.sameDocument") is True
    assert not Comment.objects.exists()
    names = list(AuditEntry.objects.filter(entity_type="comment").order_by("id").values_list("event_name", flat=True))
    assert names == ["comment.created", "comment.updated", "comment.deleted"]
    watched.assert_clean()


def test_a_viewer_reads_the_project_discussion_without_a_form(open_page, base_url, project, member, viewer):
    from discussions.services import comment_create

    comment_create(actor=member, project=project, body="Kick-off on *Monday*.")
    watched = open_page()
    log_in(watched, base_url, viewer.email, project.get_absolute_url())
    section = watched.page.locator("#comments")

    sync_api.expect(section.locator(".comment em", has_text="Monday")).to_be_visible()
    sync_api.expect(section).to_contain_text(re.compile("Viewers read the discussion"))
    assert section.locator("textarea").count() == 0
    watched.assert_clean()
