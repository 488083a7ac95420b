"""Decision pages: who sees what, the options rows form, and transitions leaving the same audit rows."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEntry, AuditEventType
from core.transitions import perform_transition
from decisions.forms import DecisionForm, options_from_rows, rows_from_options
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import ProjectState
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

SEES_PROJECT = ["operator", "owner", "member", "viewer"]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def transition_url(decision, name):
    return reverse("decision_transition", args=[decision.pk, name])


def rows(*options) -> dict:
    """POST data of the options rows: each option is (id, label, description, pros, cons)."""
    data = {f"option_{key}": [] for key in ("id", "label", "description", "pros", "cons")}
    for option in options:
        for key, value in zip(("id", "label", "description", "pros", "cons"), option):
            data[f"option_{key}"].append(value)
    return data


# --- List and detail -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", SEES_PROJECT + ["outsider"])
def test_list_and_detail_follow_project_visibility(client, roles, project, role):
    decision = DecisionFactory(project=project, title="Visible to the team")
    client.force_login(roles[role])
    listed = [d.title for d in client.get(reverse("decision_list")).context["page"].object_list]
    assert ("Visible to the team" in listed) == (role in SEES_PROJECT)
    assert client.get(decision.get_absolute_url()).status_code == (200 if role in SEES_PROJECT else 404)


def test_list_filters_with_the_shared_filterset(client, owner, project):
    DecisionFactory(project=project, title="Infra one", tags=["infra"])
    DecisionFactory(project=project, title="Hiring one", tags=["hiring"])
    DecisionFactory(project=ProjectFactory(owner=owner), title="Elsewhere", tags=["infra"])
    client.force_login(owner)
    response = client.get(reverse("decision_list"), {"tag": "infra", "project": str(project.pk), "state": "draft"})
    assert [d.title for d in response.context["page"].object_list] == ["Infra one"]
    assert client.get(reverse("decision_list"), {"search": "hiring"}).context["page"].paginator.count == 1


def test_deleted_decisions_are_404(client, owner, project):
    decision = DecisionFactory(project=project)
    client.force_login(owner)
    client.post(reverse("decision_delete", args=[decision.pk]))
    assert client.get(decision.get_absolute_url()).status_code == 404


def test_detail_shows_options_pros_cons_record_link_and_audit(client, member, project):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    response = client.get(decision.get_absolute_url())
    body = response.content.decode()
    assert "Option A" in body and "cheap" in body and "slow" in body and "The other one" in body
    assert f'href="/api/v1/decisions/{decision.pk}/record.md"' in body
    assert [e.event_name for e in response.context["timeline"]] == ["decision.created"]
    assert 'class="state state-current" data-state="draft"' in body


@pytest.mark.parametrize("role, state, buttons", [
    ("member", DecisionState.DRAFT, ["activate"]),
    ("member", DecisionState.ACTIVE, []),
    ("viewer", DecisionState.DRAFT, []),
    ("owner", DecisionState.ACTIVE, ["decide", "archive"]),
    ("operator", DecisionState.DECIDED, ["archive"]),
])
def test_detail_offers_exactly_the_transitions_this_user_may_run(client, roles, project, role, state, buttons):
    decision = DecisionFactory(project=project, state=state)
    client.force_login(roles[role])
    response = client.get(decision.get_absolute_url())
    body = response.content.decode()
    assert sorted(response.context["allowed_transitions"]) == sorted(buttons)
    for name in ("activate", "decide", "archive"):
        assert (f'transitions/{name}/"' in body) == (name in buttons)
    if "decide" in buttons:
        assert 'name="selected_option" value="a"' in body and 'name="selected_option" value="b"' in body


def test_detail_links_superseded_and_related_decisions(client, owner, project):
    older = DecisionFactory(project=project, title="Older", state=DecisionState.DECIDED)
    newer = DecisionFactory(project=project, title="Newer", supersedes=older)
    related = DecisionFactory(project=project, title="Sibling")
    newer.related_decisions.add(related)
    client.force_login(owner)
    body = client.get(newer.get_absolute_url()).content.decode()
    assert "Supersedes" in body and older.get_absolute_url() in body and related.get_absolute_url() in body
    assert "Superseded by" in client.get(older.get_absolute_url()).content.decode()


# --- Create --------------------------------------------------------------------------------------


def test_member_creates_a_decision_with_option_rows(client, member, project):
    client.force_login(member)
    form_page = client.get(reverse("decision_create", args=[project.pk]))
    assert form_page.status_code == 200 and len(form_page.context["form"].option_rows) == 2
    data = {"title": "Which queue?", "question": "Which queue do we use?", "tags": "infra, queues, infra",
            **rows(("", "Redis streams", "Simple", "fast\n\n already here ", "memory bound"),
                   ("rmq", "RabbitMQ", "", "routing", ""),
                   ("", "", "", "", ""),
                   ("sqs", "SQS", "", "", "vendor lock-in"))}
    response = client.post(reverse("decision_create", args=[project.pk]), data)
    decision = Decision.objects.get(title="Which queue?")
    assert response["Location"] == decision.get_absolute_url()
    assert decision.options == [
        {"id": "redis-streams", "label": "Redis streams", "description": "Simple", "pros": ["fast", "already here"],
         "cons": ["memory bound"]},
        {"id": "rmq", "label": "RabbitMQ", "pros": ["routing"]},
        {"id": "sqs", "label": "SQS", "cons": ["vendor lock-in"]},
    ]
    assert decision.tags == ["infra", "queues"]
    assert (decision.state, decision.created_by) == (DecisionState.DRAFT, member)
    created = AuditEntry.objects.get(event_type=AuditEventType.ENTITY_CREATED, entity_id=str(decision.pk))
    assert created.actor == member and created.project_id == project.pk


def test_duplicate_option_ids_are_a_form_error_and_rows_are_kept(client, member, project):
    client.force_login(member)
    data = {"title": "Dupes", **rows(("x", "First", "", "", ""), ("x", "Second", "", "", ""))}
    response = client.post(reverse("decision_create", args=[project.pk]), data)
    form = response.context["form"]
    assert form.non_field_errors() == ["Options: Option ids must be unique; 'x' appears twice."]
    assert [row["label"] for row in form.option_rows] == ["First", "Second"]
    assert 'value="Second"' in response.content.decode()
    assert not Decision.objects.filter(title="Dupes").exists()


def test_an_option_without_a_label_is_a_form_error(client, member, project):
    client.force_login(member)
    response = client.post(reverse("decision_create", args=[project.pk]),
                           {"title": "No label", **rows(("lonely", "", "", "", ""))})
    assert response.context["form"].non_field_errors() == ["Options: Option 1 needs a non-empty id and label."]


def test_missing_title_and_bad_date_are_field_errors(client, member, project):
    client.force_login(member)
    response = client.post(reverse("decision_create", args=[project.pk]), {"title": "", "review_by": "tomorrow"})
    assert set(response.context["form"].errors) == {"title", "review_by"}


def test_viewer_cannot_open_the_create_form_and_the_refusal_is_audited(client, viewer, project):
    client.force_login(viewer)
    response = client.get(reverse("decision_create", args=[project.pk]))
    assert response.status_code == 403
    denied = AuditEntry.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.actor, denied.event_name) == (viewer, "project.decision_create")


def test_outsider_gets_404_on_the_create_form(client, outsider, project):
    client.force_login(outsider)
    assert client.get(reverse("decision_create", args=[project.pk])).status_code == 404


def test_closed_project_takes_no_new_decisions(client, owner):
    project = ProjectFactory(owner=owner, state=ProjectState.KILLED)
    client.force_login(owner)
    response = client.post(reverse("decision_create", args=[project.pk]), {"title": "Late"})
    assert response.context["form"].non_field_errors() == ["This project is killed; it takes no new decisions."]


def test_supersedes_must_be_a_decided_decision_of_the_project(client, owner, project):
    draft = DecisionFactory(project=project, title="Still a draft")
    decided = DecisionFactory(project=project, title="Decided", state=DecisionState.DECIDED)
    client.force_login(owner)
    form = client.get(reverse("decision_create", args=[project.pk])).context["form"]
    assert list(form.fields["supersedes"].queryset) == [decided]
    response = client.post(reverse("decision_create", args=[project.pk]), {"title": "New", "supersedes": draft.pk})
    assert "supersedes" in response.context["form"].errors
    client.post(reverse("decision_create", args=[project.pk]), {"title": "New", "supersedes": decided.pk,
                                                                 "related_decisions": [draft.pk]})
    new = Decision.objects.get(title="New")
    assert new.supersedes == decided and list(new.related_decisions.all()) == [draft]


# --- Edit and delete -----------------------------------------------------------------------------


def test_edit_form_starts_from_the_stored_options_plus_a_blank_row(client, member, project):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    form = client.get(reverse("decision_edit", args=[decision.pk])).context["form"]
    assert [row["id"] for row in form.option_rows] == ["a", "b", ""]
    assert form.initial["tags"] == "infra"


def test_member_edits_options_of_an_active_decision(client, member, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(member)
    data = {"title": "Renamed", "question": "Q?", "tags": "", **rows(("a", "A", "", "", ""), ("c", "C", "", "", ""))}
    response = client.post(reverse("decision_edit", args=[decision.pk]), data)
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.title == "Renamed" and [o["id"] for o in decision.options] == ["a", "c"] and decision.tags == []
    assert AuditEntry.objects.filter(event_type=AuditEventType.ENTITY_UPDATED, actor=member,
                                     entity_id=str(decision.pk)).exists()


def test_editing_keeps_an_unchanged_supersedes_link(client, owner, project):
    older = DecisionFactory(project=project, state=DecisionState.ARCHIVED)
    decision = DecisionFactory(project=project, supersedes=older)
    client.force_login(owner)
    data = {"title": "Still linked", "supersedes": older.pk, **rows(("a", "A", "", "", ""))}
    assert client.post(reverse("decision_edit", args=[decision.pk]), data).status_code == 302
    decision.refresh_from_db()
    assert decision.title == "Still linked" and decision.supersedes == older


def test_decided_decision_can_no_longer_be_edited(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.DECIDED)
    client.force_login(owner)
    assert "Edit</a>" not in client.get(decision.get_absolute_url()).content.decode()
    response = client.post(reverse("decision_edit", args=[decision.pk]), {"title": "Nope", **rows(("a", "A", "", "", ""))})
    assert response.context["form"].non_field_errors() == ["This decision is decided; it can no longer be edited."]


def test_viewer_cannot_edit(client, viewer, project):
    decision = DecisionFactory(project=project)
    client.force_login(viewer)
    assert client.get(reverse("decision_edit", args=[decision.pk])).status_code == 403
    assert AuditEntry.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, actor=viewer,
                                     event_name="decision.update").exists()


def test_member_deletes_a_draft_but_not_an_active_decision(client, member, project):
    draft = DecisionFactory(project=project)
    active = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(member)
    assert client.post(reverse("decision_delete", args=[draft.pk]))["Location"] == project.get_absolute_url()
    draft.refresh_from_db()
    assert draft.deleted_at is not None
    response = client.post(reverse("decision_delete", args=[active.pk]))
    assert messages_of(response)[-1] == "This decision is active; only drafts can be deleted."


# --- Transitions ---------------------------------------------------------------------------------


def test_member_activates_and_the_row_matches_every_other_surface(client, member, project):
    decision = DecisionFactory(project=project)
    client.force_login(member)
    response = client.post(transition_url(decision, "activate"), {"rationale": "Ready for review"})
    assert messages_of(response) == ["Activate done: the decision is now active."]
    decision.refresh_from_db()
    assert decision.state == DecisionState.ACTIVE
    entry = AuditEntry.objects.get(event_name="decision.activate")
    assert (entry.event_type, entry.actor, entry.success, entry.from_state, entry.to_state, entry.rationale,
            entry.project_id) == (AuditEventType.TRANSITION_SUCCESS, member, True, "draft", "active",
                                  "Ready for review", project.pk)


def test_activation_with_one_option_is_refused_naming_the_requirement(client, member, project):
    decision = DecisionFactory(project=project, options=[{"id": "only", "label": "Only"}])
    client.force_login(member)
    response = client.post(transition_url(decision, "activate"), {"rationale": "try"}, follow=True)
    body = response.content.decode()
    assert "Cannot activate yet: it needs at least two options." in body
    assert "has_two_options" not in body  # the machine name stays in the API and the audit row
    decision.refresh_from_db()
    assert decision.state == DecisionState.DRAFT
    denied = AuditEntry.objects.get(event_name="decision.activate")
    assert (denied.event_type, denied.success, denied.actor, denied.extra) == (
        AuditEventType.TRANSITION_DENIED, False, member, {"reason": "requirements", "missing": ["has_two_options"]}
    )


def test_owner_decides_with_an_option_and_a_rationale(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)
    response = client.post(transition_url(decision, "decide"), {"selected_option": "b", "rationale": "Cheaper"})
    assert messages_of(response) == ["Decide done: the decision is now decided."]
    decision.refresh_from_db()
    assert (decision.state, decision.selected_option, decision.rationale, decision.decided_by) == (
        DecisionState.DECIDED, "b", "Cheaper", owner)
    entry = AuditEntry.objects.get(event_name="decision.decide")
    assert (entry.event_type, entry.actor, entry.rationale) == (AuditEventType.TRANSITION_SUCCESS, owner, "Cheaper")


def test_deciding_without_a_rationale_warns_but_does_not_block(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)
    response = client.post(transition_url(decision, "decide"), {"selected_option": "a", "rationale": "  "})
    assert messages_of(response)[1].startswith("Decided without a rationale")
    decision.refresh_from_db()
    assert decision.state == DecisionState.DECIDED


def test_deciding_without_choosing_is_refused_and_recorded_like_the_api(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)
    response = client.post(transition_url(decision, "decide"), {"rationale": "hmm"})
    assert messages_of(response) == ["Cannot decide yet: it needs one of the options chosen (a, b)."]
    decision.refresh_from_db()
    assert decision.state == DecisionState.ACTIVE and decision.selected_option == ""
    denied = AuditEntry.objects.get(event_name="decision.decide")
    assert denied.event_type == AuditEventType.TRANSITION_DENIED and denied.extra["missing"] == [
        "has_valid_selected_option"]


def test_member_may_not_decide_and_it_is_one_permission_denied_row(client, member, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(member)
    response = client.post(transition_url(decision, "decide"), {"selected_option": "a"})
    assert messages_of(response) == ["You do not have permission to decide this decision."]
    rows_written = AuditEntry.objects.filter(event_name="decision.decide")
    assert [(r.event_type, r.actor) for r in rows_written] == [(AuditEventType.PERMISSION_DENIED, member)]


def test_deciding_a_superseding_decision_archives_the_older_one(client, owner, project):
    older = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    perform_transition(older, "decide", actor=owner, selected_option="a", rationale="first")
    newer = DecisionFactory(project=project, supersedes=older, state=DecisionState.ACTIVE)
    client.force_login(owner)
    client.post(transition_url(newer, "decide"), {"selected_option": "b", "rationale": "changed our mind"})
    older.refresh_from_db()
    assert older.state == DecisionState.ARCHIVED
    archived = AuditEntry.objects.get(event_name="decision.archive", entity_id=str(older.pk))
    assert archived.extra == {"superseded_by": str(newer.pk)}


def test_outsider_gets_404_and_leaves_no_row(client, outsider, project):
    decision = DecisionFactory(project=project)
    client.force_login(outsider)
    assert client.post(transition_url(decision, "activate")).status_code == 404
    assert not AuditEntry.objects.filter(event_name="decision.activate").exists()


def test_unknown_transition_is_a_404(client, owner, project):
    decision = DecisionFactory(project=project)
    client.force_login(owner)
    assert client.post(transition_url(decision, "frobnicate")).status_code == 404


# --- The rows <-> options conversion -------------------------------------------------------------


def test_rows_round_trip_the_stored_options():
    options = [{"id": "a", "label": "A", "description": "d", "pros": ["p1", "p2"], "cons": ["c"]},
               {"id": "b", "label": "B"}]
    assert options_from_rows(rows_from_options(options)) == options


def test_an_unlabelled_non_latin_option_id_falls_back_to_its_number():
    row = {"id": "", "label": "???", "description": "", "pros": "", "cons": ""}
    assert options_from_rows([row])[0]["id"] == "option-1"


def test_new_decision_form_starts_with_two_blank_option_rows(project, owner):
    form = DecisionForm(project=project, user=owner)
    assert not form.is_bound and len(form.option_rows) == 2


def test_each_transition_shows_its_requirements_and_is_disabled_until_they_hold(client, member, project):
    """A checklist in plain words, the button disabled with the reason, the diagram honest."""
    decision = DecisionFactory(project=project, question="", options=[{"id": "a", "label": "A"}])
    client.force_login(member)

    body = client.get(decision.get_absolute_url()).content.decode()

    assert "Draft → <strong>active</strong>" in body
    assert '<li class="check-missing">' in body and "A question" in body and "At least two options" in body
    assert "It needs a question and at least two options first." in body
    assert 'disabled aria-describedby="blocked-activate"' in body
    assert "active (reachable)" not in body  # not marked as a place it can go now

    decision.question, decision.options = "Which?", [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]
    decision.save()
    body = client.get(decision.get_absolute_url()).content.decode()
    assert "blocked-activate" not in body and "active (reachable)" in body
    assert body.count('<li class="check-met">') == 3


def test_a_refused_transition_reopens_with_what_the_user_sent(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)

    response = client.post(transition_url(decision, "decide"), {"rationale": "My long reasoning"}, follow=True)

    body = response.content.decode()
    assert '<details class="transition transition-decide" open>' in body
    assert ">My long reasoning</textarea>" in body
    # Once: the next visit shows the panel closed again.
    assert ">My long reasoning</textarea>" not in client.get(decision.get_absolute_url()).content.decode()


def test_the_list_shows_the_chosen_option_and_overdue_reviews(client, owner, project):
    """The decision list shows a decided decision's chosen option and flags an overdue review."""
    from datetime import timedelta

    from django.utils import timezone

    DecisionFactory(project=project, title="Picked", state=DecisionState.DECIDED, selected_option="b")
    DecisionFactory(project=project, title="Stale", review_by=timezone.localdate() - timedelta(days=3))
    client.force_login(owner)

    page = client.get(reverse("decision_list")).content.decode()

    assert "Chosen: <strong>Option B</strong>" in page
    assert "Review was due" in page and page.count("Review was due") == 1


def test_the_project_filter_tells_projects_of_the_same_name_apart(client, owner):
    from projects.services import project_create

    first = project_create(actor=owner, name="Quickstart")
    second = project_create(actor=owner, name="Quickstart")
    lone = project_create(actor=owner, name="Payments")
    assert first.slug != second.slug
    client.force_login(owner)
    for url in (reverse("decision_list"), reverse("audit_list")):
        page = client.get(url).content.decode()
        assert f">Quickstart ({first.slug})</option>" in page and f">Quickstart ({second.slug})</option>" in page
        assert f'<option value="{lone.pk}">Payments</option>' in page


def test_a_refused_decide_keeps_what_was_typed_next_to_the_form(client, owner, project):
    """The decide form comes back open, with the rationale, the chosen option and the refusal beside it
    (focused), not only at the top of the page; the options are required in the browser too."""
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)
    page = client.get(decision.get_absolute_url()).content.decode()
    assert 'name="selected_option" value="a" required>' in page and 'name="selected_option" value="b" required>' in page

    response = client.post(transition_url(decision, "decide"), {"rationale": "Cheaper to run, says finance."},
                           follow=True)
    body = response.content.decode()
    assert '<details class="transition transition-decide" open>' in body
    assert "Cheaper to run, says finance.</textarea>" in body
    assert 'id="refusal-decide">Cannot decide yet: it needs one of the options chosen (a, b).</p>' in body
    assert 'value="a" required autofocus' in body
    assert AuditEntry.objects.filter(event_name="decision.decide", success=False).count() == 1


def test_a_stale_decide_form_keeps_the_rationale_to_copy(client, owner, operator, project):
    """Another tab (or person) decided first: this decide can no longer run, and what was typed is kept."""
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    perform_transition(decision, "decide", actor=operator, selected_option="b", rationale="Ops call.")
    client.force_login(owner)
    response = client.post(transition_url(decision, "decide"),
                           {"selected_option": "a", "rationale": "A is what the team agreed on."}, follow=True)
    body = response.content.decode()
    decision.refresh_from_db()
    assert decision.selected_option == "b"
    assert 'class="lost-transition" role="alert"' in body
    assert '<textarea id="lost-rationale" rows="3" readonly>A is what the team agreed on.</textarea>' in body
    assert AuditEntry.objects.filter(event_name="decision.decide", success=False, actor=owner).count() == 1


def test_an_invalid_transition_form_keeps_its_rationale(client, owner, project):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    client.force_login(owner)
    too_long = "x" * 5001
    response = client.post(transition_url(decision, "archive"), {"rationale": too_long}, follow=True)
    body = response.content.decode()
    assert '<details class="transition transition-archive" open>' in body
    assert 'id="refusal-archive">Nothing was changed:' in body
    decision.refresh_from_db()
    assert decision.state == DecisionState.ACTIVE
