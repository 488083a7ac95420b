"""The comments sections of the decision and project pages: loaded and posted with htmx, the same services
and audit rows as the API, nothing inline for the Content-Security-Policy to refuse."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from commandcentral.tests.test_csp import assert_strict
from decisions.tests.factories import DecisionFactory
from discussions.models import Comment

HTMX = {"HX-Request": "true"}


@pytest.fixture
def decision(project):
    return DecisionFactory(project=project)


def test_the_decision_and_project_pages_load_their_comments_with_htmx(client, decision, member):
    client.force_login(member)

    decision_page = client.get(decision.get_absolute_url()).content.decode()
    project_page = client.get(decision.project.get_absolute_url()).content.decode()

    assert f'hx-get="{reverse("decision_comments", args=[decision.pk])}" hx-trigger="load"' in decision_page
    assert f'hx-get="{reverse("project_comments", args=[decision.project_id])}" hx-trigger="load"' in project_page


def test_a_member_posts_a_comment_and_gets_the_section_back(client, decision, member, owner):
    client.force_login(member)
    url = reverse("decision_comments", args=[decision.pk])

    response = client.post(url, {"body": f"Agreed, **ship it**. @{owner.handle} @stranger"}, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Agreed, <strong>ship it</strong>." in page
    assert "Not on this project's team, so not mentioned: @stranger" in page
    assert 'name="body"' in page and "ship it" not in page.split('name="body"')[1].split("</textarea>")[0]
    comment = Comment.objects.get()
    assert (comment.author, comment.decision, list(comment.mentions.all())) == (member, decision, [owner])
    assert AuditEntry.objects.filter(entity_type="comment", event_name="comment.created", actor=member).count() == 1
    assert_strict(response)


def test_without_htmx_a_post_returns_to_the_page(client, project, member):
    client.force_login(member)

    response = client.post(reverse("project_comments", args=[project.pk]), {"body": "Kick-off notes"})

    assert response.status_code == 302 and response["Location"] == project.get_absolute_url() + "#comments"
    assert Comment.objects.get().decision is None


def test_a_viewer_reads_without_a_form_and_is_refused_a_post(client, decision, member, viewer):
    client.force_login(member)
    client.post(reverse("decision_comments", args=[decision.pk]), {"body": "For the record"}, headers=HTMX)
    client.force_login(viewer)
    url = reverse("decision_comments", args=[decision.pk])

    section = client.get(url, headers=HTMX).content.decode()

    assert "For the record" in section and 'name="body"' not in section and "Viewers read" in section
    assert "Edit</a>" not in section
    assert client.post(url, {"body": "Me too"}, headers=HTMX).status_code == 403
    assert Comment.objects.count() == 1
    assert AuditEntry.objects.filter(event_name="decision.comment_create", actor=viewer, success=False).exists()


def test_an_outsider_gets_a_404(client, decision, outsider):
    client.force_login(outsider)
    assert client.get(reverse("decision_comments", args=[decision.pk])).status_code == 404
    assert client.post(reverse("decision_comments", args=[decision.pk]), {"body": "hi"}).status_code == 404


def test_a_too_long_comment_is_shown_on_the_form_and_kept_there(client, decision, member):
    client.force_login(member)

    response = client.post(reverse("decision_comments", args=[decision.pk]), {"body": "y" * 20_001}, headers=HTMX)

    assert response.status_code == 200
    assert "at most 20000 characters" in response.content.decode()
    assert not Comment.objects.exists()


def test_the_author_edits_and_deletes_in_place(client, decision, member):
    client.force_login(member)
    client.post(reverse("decision_comments", args=[decision.pk]), {"body": "Draft thought"}, headers=HTMX)
    comment = Comment.objects.get()

    form = client.get(reverse("comment_edit", args=[comment.pk]), headers=HTMX).content.decode()
    assert "Draft thought</textarea>" in form and f'id="comment-{comment.pk}"' in form
    saved = client.post(reverse("comment_edit", args=[comment.pk]), {"body": "Better _thought_"}, headers=HTMX)
    assert saved.status_code == 200 and "Better <em>thought</em>" in saved.content.decode()
    assert "(edited)" in saved.content.decode()

    deleted = client.post(reverse("comment_delete", args=[comment.pk]), headers=HTMX)
    assert deleted.status_code == 200 and deleted.content == b""
    assert not Comment.objects.exists()
    names = list(AuditEntry.objects.filter(entity_type="comment").order_by("id").values_list("event_name", flat=True))
    assert names == ["comment.created", "comment.updated", "comment.deleted"]


def test_someone_else_may_not_edit_or_delete(client, decision, member, owner):
    client.force_login(member)
    client.post(reverse("decision_comments", args=[decision.pk]), {"body": "Mine"}, headers=HTMX)
    comment = Comment.objects.get()
    client.force_login(owner)

    assert "Edit</a>" not in client.get(reverse("decision_comments", args=[decision.pk]), headers=HTMX).content.decode()
    assert client.post(reverse("comment_edit", args=[comment.pk]), {"body": "Theirs"}, headers=HTMX).status_code == 403
    assert client.post(reverse("comment_delete", args=[comment.pk]), headers=HTMX).status_code == 403
    assert Comment.objects.get().body == "Mine"


def test_an_operator_hides_a_comment_in_the_admin(client, decision, member, operator, owner):
    client.force_login(member)
    client.post(reverse("decision_comments", args=[decision.pk]), {"body": "Off-topic rant"}, headers=HTMX)
    comment = Comment.objects.get()
    client.force_login(operator)
    assert "Off-topic rant" in client.get("/admin/discussions/comment/").content.decode()

    response = client.post("/admin/discussions/comment/", {"action": "hide_selected", "_selected_action": [comment.pk]})

    assert response.status_code == 302
    assert Comment.objects.get().hidden is True
    assert AuditEntry.objects.filter(entity_type="comment", event_name="comment.updated", actor=operator).exists()
    client.force_login(owner)
    section = client.get(reverse("decision_comments", args=[decision.pk]), headers=HTMX).content.decode()
    assert "Hidden by an operator." in section and "Off-topic rant" not in section


def test_commenting_too_fast_is_said_on_the_form(client, decision, member, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "comment": "1/min"}}
    client.force_login(member)
    url = reverse("decision_comments", args=[decision.pk])

    assert client.post(url, {"body": "one"}, headers=HTMX).status_code == 200
    throttled = client.post(url, {"body": "two"}, headers=HTMX)
    assert "commenting too fast" in throttled.content.decode()
    assert client.post(url, {"body": "three"}).status_code == 429
    assert list(Comment.objects.values_list("body", flat=True)) == ["one"]


def test_the_timeline_names_the_comment_by_what_it_is_on(client, decision, member):
    client.force_login(member)
    client.post(reverse("decision_comments", args=[decision.pk]), {"body": "Noted"}, headers=HTMX)

    row = AuditEntry.objects.get(entity_type="comment", event_name="comment.created")

    assert row.object_repr == f"comment on {decision.title}"
    assert f"comment on {decision.title}" in client.get(decision.project.get_absolute_url()).content.decode()
