"""The live parts of the pages (`?partial=`), through the test client and the real middleware: each is
the fragment the full page shows, from the same visibility rules (a hidden project's part is a 404), and
reading one writes no audit row. The browser side is test_live_browser.py."""

import json
import re

import pytest
from django.test import override_settings

from audit.models import AuditEntry
from core.transitions import TransitionForbidden, perform_transition
from decisions.models import Decision
from decisions.tests.factories import DecisionFactory
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def get(client, url, **params):
    """GET `url` and assert that reading it wrote no audit row."""
    before = AuditEntry.objects.count()
    response = client.get(url, params)
    assert AuditEntry.objects.count() == before, "a read wrote an audit row"
    return response


def is_fragment(response) -> bool:
    body = response.content.decode()
    return "<html" not in body and "<body" not in body


def live_match(body: str, target: str) -> dict:
    """The data-live-match of the announcement that counts rows for `target`."""
    region = re.search(rf'<div class="live-news"[^>]*data-live-news="{re.escape(target)}"[^>]*>', body).group(0)
    found = re.search(r'data-live-match="([^"]*)"', region)
    return json.loads(found.group(1).replace("&quot;", '"')) if found else {}


# --- The stream connection -------------------------------------------------------------------------


@override_settings(LIVE_STREAM_URL="http://127.0.0.1:9/api/v1/events/stream/")
def test_a_signed_in_page_follows_the_stream_of_its_project_and_a_signed_out_one_none(client, project, member):
    body = get(client, "/login").content.decode()
    assert "sse-connect" not in body
    client.force_login(member)
    body = get(client, "/").content.decode()
    assert 'hx-ext="sse" sse-connect="http://127.0.0.1:9/api/v1/events/stream/?as=change"' in body
    assert "/static/django_htmx/ext/hx-sse-2.min.js" in body and "/static/js/live.js" in body
    body = get(client, project.get_absolute_url()).content.decode()
    assert f'sse-connect="http://127.0.0.1:9/api/v1/events/stream/?as=change&amp;project={project.pk}"' in body


def test_without_a_stream_url_pages_stay_static(client, member):
    client.force_login(member)
    with override_settings(LIVE_STREAM_URL=""):
        body = get(client, "/").content.decode()
    assert "sse-connect" not in body and 'hx-ext="sse"' not in body


# --- Dashboard ---------------------------------------------------------------------------------------


def test_dashboard_counts_are_redrawn_in_place_and_its_timelines_announced(client, project, owner, member):
    perform_transition(project, "activate", actor=owner, rationale="go")
    refused = ProjectFactory(owner=owner, name="Not theirs")
    with pytest.raises(TransitionForbidden):
        perform_transition(refused, "activate", actor=member)
    client.force_login(member)
    page = get(client, "/").content.decode()
    assert 'id="dashboard-counts" hx-get="/?partial=counts"' in page
    # Drawn at the newest row the member may read, not the newest of all (the refusal on a hidden project).
    newest = AuditEntry.objects.visible_to(member).order_by("-id").first().id
    assert newest < AuditEntry.objects.order_by("-id").first().id
    assert f'id="activity-list" class="live-list" data-live-since="{newest}"' in page
    assert live_match(page, "#denied-list") == {"success": False}
    assert live_match(page, "#activity-list") == {}

    counts = get(client, "/", partial="counts")
    assert counts.status_code == 200 and is_fragment(counts)
    body = counts.content.decode()
    assert body.lstrip().startswith("<div") and 'id="dashboard-counts"' in body
    assert re.search(r'data-state="active">active</span>\s*<strong>1</strong>', body)

    activity = get(client, "/", partial="activity").content.decode()
    assert 'id="activity-list"' in activity and 'data-event="project.activate"' in activity
    denied = get(client, "/", partial="denied").content.decode()
    assert 'id="denied-list"' in denied and "project.activate" not in denied  # not a project the member sees


def test_an_unknown_part_is_a_400_not_a_page(client, member, project):
    client.force_login(member)
    for url in ("/", project.get_absolute_url(), "/audit/"):
        response = get(client, url, partial="everything")
        assert response.status_code == 400, url


# --- Project page ------------------------------------------------------------------------------------


def test_project_parts_are_the_fragments_the_page_shows(client, project, owner, member):
    decision = DecisionFactory(project=project, title="Pick a queue")
    perform_transition(project, "activate", actor=owner, rationale="Ready to go")
    client.force_login(member)
    url = project.get_absolute_url()
    page = get(client, url).content.decode()
    assert f'<span id="state-badge" hx-get="{url}?partial=badge" hx-trigger="sse:change delay:500ms"' in page
    assert 'id="state-panel"' in page and "data-live-guard" in page
    assert live_match(page, "#decision-list") == {"project": str(project.pk), "entity_type": "decision"}
    assert live_match(page, "#timeline-list") == {"project": str(project.pk)}

    badge = get(client, url, partial="badge")
    assert is_fragment(badge) and 'data-state="active"' in badge.content.decode()
    state = get(client, url, partial="state").content.decode()
    assert state.lstrip().startswith("<section") and 'id="state-panel"' in state and "data-live-guard" in state
    assert "Current state:" in state and "<html" not in state
    decisions = get(client, url, partial="decisions").content.decode()
    assert 'id="decision-list"' in decisions and "Pick a queue" in decisions and decision.get_absolute_url() in decisions
    timeline = get(client, url, partial="timeline").content.decode()
    assert 'id="timeline-list"' in timeline and "Ready to go" in timeline


def test_the_state_part_offers_the_transitions_of_the_reader(client, project, owner, viewer):
    url = project.get_absolute_url()
    client.force_login(owner)
    assert "transition-activate" in get(client, url, partial="state").content.decode()
    client.force_login(viewer)
    state = get(client, url, partial="state").content.decode()
    assert "transition-activate" not in state and "does not let you change" in state


def test_a_hidden_projects_parts_are_404_to_an_outsider(client, project, outsider):
    decision = DecisionFactory(project=project)
    client.force_login(outsider)
    for part in ("badge", "state", "decisions", "timeline"):
        assert get(client, project.get_absolute_url(), partial=part).status_code == 404, part
    for part in ("badge", "summary", "reviews", "state", "timeline"):
        assert get(client, decision.get_absolute_url(), partial=part).status_code == 404, part


# --- Decision page -----------------------------------------------------------------------------------


def test_decision_parts_are_the_fragments_the_page_shows(client, project, owner, member):
    perform_transition(project, "activate", actor=owner, rationale="go")
    decision = DecisionFactory(project=project, title="Pick a database", context="We weigh **durability**.")
    decision.reviewers.add(member)
    perform_transition(decision, "activate", actor=owner, rationale="Ready for review")
    client.force_login(member)
    url = decision.get_absolute_url()
    page = get(client, url).content.decode()
    assert 'sse-connect' not in page  # the suite runs without a stream (test_settings)
    assert 'id="summary"' in page and 'id="reviews"' in page and 'id="state-badge"' in page
    assert live_match(page, "#timeline-list") == {"entity_type": "decision", "entity_id": str(decision.pk)}
    assert live_match(page, "#comments") == {"project": str(project.pk), "entity_type": "comment"}
    assert f'data-live-mentions="{decision.pk}"' in page

    summary = get(client, url, partial="summary").content.decode()
    assert 'id="summary"' in summary and "<strong>durability</strong>" in summary and "<html" not in summary
    reviews = get(client, url, partial="reviews").content.decode()
    assert 'id="reviews"' in reviews and "data-live-guard" in reviews
    assert "Record my verdict" in reviews  # the member is a reviewer of an active decision
    state = get(client, url, partial="state").content.decode()
    assert 'data-state="active"' in state and "transition-decide" not in state  # deciding is the owner's
    timeline = get(client, url, partial="timeline").content.decode()
    assert 'id="timeline-list"' in timeline and "Ready for review" in timeline
    assert 'data-state="active"' in get(client, url, partial="badge").content.decode()


def test_a_deleted_decisions_parts_are_gone(client, project, owner):
    decision = DecisionFactory(project=project)
    Decision.objects.filter(pk=decision.pk).update(deleted_at="2026-01-01T00:00:00Z")
    client.force_login(owner)
    assert get(client, decision.get_absolute_url(), partial="badge").status_code == 404


# --- Audit log ---------------------------------------------------------------------------------------


def test_audit_rows_part_keeps_the_filters_and_the_visibility(client, project, owner, member):
    perform_transition(project, "activate", actor=owner, rationale="Visible start")
    hidden = ProjectFactory(name="Elsewhere")
    perform_transition(hidden, "activate", actor=hidden.owner, rationale="Hidden start")
    client.force_login(member)
    page = get(client, "/audit/", project=str(project.pk), success="true").content.decode()
    assert live_match(page, "#audit-rows-list") == {"project": [str(project.pk)], "success": ["true"]}
    assert f'hx-get="?project={project.pk}&amp;success=true&amp;partial=rows"' in page

    rows = get(client, "/audit/", project=str(project.pk), success="true", partial="rows")
    body = rows.content.decode()
    assert is_fragment(rows) and 'id="audit-rows-list"' in body
    assert "Visible start" in body and "Hidden start" not in body
    everything = get(client, "/audit/", partial="rows").content.decode()
    assert "Visible start" in everything and "Hidden start" not in everything


def test_an_older_audit_page_announces_nothing(client, project, owner):
    perform_transition(project, "activate", actor=owner, rationale="go")
    client.force_login(owner)
    newest = AuditEntry.objects.order_by("-id").first().id
    assert 'class="live-news"' in get(client, "/audit/").content.decode()
    assert 'class="live-news"' not in get(client, "/audit/", before=str(newest)).content.decode()
    assert 'class="live-news"' not in get(client, "/audit/", until="2026-01-01").content.decode()
