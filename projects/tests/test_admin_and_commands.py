import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from accounts.models import User
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import Project, ProjectState
from projects.services import project_soft_delete


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def test_admin_transition_button_goes_through_the_one_path(admin_client, project, operator):
    change_url = reverse("admin:projects_project_change", args=[project.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200 and b"activate" in page.content
    # The button asks for a rationale on django-fsm-2's transition form.
    form_url = reverse("admin:projects_project_transition", args=[project.pk, "activate"])
    response = admin_client.post(form_url, {"rationale": "from the admin"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE
    row = AuditEntry.objects.get(event_type="transition_success")
    assert (row.event_name, row.actor, row.rationale) == ("project.activate", operator, "from the admin")


def test_admin_transition_refused_leaves_a_denied_row(admin_client, project, operator):
    form_url = reverse("admin:projects_project_transition", args=[project.pk, "pause"])
    admin_client.post(form_url, {"rationale": "too early"})
    project.refresh_from_db()
    assert project.state == ProjectState.PROPOSED
    row = AuditEntry.objects.get(event_type="transition_denied")
    assert (row.event_name, row.actor, row.from_state) == ("project.pause", operator, "proposed")


def test_admin_change_page_button_post_applies_transition(admin_client, project):
    # Without a form configured the button POSTs to the change view itself.
    from projects.admin import ProjectAdmin

    original = ProjectAdmin.fsm_forms
    ProjectAdmin.fsm_forms = {}
    try:
        change_url = reverse("admin:projects_project_change", args=[project.pk])
        data = {"name": project.name, "slug": project.slug, "description": "", "owner": project.owner_id,
                "settings": "{}", "metadata": "{}", "repo_path": "", "repo_url": "", "_fsm_transition_to": "kill",
                "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
        admin_client.post(change_url, data)
    finally:
        ProjectAdmin.fsm_forms = original
    assert Project.objects.get(pk=project.pk).state == ProjectState.KILLED
    assert AuditEntry.objects.filter(event_name="project.kill", event_type="transition_success").exists()


def test_admin_decide_form_takes_the_option(admin_client, project, owner):
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    url = reverse("admin:decisions_decision_transition", args=[decision.pk, "decide"])
    admin_client.post(url, {"selected_option": "b", "rationale": "admin"})
    decision.refresh_from_db()
    assert (decision.state, decision.selected_option) == (DecisionState.DECIDED, "b")


def test_admin_lists_soft_deleted_behind_a_filter_and_restores(admin_client, project, owner):
    project_soft_delete(project=project, actor=owner)
    changelist = reverse("admin:projects_project_changelist")
    assert project.name.encode() not in admin_client.get(changelist).content
    assert project.name.encode() in admin_client.get(changelist + "?deleted=deleted").content
    admin_client.post(changelist + "?deleted=deleted", {"action": "restore_selected", "_selected_action": [project.pk]})
    assert Project.objects.get(pk=project.pk).deleted_at is None


def test_admin_pages_render_for_every_model(admin_client, project):
    DecisionFactory(project=project)
    for name in ("accounts_user", "projects_project", "projects_membership", "decisions_decision", "audit_auditentry"):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name


def test_transition_command_runs_the_same_path(project, owner):
    out = io.StringIO()
    call_command("transition", "project", str(project.pk), "activate", "--actor", owner.email,
                 "--rationale", "shell", "--correlation-id", "cli-1", stdout=out)
    assert "proposed -> active" in out.getvalue()
    row = AuditEntry.objects.get(event_type="transition_success")
    assert (row.actor, row.rationale, row.cid) == (owner, "shell", "cli-1")


def test_transition_command_refusals_are_command_errors_and_recorded(project, member, owner):
    with pytest.raises(CommandError, match="permission"):
        call_command("transition", "project", str(project.pk), "activate", "--actor", member.email)
    assert AuditEntry.objects.filter(event_type="permission_denied", actor=member).exists()
    with pytest.raises(CommandError, match="No project"):
        call_command("transition", "project", "not-a-uuid", "activate", "--actor", owner.email)
    with pytest.raises(CommandError, match="No active user"):
        call_command("transition", "project", str(project.pk), "activate", "--actor", "ghost@example.com")
    decision = DecisionFactory(project=project, state=DecisionState.ACTIVE)
    with pytest.raises(CommandError) as refused:
        call_command("transition", "decision", str(decision.pk), "decide", "--option", "kafka", "--actor", owner.email)
    # The words a person reads, with no HTTP status: a command is not an HTTP client.
    assert "'kafka' is not an option of this decision: a, b" in str(refused.value)
    assert "HTTP" not in str(refused.value) and "400" not in str(refused.value)
    assert AuditEntry.objects.get(event_type="transition_denied", transition="decide").actor == owner
    call_command("transition", "decision", str(decision.pk), "decide", "--option", "a", "--actor", owner.email,
                 stdout=io.StringIO())
    assert Decision.objects.get(pk=decision.pk).state == DecisionState.DECIDED


def test_seed_demo_builds_real_history_and_is_idempotent(db):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    assert "admin@example.com" in out.getvalue()
    assert User.objects.get(email="admin@example.com").is_staff
    counts = (Project.objects.count(), Decision.objects.count(), AuditEntry.objects.count())
    assert counts[0] == 6 and counts[1] > 0
    assert AuditEntry.objects.filter(event_type="transition_success", actor__isnull=False).count() > 6
    open_projects = Project.objects.exclude(state__in=["completed", "killed"]).count()
    assert AuditEntry.objects.filter(event_type="permission_denied").count() == open_projects > 0
    call_command("seed_demo", stdout=io.StringIO())
    assert (Project.objects.count(), Decision.objects.count(), AuditEntry.objects.count()) == counts


def test_seed_demo_says_what_it_made_and_tracks_entities(db):
    """The summary counts what exists (a project that never opened has no decisions), and /states/ starts
    with entities that moved through their machines, each move an audit row."""
    from states.models import EntityState

    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    with_decisions = Project.objects.filter(decisions__isnull=False).distinct().count()
    entities = EntityState.objects.count()
    assert 0 < with_decisions < Project.objects.count() and entities > 0
    assert (f"Seeded 6 projects; {with_decisions} open projects have {Decision.objects.count()} decisions "
            f"and {entities} tracked entities in all.") in out.getvalue()
    assert EntityState.objects.filter(entity_id="ship-the-api", current_state="review").count() == with_decisions
    assert AuditEntry.objects.filter(event_name="task.transition", success=True).count() == 4 * with_decisions


def test_graph_transitions_still_draws_both_machines(db):
    out = io.StringIO()
    call_command("graph_transitions", "projects.Project", "decisions.Decision", stdout=out)
    dot = out.getvalue()
    assert dot.startswith("digraph")
    for label in ("activate", "pause", "resume", "complete", "kill", "decide", "archive"):
        assert f"label={label}" in dot


def test_transition_command_takes_a_project_slug(project, owner):
    """`transition project <slug> activate` as the README shows it."""
    out = io.StringIO()
    call_command("transition", "project", project.slug, "activate", "--actor", owner.email, "--rationale", "go", stdout=out)

    assert Project.objects.get(pk=project.pk).state == ProjectState.ACTIVE
    assert "proposed -> active" in out.getvalue()
    with pytest.raises(CommandError, match="No project no-such-slug visible"):
        call_command("transition", "project", "no-such-slug", "pause", "--actor", owner.email)


def test_seed_demo_tells_a_believable_story(db):
    """The demo history has no "active → active" refusals, no kill whose rationale says kick-off."""
    call_command("seed_demo", "--projects", "6", "--decisions", "3", stdout=io.StringIO(), stderr=io.StringIO())

    rows = AuditEntry.objects.filter(event_name__startswith="project.")
    assert not rows.filter(from_state="active", to_state="active").exists()
    assert not rows.filter(event_name="project.kill", rationale__icontains="kick-off").exists()
    assert rows.filter(event_name="project.kill", success=True).exists()
    assert rows.filter(success=False).exclude(from_state=None).exists()


@pytest.mark.django_db
def test_demo_data_shows_a_team_governing_together():
    """seed_demo leaves a pending and a revoked invitation, a discussed decision decided after two approvals,
    one blocked by an objection (its refused decide recorded) and one waiting for the member's review."""
    from accounts.models import Invitation
    from decisions.models import Decision
    from discussions.models import Comment

    call_command("seed_demo", stdout=io.StringIO())
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["contractor@example.com", "newcomer@example.com"]
    approved = Decision.objects.get(title="Adopt PostgreSQL for production")
    assert approved.state == "decided" and approved.reviews.filter(verdict="approve").count() == 2
    assert Comment.objects.filter(decision=approved).count() == 2
    blocked = Decision.objects.get(title="Move CI to self-hosted runners")
    assert blocked.state == "active"
    assert AuditEntry.objects.filter(event_name="decision.decide", entity_id=str(blocked.pk), success=False).exists()
    assert Decision.objects.get(title="Adopt trunk-based development").reviewers.filter(email="member@example.com").exists()
