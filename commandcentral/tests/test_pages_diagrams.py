"""The SVG drawings: derived from the FSM declarations, marked for the current user; the activity chart."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEventType
from core.recording import record_event
from commandcentral import selectors
from core.web.diagrams import activity_chart_svg, machine_of, state_machine_svg
from core.transitions import transition_specs
from decisions.models import Decision, DecisionState
from projects.models import Project, ProjectState


@pytest.mark.parametrize("model", [Project, Decision])
def test_machine_has_exactly_the_states_and_arrows_the_fsm_declares(model):
    states, edges, initial = machine_of(model)
    declared = {(source, spec.target, spec.name) for spec in transition_specs(model).values() for source in spec.sources}
    assert {(e.source, e.target, e.name) for e in edges} == declared
    assert set(states) == {s for s, t, _ in declared} | {t for s, t, _ in declared}
    assert initial == model._meta.get_field("state").default

    svg = state_machine_svg(model, current=initial)
    assert sorted(re.findall(r'data-state="([a-z_]+)"', svg)) == sorted(states)
    assert svg.count("<line ") == len(declared)


def test_machine_marks_the_current_state_and_what_this_user_can_reach():
    svg = state_machine_svg(Project, current=ProjectState.ACTIVE, allowed=["pause", "kill"])
    assert re.search(r'class="state state-current" data-state="active"', svg)
    reachable = set(re.findall(r'class="state state-reachable[^"]*" data-state="([a-z]+)"', svg))
    assert reachable == {"paused", "killed"}
    # completed is reachable by the FSM but not offered to this user: not highlighted.
    assert re.search(r'class="state state-terminal" data-state="completed"', svg)
    assert svg.count('class="edge edge-available"') == 2


def test_machine_with_no_allowed_transitions_highlights_nothing():
    svg = state_machine_svg(Decision, current=DecisionState.ACTIVE, allowed=[])
    assert "state-reachable" not in svg and "edge-available" not in svg
    assert "current state: active" in svg


def test_machine_escapes_the_state_it_is_given():
    svg = state_machine_svg(Project, current="<script>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_activity_chart_draws_one_bar_per_day_with_totals():
    today = date(2026, 1, 31)
    days = [(today - timedelta(days=2), 3, 1), (today - timedelta(days=1), 0, 0), (today, 12, 2)]
    svg = activity_chart_svg(days)
    assert svg.count('<g class="bar">') == 3
    assert "2026-01-31: 12 ok, 2 refused" in svg
    assert "over 3 days: 18 events, 3 refused" in svg
    assert ">20</text>" in svg  # the axis top is rounded up to a readable number


def test_activity_chart_of_nothing_is_empty():
    assert activity_chart_svg([]) == ""
    assert '<g class="bar">' in activity_chart_svg([(date(2026, 1, 1), 0, 0)])


@pytest.mark.django_db
def test_activity_per_day_counts_visible_rows_per_day(project, owner, outsider):
    record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="project.updated", actor=owner, obj=project)
    record_event(event_type=AuditEventType.PERMISSION_DENIED, event_name="project.update", actor=owner, obj=project,
                 success=False)
    days = selectors.activity_per_day(user=owner, days=7)
    assert len(days) == 7 and days[-1][0] == timezone.localdate()
    assert days[-1][1:] >= (1, 1) and all(day[1:] == (0, 0) for day in days[:-1])
    assert sum(ok + denied for _, ok, denied in selectors.activity_per_day(user=outsider, days=7)) == 0
