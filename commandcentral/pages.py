"""Session login, logout and the dashboard."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.throttling import SimpleRateThrottle

from . import selectors
from .web.diagrams import activity_chart_svg


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class LoginPageThrottle(SimpleRateThrottle):
    """The API's strict `login` rate applies to the page too: it must not be a way around it."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "login_page", "ident": request.client_ip or "unknown"}


class PageLoginView(LoginView):
    template_name = "registration/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        throttle = LoginPageThrottle()
        if not throttle.allow_request(request, self):
            response = self.render_to_response(self.get_context_data(throttled=True), status=429)
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        return super().post(request, *args, **kwargs)


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
def dashboard(request):
    user = request.user
    return render(request, "dashboard.html", {
        "counts": selectors.dashboard_counts(user=user),
        "activity": selectors.recent_activity(user=user),
        "denied": selectors.recent_denied(user=user),
        "past_review": selectors.decisions_past_review(user=user),
        "chart": activity_chart_svg(selectors.activity_per_day(user=user)),
    })
