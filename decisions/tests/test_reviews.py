"""Reviews and approvals through the real stack: the API, the pages, the admin and the transition command."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.tests.factories import UserFactory
from audit.models import AuditEntry, AuditEventType
from audit.tests.verify import assert_trail_verifies
from core.transitions import perform_transition
from decisions.models import Decision, DecisionState, Review
from decisions.tests.factories import DecisionFactory, two_options
from projects.models import MembershipRole
from projects.tests.factories import MembershipFactory


@pytest.fixture
def active_project(project, owner):
    perform_transition(project, "activate", actor=owner)
    return project


@pytest.fixture
def second_member(project):
    person = UserFactory(email="second@example.com")
    MembershipFactory(project=project, user=person, role=MembershipRole.MEMBER)
    return person


@pytest.fixture
def reviewed(active_project, owner, member, second_member):
    """An active decision that needs two approvals from member and second_member."""
    decision = DecisionFactory(project=active_project, required_approvals=2)
    decision.reviewers.set([member, second_member])
    perform_transition(decision, "activate", actor=owner)
    return decision


def reviews_url(decision):
    return reverse("api:decision-reviews", args=[decision.pk])


def decide_url(decision):
    return reverse("api:decision-decide", args=[decision.pk])


def review(api_client, user, decision, **body):
    api_client.force_authenticate(user)
    return api_client.post(reviews_url(decision), {"verdict": "approve", **body}, format="json")


def reviewed_rows(decision):
    return list(AuditEntry.objects.filter(event_name="decision.reviewed", entity_id=str(decision.pk)).order_by("id"))


# --- Setting reviewers ------------------------------------------------------------------------------------------------


def test_create_with_reviewers_over_the_api(api_client, active_project, member, second_member):
    api_client.force_authenticate(member)
    response = api_client.post(reverse("api:decision-list"), {
        "project": str(active_project.pk), "title": "Pick", "options": two_options(),
        "reviewers": [str(member.pk), str(second_member.pk)], "required_approvals": 2,
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body["reviewers"]) == {str(member.pk), str(second_member.pk)} and body["required_approvals"] == 2
    decision = Decision.objects.get(pk=body["id"])
    assert set(decision.reviewers.all()) == {member, second_member}


@pytest.mark.parametrize("who", ["viewer", "outsider", "unknown"])
def test_a_reviewer_off_the_team_is_a_clear_400_and_nothing_is_saved(api_client, active_project, member, roles, who):
    person_id = roles[who].pk if who != "unknown" else "00000000-0000-0000-0000-000000000000"
    api_client.force_authenticate(member)
    response = api_client.post(reverse("api:decision-list"), {
        "project": str(active_project.pk), "title": "Pick", "reviewers": [str(person_id)],
    }, format="json")
    assert response.status_code == 400
    assert "owner or members" in str(response.json()["errors"]["reviewers"]) and str(person_id) in str(response.json())
    assert Decision.objects.count() == 0


def test_more_approvals_than_reviewers_is_400_on_create_and_update(api_client, active_project, member):
    api_client.force_authenticate(member)
    response = api_client.post(reverse("api:decision-list"), {
        "project": str(active_project.pk), "title": "Pick", "reviewers": [str(member.pk)], "required_approvals": 2,
    }, format="json")
    assert response.status_code == 400 and "required_approvals" in response.json()["errors"]
    assert "cannot exceed the number of reviewers (1)" in str(response.json())
    assert Decision.objects.count() == 0

    decision = DecisionFactory(project=active_project)
    decision.reviewers.set([member])
    patched = api_client.patch(reverse("api:decision-detail", args=[decision.pk]), {"required_approvals": 3}, format="json")
    assert patched.status_code == 400
    too_few = api_client.patch(reverse("api:decision-detail", args=[decision.pk]),
                               {"reviewers": [], "required_approvals": 1}, format="json")
    assert too_few.status_code == 400
    decision.refresh_from_db()
    assert decision.required_approvals == 0 and list(decision.reviewers.all()) == [member]
    assert api_client.patch(reverse("api:decision-detail", args=[decision.pk]), {"required_approvals": -1},
                            format="json").status_code == 400


def test_changing_only_the_approvals_counts_the_reviewers_still_on_the_team(api_client, reviewed, owner,
                                                                           second_member):
    reviewed.project.memberships.filter(user=second_member).update(role=MembershipRole.VIEWER)
    api_client.force_authenticate(owner)
    detail = reverse("api:decision-detail", args=[reviewed.pk])
    refused = api_client.patch(detail, {"required_approvals": 2}, format="json")
    assert refused.status_code == 400 and "number of reviewers (1)" in str(refused.json()["errors"]["required_approvals"])
    assert api_client.patch(detail, {"required_approvals": 1}, format="json").status_code == 200


def test_update_reviewers_over_the_api_is_audited(api_client, active_project, owner, member, second_member):
    decision = DecisionFactory(project=active_project)
    api_client.force_authenticate(owner)
    response = api_client.patch(reverse("api:decision-detail", args=[decision.pk]),
                                {"reviewers": [str(member.pk), str(second_member.pk)], "required_approvals": 1},
                                format="json")
    assert response.status_code == 200 and response.json()["required_approvals"] == 1
    assert set(decision.reviewers.all()) == {member, second_member}
    assert AuditEntry.objects.filter(entity_type="decision", entity_id=str(decision.pk),
                                     event_type=AuditEventType.ENTITY_UPDATED).exists()


# --- Reviewing over the API ---------------------------------------------------------------------------------------


def test_a_reviewer_reviews_and_it_is_audited(api_client, reviewed, member):
    response = review(api_client, member, reviewed, option="b", comment="B is cheaper")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["comment_html"] == "<p>B is cheaper</p>\n"
    assert (body["verdict"], body["option"], body["comment"], body["reviewer"]) == (
        "approve", "b", "B is cheaper", str(member.pk))
    [row] = reviewed_rows(reviewed)
    assert (row.actor, row.success, row.project_id, row.rationale) == (member, True, reviewed.project_id, "B is cheaper")
    assert row.extra == {"review_id": body["id"], "verdict": "approve", "option": "b"}

    listed = api_client.get(reviews_url(reviewed))
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [body["id"]]


def test_viewers_read_reviews_outsiders_do_not_see_them(api_client, reviewed, member, viewer, outsider):
    review(api_client, member, reviewed)
    api_client.force_authenticate(viewer)
    assert api_client.get(reviews_url(reviewed)).json()["count"] == 1
    api_client.force_authenticate(outsider)
    assert api_client.get(reviews_url(reviewed)).status_code == 404
    assert review(api_client, outsider, reviewed).status_code == 404
    assert Review.objects.count() == 1


@pytest.mark.parametrize("who", ["owner", "viewer", "operator"])
def test_only_a_listed_reviewer_may_post_403_recorded(api_client, reviewed, roles, who):
    response = review(api_client, roles[who], reviewed)
    assert response.status_code == 403
    assert Review.objects.count() == 0 and reviewed_rows(reviewed) == []
    denied = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.event_name, denied.actor, denied.entity_id) == ("decision.review", roles[who], str(reviewed.pk))


def test_reviewer_removed_from_the_team_may_no_longer_review(api_client, reviewed, second_member):
    reviewed.project.memberships.filter(user=second_member).update(role=MembershipRole.VIEWER)
    assert review(api_client, second_member, reviewed).status_code == 403
    assert Review.objects.count() == 0


@pytest.mark.parametrize("state", [DecisionState.DRAFT, DecisionState.DECIDED, DecisionState.ARCHIVED])
def test_reviewing_a_decision_that_is_not_active_is_409_recorded(api_client, active_project, member, state):
    decision = DecisionFactory(project=active_project, state=state)
    decision.reviewers.set([member])
    response = review(api_client, member, decision)
    assert response.status_code == 409 and state in response.json()["detail"]
    assert Review.objects.count() == 0 and reviewed_rows(decision) == []
    denied = AuditEntry.objects.get(event_type=AuditEventType.CHANGE_DENIED)
    assert (denied.event_name, denied.actor, denied.success) == ("decision.review", member, False)


def test_reviewing_in_a_closed_project_is_409_recorded(api_client, reviewed, owner, member):
    perform_transition(reviewed.project, "complete", actor=owner, rationale="done")
    response = review(api_client, member, reviewed)
    assert response.status_code == 409 and "project is completed" in response.json()["detail"]
    assert Review.objects.count() == 0
    assert AuditEntry.objects.filter(event_type=AuditEventType.CHANGE_DENIED, event_name="decision.review").count() == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"verdict": None}, "verdict"),
        ({"option": "zzz"}, "option"),
        ({"option": 5}, "option"),
        ({"comment": "x" * 20001}, "comment"),
        ({"comment": "nul \x00"}, "comment"),
        ({"reviewer": "someone"}, "reviewer"),
    ],
)
def test_bad_review_input_is_a_clear_400_and_no_rows(api_client, reviewed, member, body, field):
    response = review(api_client, member, reviewed, **body)
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert Review.objects.count() == 0 and reviewed_rows(reviewed) == []


def test_a_comment_of_exactly_20000_characters_is_taken(api_client, reviewed, member):
    assert review(api_client, member, reviewed, comment="x" * 20000).status_code == 201


# --- Decide needs the approvals and no objection -----------------------------------------------------------------------


def test_decide_is_blocked_until_enough_approvals_then_succeeds(api_client, reviewed, owner, member, second_member):
    api_client.force_authenticate(owner)
    blocked = api_client.post(decide_url(reviewed), {"selected_option": "a", "rationale": "r"}, format="json")
    assert blocked.status_code == 400
    assert blocked.json()["missing"] == ["has_required_approvals"]
    assert "2 approvals from its reviewers" in blocked.json()["detail"]
    denied = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_DENIED)
    assert denied.extra == {"reason": "requirements", "missing": ["has_required_approvals"]}
    reviewed.refresh_from_db()
    assert reviewed.state == DecisionState.ACTIVE

    review(api_client, member, reviewed)
    api_client.force_authenticate(owner)
    assert api_client.post(decide_url(reviewed), {"selected_option": "a"}, format="json").status_code == 400
    review(api_client, second_member, reviewed, option="a")
    api_client.force_authenticate(owner)
    done = api_client.post(decide_url(reviewed), {"selected_option": "a", "rationale": "both agree"}, format="json")
    assert done.status_code == 200, done.json()
    reviewed.refresh_from_db()
    assert reviewed.state == DecisionState.DECIDED and reviewed.decided_by == owner
    assert AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_SUCCESS, transition="decide").count() == 1
    # No more reviews once decided.
    assert review(api_client, member, reviewed, verdict="object").status_code == 409


def test_an_objection_blocks_and_a_later_approve_withdraws_it(api_client, reviewed, owner, member, second_member):
    review(api_client, member, reviewed)
    review(api_client, second_member, reviewed, verdict="object", comment="Not yet")
    api_client.force_authenticate(owner)
    blocked = api_client.post(decide_url(reviewed), {"selected_option": "a"}, format="json")
    assert blocked.status_code == 400 and blocked.json()["missing"] == ["has_required_approvals", "has_no_standing_objection"]
    assert "no standing objection from a reviewer" in blocked.json()["detail"]

    review(api_client, second_member, reviewed, verdict="approve")
    assert Review.objects.filter(reviewer=second_member).count() == 2  # appended, the latest counts
    api_client.force_authenticate(owner)
    assert api_client.post(decide_url(reviewed), {"selected_option": "b"}, format="json").status_code == 200
    assert len(reviewed_rows(reviewed)) == 3
    assert_trail_verifies()  # every verdict's row is sealed in the ledger, like the transitions


def test_an_objection_blocks_even_when_no_approval_is_required(api_client, active_project, owner, member):
    decision = DecisionFactory(project=active_project, state=DecisionState.ACTIVE)
    decision.reviewers.set([member])
    review(api_client, member, decision, verdict="object")
    api_client.force_authenticate(owner)
    response = api_client.post(decide_url(decision), {"selected_option": "a"}, format="json")
    assert response.status_code == 400 and response.json()["missing"] == ["has_no_standing_objection"]
    review(api_client, member, decision, verdict="abstain")
    api_client.force_authenticate(owner)
    assert api_client.post(decide_url(decision), {"selected_option": "a"}, format="json").status_code == 200


def test_a_removed_reviewers_verdict_no_longer_counts(api_client, reviewed, owner, member, second_member):
    review(api_client, member, reviewed, verdict="object")
    review(api_client, second_member, reviewed)
    api_client.force_authenticate(owner)
    response = api_client.patch(reverse("api:decision-detail", args=[reviewed.pk]),
                                {"reviewers": [str(second_member.pk)], "required_approvals": 1}, format="json")
    assert response.status_code == 200
    assert api_client.post(decide_url(reviewed), {"selected_option": "a"}, format="json").status_code == 200


def test_the_markdown_record_names_who_was_consulted(api_client, reviewed, member, second_member):
    review(api_client, member, reviewed, verdict="object")
    api_client.force_authenticate(member)
    record = api_client.get(reverse("api:decision-record-md", args=[reviewed.pk])).content.decode()
    assert ("* Consulted: member@example.com (objected), second@example.com (awaited); 2 approval(s) required"
            in record)


def test_the_approval_of_a_reviewer_who_left_the_team_no_longer_counts(client, api_client, reviewed, owner, member,
                                                                       second_member):
    review(api_client, member, reviewed)
    review(api_client, second_member, reviewed)
    reviewed.project.memberships.filter(user=second_member).update(role=MembershipRole.VIEWER)
    api_client.force_authenticate(owner)
    response = api_client.post(decide_url(reviewed), {"selected_option": "a"}, format="json")
    assert response.status_code == 400 and response.json()["missing"] == ["has_required_approvals"]
    client.force_login(owner)
    body = client.get(reviewed.get_absolute_url()).content.decode()
    assert 'class="reviewer reviewer-left"' in body and "1 approved · 0 objected · 0 awaited." in body


def test_transition_command_refuses_with_the_reason_then_decides(api_client, reviewed, owner, member, second_member):
    with pytest.raises(CommandError, match="it needs 2 approvals from its reviewers"):
        call_command("transition", "decision", str(reviewed.pk), "decide", "--actor", owner.email, "--option", "a")
    assert AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_DENIED).count() == 1
    review(api_client, member, reviewed)
    review(api_client, second_member, reviewed, verdict="object")
    with pytest.raises(CommandError, match="it needs 2 approvals from its reviewers and no standing objection"):
        call_command("transition", "decision", str(reviewed.pk), "decide", "--actor", owner.email, "--option", "a")
    review(api_client, second_member, reviewed)
    call_command("transition", "decision", str(reviewed.pk), "decide", "--actor", owner.email, "--option", "a")
    reviewed.refresh_from_db()
    assert reviewed.state == DecisionState.DECIDED


def test_permission_matrix_lists_decides_requirements(api_client, member):
    api_client.force_authenticate(member)
    actions = api_client.get(reverse("api:state-machine-permissions")).json()["actions"]
    decide = next(row for row in actions if row["action"] == "decision.decide")
    names = [item["name"] for item in decide["transition"]["requires"]]
    assert names[-2:] == ["has_required_approvals", "has_no_standing_objection"]
    assert decide["transition"]["requires"][-1]["text"] == "no standing objection from a reviewer"


@pytest.mark.parametrize("role", ["operator", "owner", "member", "viewer", "outsider"])
def test_matrix_review_cell_is_what_naming_a_reviewer_and_reviewing_does(api_client, active_project, owner, roles,
                                                                         role):
    from states.permission_matrix import permission_matrix

    cell = next(row for row in permission_matrix()["actions"] if row["action"] == "decision.review")["roles"][role]
    user = roles[role]
    api_client.force_authenticate(owner)
    created = api_client.post(reverse("api:decision-list"), {
        "project": str(active_project.pk), "title": "Pick", "question": "Which?", "options": two_options(),
        "reviewers": [str(user.pk)],
    }, format="json")
    if created.status_code == 400:
        outcome = "hidden" if role == "outsider" else "forbidden"
    else:
        decision = Decision.objects.get(pk=created.json()["id"])
        perform_transition(decision, "activate", actor=owner)
        outcome = {201: "allowed", 403: "forbidden", 404: "hidden"}[review(api_client, user, decision).status_code]
    assert outcome == cell


# --- Pages ------------------------------------------------------------------------------------------------------------


def test_the_page_shows_verdicts_the_checklist_and_a_disabled_confirm(client, api_client, reviewed, owner, member,
                                                                    second_member):
    review(api_client, member, reviewed, verdict="object", comment="Too **early** <script>x()</script>")
    client.force_login(owner)
    body = client.get(reviewed.get_absolute_url()).content.decode()
    assert 'id="reviews"' in body and "0 approved · 1 objected · 1 awaited." in body
    assert 'class="reviewer reviewer-object"' in body and 'class="reviewer reviewer-awaited"' in body
    assert "Too <strong>early</strong>" in body and "<script>x()" not in body  # Markdown, sanitized
    assert "2 approvals from its reviewers" in body and "No standing objection from a reviewer" in body
    assert 'disabled aria-describedby="blocked-decide"' in body
    assert "It needs 2 approvals from its reviewers and no standing objection from a reviewer first." in body
    assert "review-form" not in body  # the owner is not a reviewer here


def test_a_reviewer_reviews_from_the_page_with_htmx(client, reviewed, member):
    client.force_login(member)
    page = client.get(reviewed.get_absolute_url()).content.decode()
    assert 'hx-post="%s"' % reverse("decision_review", args=[reviewed.pk]) in page
    response = client.post(reverse("decision_review", args=[reviewed.pk]),
                           {"verdict": "approve", "option": "a", "comment": "Fine"}, follow=True, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your verdict is recorded: approve." in body and 'class="reviewer reviewer-approve"' in body
    assert Review.objects.get().option == "a" and len(reviewed_rows(reviewed)) == 1


@pytest.mark.parametrize("data,message", [
    ({"verdict": "approve", "option": "zzz"}, "not one of this decision"),
    ({"verdict": "approve", "comment": "x" * 20001}, "at most 20000 characters"),
    ({"verdict": "bogus"}, "Nothing was recorded"),
])
def test_bad_review_from_the_page_says_why_and_records_nothing(client, reviewed, member, data, message):
    client.force_login(member)
    body = client.post(reverse("decision_review", args=[reviewed.pk]), data, follow=True).content.decode()
    assert message in body
    assert Review.objects.count() == 0 and reviewed_rows(reviewed) == []


def test_a_non_reviewer_posting_on_the_page_is_403_recorded(client, reviewed, viewer):
    client.force_login(viewer)
    response = client.post(reverse("decision_review", args=[reviewed.pk]), {"verdict": "approve"})
    assert response.status_code == 403 and Review.objects.count() == 0
    assert AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, event_name="decision.review").count() == 1


def test_decide_on_the_page_is_refused_then_done_after_approvals(client, api_client, reviewed, owner, member,
                                                                  second_member):
    client.force_login(owner)
    url = reverse("decision_transition", args=[reviewed.pk, "decide"])
    body = client.post(url, {"selected_option": "a", "rationale": "go"}, follow=True).content.decode()
    assert "Cannot decide yet: it needs 2 approvals from its reviewers." in body
    review(api_client, member, reviewed)
    review(api_client, second_member, reviewed)
    client.post(url, {"selected_option": "a", "rationale": "go"})
    reviewed.refresh_from_db()
    assert reviewed.state == DecisionState.DECIDED


def test_edit_page_sets_reviewers_and_refuses_too_many_approvals(client, active_project, owner, member, viewer):
    decision = DecisionFactory(project=active_project)
    client.force_login(owner)
    form = client.get(reverse("decision_edit", args=[decision.pk])).context["form"]
    assert set(form.fields["reviewers"].queryset) == {owner, member}  # not the viewer
    data = {"title": decision.title, "question": decision.question, "option_id": ["a", "b"],
            "option_label": ["A", "B"], "option_description": ["", ""], "option_pros": ["", ""],
            "option_cons": ["", ""], "reviewers": [str(member.pk)], "required_approvals": "2"}
    response = client.post(reverse("decision_edit", args=[decision.pk]), data)
    assert response.status_code == 200 and "cannot exceed the number of reviewers (1)" in response.content.decode()
    assert decision.reviewers.count() == 0
    assert client.post(reverse("decision_edit", args=[decision.pk]), {**data, "required_approvals": "1"}).status_code == 302
    decision.refresh_from_db()
    assert decision.required_approvals == 1 and list(decision.reviewers.all()) == [member]


def awaiting_section(client) -> str:
    body = client.get("/").content.decode()
    start = body.find('id="awaiting-review-title"')
    return body[start:body.find("</section>", start)] if start != -1 else ""


def test_dashboard_lists_decisions_waiting_for_my_review(client, api_client, reviewed, member, second_member):
    other = DecisionFactory(project=reviewed.project, title="Not mine")  # a draft, no reviewers
    client.force_login(member)
    section = awaiting_section(client)
    assert "Waiting for my review" in section and f">{reviewed.title}</a>" in section and other.title not in section
    review(api_client, member, reviewed, verdict="abstain")
    client.force_login(member)
    assert awaiting_section(client) == ""
    client.force_login(second_member)
    assert f">{reviewed.title}</a>" in awaiting_section(client)
    reviewed.project.memberships.filter(user=second_member).update(role=MembershipRole.VIEWER)
    assert awaiting_section(client) == ""  # no longer on the team: nothing waits for them


# --- Admin ------------------------------------------------------------------------------------------------------------


def test_admin_shows_reviews_read_only_and_edits_reviewers_through_the_service(client, api_client, operator, reviewed,
                                                                               member, second_member, viewer):
    import json

    review(api_client, member, reviewed, comment="Looks right")
    client.force_login(operator)
    change = reverse("admin:decisions_decision_change", args=[reviewed.pk])
    page = client.get(change).content.decode()
    assert "Looks right" in page and "<td>member@example.com</td><td>approve</td>" in page
    data = {"title": reviewed.title, "question": reviewed.question, "context": reviewed.context,
            "options": json.dumps(reviewed.options), "tags": json.dumps(reviewed.tags), "review_by": "",
            "supersedes": "", "reviewers": [str(member.pk), str(viewer.pk)], "required_approvals": "2"}
    refused = client.post(change, data)
    assert refused.status_code == 200 and "owner or members" in refused.content.decode()
    assert set(reviewed.reviewers.all()) == {member, second_member}

    done = client.post(change, {**data, "reviewers": [str(member.pk)], "required_approvals": "1"})
    assert done.status_code == 302, done.content.decode()[:2000]
    reviewed.refresh_from_db()
    assert list(reviewed.reviewers.all()) == [member] and reviewed.required_approvals == 1
    assert Review.objects.count() == 1


def test_admin_decide_is_refused_with_the_reason_then_done(client, api_client, operator, reviewed, member,
                                                           second_member):
    client.force_login(operator)
    url = reverse("admin:decisions_decision_transition", args=[reviewed.pk, "decide"])
    page = client.get(url).content.decode()
    assert "2 approvals from its reviewers" in page
    refused = client.post(url, {"selected_option": "a", "rationale": "r"}, follow=True).content.decode()
    assert "Cannot decide yet: it needs 2 approvals from its reviewers." in refused
    assert AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_DENIED, actor=operator).count() == 1
    review(api_client, member, reviewed)
    review(api_client, second_member, reviewed, verdict="object")
    client.force_login(operator)
    page = client.get(url).content.decode()
    assert "✗" in page and "no standing objection from a reviewer" in page.lower()
    refused = client.post(url, {"selected_option": "a", "rationale": "r"}, follow=True).content.decode()
    assert "it needs 2 approvals from its reviewers and no standing objection from a reviewer." in refused
    review(api_client, second_member, reviewed)
    client.force_login(operator)
    client.post(url, {"selected_option": "a", "rationale": "r"})
    reviewed.refresh_from_db()
    assert reviewed.state == DecisionState.DECIDED and reviewed.decided_by == operator
