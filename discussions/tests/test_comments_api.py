"""Comments over the API, through the real stack: who may write, what is kept in the audit trail, what
the Markdown becomes, whom an @handle reaches."""

import pytest

from audit.models import AuditEntry
from decisions.tests.factories import DecisionFactory
from discussions.models import Comment


@pytest.fixture
def decision(project):
    return DecisionFactory(project=project)


def post(client, user, url, body):
    client.force_authenticate(user)
    return client.post(url, {"body": body}, format="json")


def rows(**filters):
    return list(AuditEntry.objects.filter(entity_type="comment", **filters).order_by("id")
                .values_list("event_name", flat=True))


def test_a_member_comments_on_a_decision_and_everyone_on_the_team_reads_it(api_client, decision, member, viewer, owner):
    response = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "Looks **fine** to me.")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["body"] == "Looks **fine** to me."
    assert body["body_html"] == "<p>Looks <strong>fine</strong> to me.</p>\n"
    assert body["author"]["id"] == str(member.pk) and body["edited_at"] is None
    assert body["mentions"] == [] and body["unresolved_mentions"] == []
    comment = Comment.objects.get()
    assert (comment.project_id, comment.decision_id, comment.author_id) == (decision.project_id, decision.pk, member.pk)
    created = AuditEntry.objects.get(entity_type="comment", event_name="comment.created")
    assert created.actor == member and str(created.project_id) == str(decision.project_id)
    for reader in (viewer, owner):
        api_client.force_authenticate(reader)
        listed = api_client.get(f"/api/v1/decisions/{decision.pk}/comments/").json()
        assert [c["id"] for c in listed["results"]] == [str(comment.pk)]


def test_project_comments_are_apart_from_its_decisions_comments(api_client, project, decision, owner):
    assert post(api_client, owner, f"/api/v1/projects/{project.pk}/comments/", "On the project").status_code == 201
    assert post(api_client, owner, f"/api/v1/decisions/{decision.pk}/comments/", "On the decision").status_code == 201

    on_project = api_client.get(f"/api/v1/projects/{project.pk}/comments/").json()["results"]
    on_decision = api_client.get(f"/api/v1/decisions/{decision.pk}/comments/").json()["results"]

    assert [c["body"] for c in on_project] == ["On the project"] and on_project[0]["decision"] is None
    assert [c["body"] for c in on_decision] == ["On the decision"]


def test_a_viewer_reads_but_may_not_write(api_client, decision, viewer):
    response = post(api_client, viewer, f"/api/v1/decisions/{decision.pk}/comments/", "Me too")

    assert response.status_code == 403
    assert not Comment.objects.exists()
    refused = AuditEntry.objects.get(event_name="decision.comment_create")
    assert (refused.event_type, refused.actor, refused.success) == ("permission_denied", viewer, False)
    assert post(api_client, viewer, f"/api/v1/projects/{decision.project_id}/comments/", "Me too").status_code == 403


def test_outsiders_and_anonymous_callers_learn_nothing(api_client, decision, outsider):
    url = f"/api/v1/decisions/{decision.pk}/comments/"
    assert post(api_client, outsider, url, "hello").status_code == 404
    assert api_client.get(url).status_code == 404
    assert api_client.get("/api/v1/decisions/not-a-uuid/comments/").status_code == 404
    api_client.force_authenticate(None)
    assert api_client.get(url).status_code == 401
    assert not Comment.objects.exists()


@pytest.mark.parametrize("body, field", [
    ("x" * 20_001, "body"), ("", "body"), ("   \n ", "body"), (12, "body"), ("a\x00b", "body"),
])
def test_bad_bodies_are_a_400_and_leave_nothing(api_client, decision, member, body, field):
    response = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", body)

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Comment.objects.exists() and rows() == []


def test_twenty_thousand_characters_are_accepted(api_client, decision, member):
    assert post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "x" * 20_000).status_code == 201


def test_unknown_fields_are_refused(api_client, decision, member):
    api_client.force_authenticate(member)
    response = api_client.post(f"/api/v1/decisions/{decision.pk}/comments/", {"body": "hi", "hidden": True}, format="json")
    assert response.status_code == 400 and "hidden" in response.json()["errors"]


def test_the_author_edits_and_the_trail_keeps_the_old_text(api_client, decision, member):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "First try").json()["id"]

    response = api_client.patch(f"/api/v1/comments/{comment_id}/", {"body": "Second *try*"}, format="json")

    assert response.status_code == 200
    assert response.json()["body_html"] == "<p>Second <em>try</em></p>\n"
    assert response.json()["edited_at"] is not None
    assert Comment.objects.get().body == "Second *try*"
    updated = AuditEntry.objects.get(entity_type="comment", event_name="comment.updated")
    assert updated.actor == member and updated.changes_dict["body"] == ["First try", "Second *try*"]


def test_only_the_author_edits_or_deletes(api_client, decision, member, owner, operator):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "Mine").json()["id"]
    for other in (owner, operator):
        api_client.force_authenticate(other)
        assert api_client.patch(f"/api/v1/comments/{comment_id}/", {"body": "Theirs"}, format="json").status_code == 403
        assert api_client.delete(f"/api/v1/comments/{comment_id}/").status_code == 403
    assert Comment.objects.get().body == "Mine"
    refused = AuditEntry.objects.filter(entity_type="comment", event_type="permission_denied").values_list("event_name", "actor")
    assert sorted(refused) == sorted([("comment.update", owner.pk), ("comment.delete", owner.pk),
                                      ("comment.update", operator.pk), ("comment.delete", operator.pk)])


def test_the_author_deletes_and_the_trail_keeps_the_last_text(api_client, decision, member):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "Regrettable").json()["id"]

    assert api_client.delete(f"/api/v1/comments/{comment_id}/").status_code == 204

    assert not Comment.objects.exists()
    deleted = AuditEntry.objects.get(entity_type="comment", event_name="comment.deleted")
    assert deleted.actor == member and deleted.entity_id == comment_id
    assert "Regrettable" in str(deleted.changes_dict["body"])
    assert api_client.get(f"/api/v1/comments/{comment_id}/").status_code == 404


def test_a_member_who_left_the_team_can_no_longer_edit(api_client, decision, member):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "Mine").json()["id"]
    decision.project.memberships.filter(user=member).delete()

    api_client.force_authenticate(member)
    assert api_client.patch(f"/api/v1/comments/{comment_id}/", {"body": "Still mine?"}, format="json").status_code == 404


def test_an_operator_hides_a_comment_and_only_operators_still_read_it(api_client, decision, member, operator, owner):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "Rude words").json()["id"]

    api_client.force_authenticate(member)
    assert api_client.patch(f"/api/v1/comments/{comment_id}/", {"hidden": True}, format="json").status_code == 403
    api_client.force_authenticate(operator)
    response = api_client.patch(f"/api/v1/comments/{comment_id}/", {"hidden": True}, format="json")

    assert response.status_code == 200 and response.json()["hidden"] is True
    assert response.json()["body"] == "Rude words"  # operators still read it
    api_client.force_authenticate(owner)
    seen = api_client.get(f"/api/v1/decisions/{decision.pk}/comments/").json()["results"][0]
    assert (seen["hidden"], seen["body"], seen["body_html"]) == (True, "", "")
    hidden = AuditEntry.objects.get(entity_type="comment", event_name="comment.updated")
    assert hidden.actor == operator and hidden.changes_dict["hidden"] == [False, True]
    assert AuditEntry.objects.filter(event_name="comment.hide", actor=member, success=False).exists()


def test_body_and_hidden_together_are_a_400(api_client, decision, member):
    comment_id = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", "x").json()["id"]
    response = api_client.patch(f"/api/v1/comments/{comment_id}/", {"body": "y", "hidden": True}, format="json")
    assert response.status_code == 400 and Comment.objects.get().body == "x"


def test_hostile_markdown_is_stored_as_written_and_rendered_harmless(api_client, decision, member):
    text = '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://example.com)'

    body = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", text).json()

    assert body["body"] == text
    html = body["body_html"]
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert '<a href="https://example.com" rel="nofollow noopener">ok</a>' in html


def test_mentions_reach_the_team_and_say_who_they_did_not_reach(api_client, decision, member, owner, viewer, outsider):
    text = f"@{owner.handle} and @{viewer.handle}, see this; cc @{outsider.handle} and @nobody-at-all (mail a@b.c)"

    body = post(api_client, member, f"/api/v1/decisions/{decision.pk}/comments/", text).json()

    assert sorted(body["mentions"]) == sorted([str(owner.pk), str(viewer.pk)])
    assert body["unresolved_mentions"] == [outsider.handle, "nobody-at-all"]
    assert sorted(Comment.objects.get().mentions.values_list("pk", flat=True)) == sorted([owner.pk, viewer.pk])

    edited = api_client.patch(f"/api/v1/comments/{body['id']}/", {"body": f"Only @{owner.handle.upper()}"}, format="json").json()
    assert edited["mentions"] == [str(owner.pk)] and edited["unresolved_mentions"] == []
    assert rows() == ["comment.created", "comment.updated"]  # the mentions follow from the body: no rows of their own


def test_comment_creation_is_throttled(api_client, decision, member, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "comment": "2/min"}}
    url = f"/api/v1/decisions/{decision.pk}/comments/"
    assert [post(api_client, member, url, "hi").status_code for _ in range(3)] == [201, 201, 429]
    assert Comment.objects.count() == 2
    assert api_client.get(url).status_code == 200  # reading is not a comment


@pytest.mark.parametrize("role", ["operator", "owner", "member", "viewer", "outsider"])
def test_the_permission_matrix_says_what_the_api_does(api_client, roles, decision, role):
    from states.permission_matrix import permission_matrix

    rows = {row["action"]: row["roles"] for row in permission_matrix()["actions"]}
    expected = {"allowed": 201, "forbidden": 403, "hidden": 404}[rows["comment.create"][role]]

    assert post(api_client, roles[role], f"/api/v1/decisions/{decision.pk}/comments/", "hello").status_code == expected
