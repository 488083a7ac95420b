"""Account pages: invite and revoke (on a project's page), the account page, password change and reset.

Each page parses its form and calls the service (accounts.invitations, accounts.profile,
accounts.service_accounts, accounts.recovery), which checks who may and writes the audit rows.
"""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from core.access import can_steer, visible_projects
from core.api.support import parse_uuid, visible_project_or_404
from core.errors import ActionForbidden, Conflict, InvalidInput
from core.recording import AuditEventType, record_event

from . import forms
from .invitations import invitation_create, invitation_revoke, signup_open
from .models import Invitation
from .profile import profile_update
from .recovery import complete_password_reset
from .registration import register
from .service_accounts import personal_key_create, personal_key_revoke, personal_keys
from .throttles import InvitationThrottle, LoginThrottle


def throttled(request, throttle_class=LoginThrottle) -> int | None:
    """Seconds to wait when this client address is over the throttle's budget (counting this try), else None."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return None
    return int(throttle.wait() or 60)


def _too_many(request, wait: int):
    response = render(request, "429.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- Invitations on a project's page ------------------------------------------------------------


@login_required
@require_POST
def invite(request, pk):
    project = visible_project_or_404(request.user, pk)
    wait = throttled(request, InvitationThrottle)
    if wait is not None:
        messages.error(request, f"Too many invitations from your address. Try again in {wait} seconds.")
        return redirect(f"{project.get_absolute_url()}#invitations")
    form = forms.InvitationForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nobody was invited: {errors}")
        return redirect(f"{project.get_absolute_url()}#invitations")
    try:
        invitation = invitation_create(project=project, actor=request.user, site=request.build_absolute_uri("/"),
                                       **form.cleaned_data)
    except (ActionForbidden, Conflict, InvalidInput) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Invitation sent to {invitation.email} (as a {invitation.role}); its link works for "
                         "7 days.")
    return redirect(f"{project.get_absolute_url()}#invitations")


@login_required
@require_POST
def revoke(request, pk):
    key = parse_uuid(pk)
    invitation = (Invitation.objects.filter(pk=key, project__in=visible_projects(request.user))
                  .select_related("project").first() if key else None)
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        invitation_revoke(invitation=invitation, actor=request.user)
    except (ActionForbidden, Conflict) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked; its link no longer works.")
    return redirect(f"{invitation.project.get_absolute_url()}#invitations")


def project_invitations(project, user) -> dict:
    """What the project page shows of its invitations (owners and operators only): the form, the pending ones."""
    if not can_steer(project, user):
        return {}
    pending = Invitation.objects.pending().filter(project=project).select_related("invited_by")
    return {"invitation_form": forms.InvitationForm(), "pending_invitations": list(pending)}


# --- Sign-up ---------------------------------------------------------------------------------------


def sign_up(request):
    """An account for anyone while SIGNUP is open, otherwise for an invited address only (403, recorded).
    The answer for a taken address is the one for a new account: "log in with your new password"."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = forms.SignUpForm(request.POST or None)
    if request.method == "POST":
        wait = throttled(request)
        if wait is not None:
            return _too_many(request, wait)
        if form.is_valid():
            try:
                register(email=form.cleaned_data["email"], password=form.cleaned_data["password1"],
                         name=form.cleaned_data["name"])
            except ActionForbidden as error:
                return render(request, "registration/signup.html", {"form": form, "refused": error.message,
                                                                    "signup_open": signup_open()}, status=403)
            messages.success(request, "Your account is ready: log in with your email and new password.")
            return redirect("login")
    return render(request, "registration/signup.html", {"form": form, "signup_open": signup_open()},
                  status=400 if form.errors else 200)


# --- The account page ------------------------------------------------------------------------------


@login_required
def account(request):
    user = request.user
    profile_form = forms.ProfileForm(initial={"name": user.name, "handle": user.handle})
    notifications_form = forms.NotificationsForm(initial={"notifications": user.notifications})
    key_form = forms.PersonalKeyForm()
    new_key = None
    status = 200
    if request.method == "POST":
        section = request.POST.get("section")
        try:
            if section == "profile":
                profile_form = forms.ProfileForm(request.POST)
                if profile_form.is_valid():
                    profile_update(user=user, **profile_form.cleaned_data)
                    messages.success(request, "Your name and handle are saved.")
                    return redirect("account")
            elif section == "notifications":
                notifications_form = forms.NotificationsForm(request.POST)
                if notifications_form.is_valid():
                    profile_update(user=user, **notifications_form.cleaned_data)
                    messages.success(request, "Your notification preference is saved.")
                    return redirect("account")
            elif section == "key":
                key_form = forms.PersonalKeyForm(request.POST)
                if key_form.is_valid():
                    key, new_key = personal_key_create(user=user, **key_form.cleaned_data)
                    messages.success(request, f"Key {key.prefix} created. Copy it now: it is not shown again.")
                    key_form = forms.PersonalKeyForm()
            elif section == "revoke_key":
                key = personal_key_revoke(user=user, prefix=request.POST.get("prefix", ""))
                messages.success(request, f"Key {key.prefix} is revoked.")
                return redirect("account")
            else:
                raise InvalidInput("Unknown form.")
        except InvalidInput as error:
            form = {"profile": profile_form, "notifications": notifications_form, "key": key_form}.get(section)
            if form is not None and error.field in form.fields:
                form.add_error(error.field, error.message)
            else:
                messages.error(request, error.message)
        if new_key is None:
            status = 400
    return render(request, "registration/account.html", {
        "profile_form": profile_form,
        "notifications_form": notifications_form,
        "key_form": key_form,
        "new_key": new_key,
        "keys": personal_keys(user),
    }, status=status)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, on the account page's style; the change is recorded, and other sessions and API tokens end
    (User.save), while this session stays signed in."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form):
        response = super().form_valid(form)
        record_event(event_type=AuditEventType.AUTH_LOGIN, event_name="auth.password_changed", actor=self.request.user,
                     obj=self.request.user)
        update_session_auth_hash(self.request, form.user)
        messages.success(self.request, "Your password is changed; your API tokens elsewhere have ended.")
        return response


# --- Password reset (Django's views; the mail goes through the task worker) ---------------------------


class PasswordResetView(auth_views.PasswordResetView):
    form_class = forms.PasswordResetForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request, *args, **kwargs):
        wait = throttled(request)
        if wait is not None:
            response = self.render_to_response(self.get_context_data(form=self.get_form(), throttled=True), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def dispatch(self, *args, **kwargs):
        wait = throttled(self.request) if self.request.method == "POST" else None
        if wait is not None:
            return _too_many(self.request, wait)
        return super().dispatch(*args, **kwargs)

    def form_valid(self, form):
        complete_password_reset(user=form.user, password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return redirect(self.success_url)


def password_reset_done(request):
    return auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html")(request)


def password_reset_complete(request):
    return auth_views.PasswordResetCompleteView.as_view(
        template_name="registration/password_reset_complete.html",
        extra_context={"login_url": reverse("login")})(request)

