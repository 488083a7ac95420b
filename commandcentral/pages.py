"""Session login, logout, the dashboard and the project page: the pages that compose several apps."""

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.throttles import LoginThrottle
from accounts.tokens import end_sessions
from accounts.views import project_invitations
from core.access import can_edit_decisions, can_steer, role_of
from core.api.support import visible_project_or_404
from core.web.diagrams import activity_chart_svg
from core.web.live import requested_part
from core.web.transitions import refused_from, state_panel
from decisions.models import Decision
from decisions.selectors import awaiting_my_review, project_decisions
from projects import selectors as project_selectors
from projects.forms import TeamAddForm
from states.selectors import project_entities

from . import selectors


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class PageLoginView(LoginView):
    template_name = "registration/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        throttle = LoginThrottle()
        if not throttle.allow_request(request, self):
            response = self.render_to_response(self.get_context_data(throttled=True), status=429)
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        return super().post(request, *args, **kwargs)


def admin_login(request, extra_context=None):
    """The admin's login behind the same login throttle as the API and the page (429 with Retry-After)."""
    if request.method == "POST":
        throttle = LoginThrottle()
        if not throttle.allow_request(request, None):
            wait = int(throttle.wait() or 60)
            messages.error(request, f"Too many login attempts. Try again in {wait} seconds.")
            response = admin.site.login(_as_get(request), extra_context)
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
    return admin.site.login(request, extra_context)


def _as_get(request):
    """The same request, shown the empty login form instead of checking the posted password."""
    request.method = "GET"
    return request


@require_http_methods(["GET", "POST"])
def logout_view(request):
    """GET asks for confirmation (a link must not log anyone out); POST logs out."""
    if request.method == "POST":
        auth_logout(request)
        messages.info(request, "You have been logged out.")
        return redirect(settings.LOGOUT_REDIRECT_URL)
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return render(request, "registration/logout.html")


@login_required
@require_http_methods(["POST"])
def logout_everywhere(request):
    """Ends every browser session and API token of the user, this session included."""
    end_sessions(request.user, event_name="auth.logout_everywhere", actor=request.user, browsers=True,
                 reason="Logged out everywhere.", via="session")
    auth_logout(request)
    messages.info(request, "You have been logged out everywhere: every browser session and API token has ended.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@login_required
def dashboard(request):
    """The overview. Its counts are redrawn in place when the stream says something changed; its two
    timelines are announced ("3 new changes — show") and redrawn on request (`?partial=`)."""
    user = request.user
    part = requested_part(request, {"counts", "activity", "denied"})
    if part == "counts":
        return render(request, "_dashboard_counts.html", {"counts": selectors.dashboard_counts(user=user)})
    if part == "activity":
        return render(request, "_live_timeline.html", {
            "list_id": "activity-list", "entries": selectors.recent_activity(user=user), "show_project": True})
    if part == "denied":
        return render(request, "_live_timeline.html", {
            "list_id": "denied-list", "entries": selectors.recent_denied(user=user), "show_project": True,
            "empty": "No refused attempts."})
    return render(request, "dashboard.html", {
        "counts": selectors.dashboard_counts(user=user),
        "activity": selectors.recent_activity(user=user),
        "denied": selectors.recent_denied(user=user),
        "past_review": selectors.decisions_past_review(user=user),
        "awaiting_review": awaiting_my_review(user=user),
        "chart": activity_chart_svg(selectors.activity_per_day(user=user)),
        "live_match": {"denied": json.dumps({"success": False})},
    })


@login_required
def project_detail(request, pk):
    """A project with its state, team, decisions, tracked entities and timeline. Its badge and state panel
    are redrawn in place as the stream reports changes; its lists are announced and redrawn on request."""
    project = visible_project_or_404(request.user, pk)
    user = request.user
    part = requested_part(request, {"badge", "state", "decisions", "timeline"})
    if part == "badge":
        return render(request, "_live_badge.html", {"obj": project})
    if part == "state":
        return render(request, "_state_panel.html", {
            "obj": project, "transition_view": "project_transition", "obj_kind": "project",
            **state_panel(project, user)})
    if part == "decisions":
        return render(request, "projects/_decisions.html", {
            "decisions": project_decisions(project=project, user=user)})
    if part == "timeline":
        return render(request, "_live_timeline.html", {
            "list_id": "timeline-list", "entries": project_selectors.project_timeline(project=project, user=user)})
    return render(request, "projects/project_detail.html", {
        "project": project,
        **state_panel(project, user, **refused_from(request, project)),
        "can_steer": can_steer(project, user),
        "my_role": role_of(project, user),
        "can_contribute": can_edit_decisions(Decision(project=project), user) and not project.is_closed,
        "team": project_selectors.project_team(project=project),
        "team_form": TeamAddForm(),
        **project_invitations(project, user),
        "decisions": project_decisions(project=project, user=user),
        "timeline": project_selectors.project_timeline(project=project, user=user),
        "entities": project_entities(project=project, user=user),
        "live_match": {
            "decisions": json.dumps({"project": str(project.pk), "entity_type": "decision"}),
            "timeline": json.dumps({"project": str(project.pk)}),
        },
    })
