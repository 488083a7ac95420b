"""Login, logout, dashboard, error pages and CSRF on the browser pages."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from audit.models import AuditEntry, AuditEventType
from core.recording import record_event
from accounts.tests.factories import PASSWORD
from accounts.throttles import LoginThrottle
from core.transitions import TransitionForbidden, perform_transition
from decisions.models import DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import ProjectState

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def csrf_token_of(response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)


# --- Login and logout ----------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_login_with_next(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/"


def test_login_page_renders_an_email_field_and_a_csrf_token(client):
    response = client.get("/login?next=/projects/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'type="email"' in body and 'name="csrfmiddlewaretoken"' in body
    assert 'name="next" value="/projects/"' in body


def test_login_redirects_to_where_the_user_was_going_and_is_audited(client, member):
    response = client.post("/login", {"username": member.email, "password": PASSWORD, "next": "/projects/"})
    assert response.status_code == 302 and response["Location"] == "/projects/"
    entry = AuditEntry.objects.get(event_type=AuditEventType.AUTH_LOGIN)
    assert (entry.actor, entry.success, entry.event_name) == (member, True, "auth.login")


def test_login_ignores_an_offsite_next(client, member):
    response = client.post("/login", {"username": member.email, "password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")


def test_wrong_password_shows_an_error_and_records_auth_failed(client, member):
    response = client.post("/login", {"username": member.email, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct email" in response.content.decode()
    entry = AuditEntry.objects.get(event_type=AuditEventType.AUTH_FAILED)
    assert entry.success is False and entry.extra == {"email": member.email}
    assert "wrong" not in str(entry.extra) + entry.failure_reason


def test_login_page_is_throttled_like_the_api(client, member, monkeypatch):
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "2/min"})
    for _ in range(2):
        assert client.post("/login", {"username": member.email, "password": "wrong"}).status_code == 200
    response = client.post("/login", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many login attempts" in response.content.decode()
    assert not AuditEntry.objects.filter(event_type=AuditEventType.AUTH_LOGIN).exists()


def test_logged_in_user_visiting_login_goes_to_the_dashboard(client, member):
    client.force_login(member)
    assert client.get("/login")["Location"] == reverse("dashboard")


def test_logout_asks_on_get_and_logs_out_on_post(client, member):
    client.force_login(member)
    page = client.get("/logout")
    assert page.status_code == 200 and "Log out?" in page.content.decode()
    assert client.session.get("_auth_user_id")
    response = client.post("/logout")
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(event_type=AuditEventType.AUTH_LOGOUT, actor=member).count() == 1
    assert client.get("/logout")["Location"] == reverse("login")


# --- CSRF ----------------------------------------------------------------------------------------


def test_csrf_is_enforced_on_login_and_answered_with_our_page(member):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/login", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    token = csrf_token_of(csrf_client.get("/login"))
    response = csrf_client.post("/login", {"username": member.email, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_csrf_is_enforced_on_a_transition(owner, project):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    url = reverse("project_transition", args=[project.pk, "activate"])
    assert csrf_client.post(url, {"rationale": "no token"}).status_code == 403
    project.refresh_from_db()
    assert project.state == ProjectState.PROPOSED
    assert not AuditEntry.objects.filter(event_name="project.activate").exists()

    token = csrf_token_of(csrf_client.get(project.get_absolute_url()))
    response = csrf_client.post(url, {"rationale": "with token", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE


def test_htmx_requests_can_send_the_token_as_a_header(owner, project):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    token = csrf_token_of(csrf_client.get(project.get_absolute_url()))
    response = csrf_client.post(
        reverse("project_transition", args=[project.pk, "activate"]), {"rationale": "htmx"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE


# --- Layout --------------------------------------------------------------------------------------


def test_layout_ships_our_stylesheet_and_htmx_from_static_never_a_cdn(client, member):
    client.force_login(member)
    body = client.get(reverse("dashboard")).content.decode()
    assert "/static/css/site.css" in body
    assert re.search(r'<script src="/static/django_htmx/htmx-2[^"]*\.js"', body)
    assert not re.search(r'(src|href)="(https?:)?//', body)
    assert 'href="/api/v1/docs/"' in body


def test_admin_link_is_shown_to_operators_only(client, member, operator):
    client.force_login(member)
    assert 'href="/admin/"' not in client.get(reverse("dashboard")).content.decode()
    client.force_login(operator)
    assert 'href="/admin/"' in client.get(reverse("dashboard")).content.decode()


# --- Dashboard -----------------------------------------------------------------------------------


def test_dashboard_counts_only_what_the_user_can_see(client, project, member, outsider, operator):
    DecisionFactory(project=project)
    client.force_login(member)
    counts = client.get(reverse("dashboard")).context["counts"]
    assert dict(counts["projects"])[ProjectState.PROPOSED] == 1
    assert dict(counts["decisions"])[DecisionState.DRAFT] == 1
    client.force_login(outsider)
    counts = client.get(reverse("dashboard")).context["counts"]
    assert sum(n for _, n in counts["projects"]) == 0 and sum(n for _, n in counts["decisions"]) == 0
    assert [state for state, _ in counts["projects"]] == list(ProjectState.values)


def test_dashboard_shows_recent_activity_denied_attempts_and_the_chart(client, project, owner, member):
    perform_transition(project, "activate", actor=owner, rationale="go")
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "pause", actor=member)
    client.force_login(owner)
    response = client.get(reverse("dashboard"))
    body = response.content.decode()
    assert [e.event_name for e in response.context["denied"]] == ["project.pause"]
    assert "project.activate" in [e.event_name for e in response.context["activity"]]
    assert '<svg class="chart"' in body and "refused</title>" in body


def test_dashboard_lists_decisions_past_their_review_date(client, project, member):
    overdue = DecisionFactory(project=project, title="Overdue one", review_by=date.today() - timedelta(days=3))
    DecisionFactory(project=project, title="Not yet", review_by=date.today() + timedelta(days=3))
    client.force_login(member)
    response = client.get(reverse("dashboard"))
    assert response.context["past_review"] == [overdue]
    assert "Overdue one" in response.content.decode()


# --- Error pages ---------------------------------------------------------------------------------


def test_404_uses_our_template(client, member):
    client.force_login(member)
    response = client.get("/projects/not-a-uuid/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode() and "CommandCentral" in response.content.decode()


def test_500_uses_our_template_without_a_stack_trace():
    response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and "Traceback" not in body


def test_unexpected_error_in_a_page_renders_our_500(member, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("boom in a selector")

    monkeypatch.setattr("commandcentral.selectors.dashboard_counts", explode)
    client = Client(raise_request_exception=False)
    client.force_login(member)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 500
    assert "boom in a selector" not in response.content.decode()
    assert "Something went wrong on our side" in response.content.decode()


def test_audit_rows_of_other_projects_never_reach_the_dashboard(client, outsider, project, owner):
    record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="project.updated", actor=owner, obj=project)
    client.force_login(outsider)
    response = client.get(reverse("dashboard"))
    assert response.context["activity"] == []


def test_one_login_budget_for_the_api_the_page_and_the_admin(client, api_client, operator, monkeypatch):
    """Wrong passwords on any of the three surfaces spend the same budget; the admin
    answers 429 with Retry-After like the others, and its failed logins are audited."""
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "4/min"})
    assert api_client.post("/api/v1/auth/login/", {"email": operator.email, "password": "wrong"}, format="json").status_code == 401
    assert client.post("/login", {"username": operator.email, "password": "wrong"}).status_code == 200
    failed_before = AuditEntry.objects.filter(event_type=AuditEventType.AUTH_FAILED).count()
    for _ in range(2):
        assert client.post("/admin/login/", {"username": operator.email, "password": "wrong"}).status_code == 200
    assert AuditEntry.objects.filter(event_type=AuditEventType.AUTH_FAILED).count() == failed_before + 2
    assert AuditEntry.objects.filter(event_type=AuditEventType.AUTH_FAILED).first().extra == {"email": operator.email}
    # The budget (4) is spent: the right password is refused on every surface, and nothing logs in.
    response = client.post("/admin/login/?next=/admin/", {"username": operator.email, "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many login attempts" in response.content.decode()
    assert client.post("/login", {"username": operator.email, "password": PASSWORD}).status_code == 429
    assert api_client.post("/api/v1/auth/login/", {"email": operator.email, "password": PASSWORD}, format="json").status_code == 429
    assert not AuditEntry.objects.filter(event_type=AuditEventType.AUTH_LOGIN).exists()
    assert client.get("/admin/").status_code == 302  # still not logged in
