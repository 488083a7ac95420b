"""Session login, logout and the dashboard."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.throttling import SimpleRateThrottle

from . import selectors
from .diagrams import activity_chart_svg, state_machine_svg
from .forms import RationaleForm
from .core.transitions import (
    RequirementsMissing,
    TransitionRefused,
    UnknownTransition,
    allowed_transitions,
    perform_transition,
    transition_specs,
)

# Plain words for the requirement predicates a refusal names (the names themselves stay in the message,
# as the API reports them).
REQUIREMENT_TEXT = {
    "has_question": "a question",
    "has_two_options": "at least two options",
    "has_valid_selected_option": "one of the options chosen",
    "has_open_project": "a project that is not completed or killed",
}


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


def state_panel(obj, user) -> dict:
    """What a page shows about an object's lifecycle: its transitions for this user and the drawing."""
    allowed = allowed_transitions(obj, user)
    return {
        "allowed_transitions": allowed,
        "is_final_state": not any(obj.state in spec.sources for spec in transition_specs(type(obj)).values()),
        "machine_svg": state_machine_svg(type(obj), current=obj.state, allowed=allowed),
        "rationale_form": RationaleForm(),
    }


def refusal_message(refused: TransitionRefused) -> str:
    if isinstance(refused, RequirementsMissing):
        needed = ", ".join(REQUIREMENT_TEXT.get(name, name) for name in refused.missing)
        return f"{refused.message} It needs {needed}."
    return refused.message


def run_transition(request, obj, name: str, form) -> bool:
    """Run transition `name` from a page POST; the outcome is reported through django messages."""
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was changed: {errors}")
        return False
    try:
        perform_transition(obj, name, actor=request.user, **form.cleaned_data)
    except UnknownTransition:
        raise Http404("No such transition.")
    except TransitionRefused as refused:
        messages.error(request, refusal_message(refused))
        return False
    entity = obj._meta.verbose_name
    messages.success(request, f"{name.capitalize()} done: the {entity} is now {obj.state}.")
    return True


def add_service_error(form, error) -> None:
    """Show a service's Conflict / InvalidInput on the form, on its field when the form has one."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, error.message)
