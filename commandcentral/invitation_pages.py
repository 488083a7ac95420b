"""/invitations/<token>/: the page an invitation's mail links to. It composes accounts (the invitation,
the new account) and projects (the membership), so it lives with the site.

- a signed-in person with the invited address joins (one button);
- someone without an account sets a name and a password, and is signed in as the new member;
- someone whose address has an account logs in first (the login page brings them back here);
- a used, revoked or expired link is a 410 and an unknown one a 404, neither naming the project; a
  signed-in person with another address gets a 403 that does not name it either.
Every try counts against THROTTLE_INVITATION per client address (a token is a secret to guess).
"""

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import JoinForm
from accounts.invitations import invitation_accept, invitation_by_token, invitation_sign_up
from accounts.throttles import InvitationThrottle
from accounts.views import throttled
from core.errors import InvalidInput
from projects.services import membership_add


def _join(project, user, role) -> None:
    # The invitation is the permission: its owner or an operator made it (accounts.invitations checked
    # that); the rows name the person joining as the actor.
    membership_add(project=project, actor=user, user=user, role=role, from_shell=True)


def _gone(request, status: int, title: str, text: str):
    return render(request, "registration/invitation_gone.html", {"title": title, "text": text, "status": status},
                  status=status)


@require_http_methods(["GET", "POST"])
def invitation_page(request, token):
    wait = throttled(request, InvitationThrottle)
    if wait is not None:
        response = _gone(request, 429, "Too many tries", f"Too many tries from your address. Wait {wait} seconds and open the link again.")
        response["Retry-After"] = str(wait)
        return response
    invitation = invitation_by_token(token)
    if invitation is None:
        return _gone(request, 404, "No such invitation", "This invitation link is not valid. Check that you copied all of it.")
    if not invitation.is_pending:
        return _gone(request, 410, "This invitation link no longer works",
                     "It was used already, revoked, or it expired. Ask whoever invited you for a new one.")
    user = request.user
    if user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            return _gone(request, 403, "This invitation is for someone else",
                         "You are signed in with another address. Log out, then open the link again.")
        if request.method == "POST":
            try:
                invitation_accept(invitation=invitation, user=user, join=_join)
            except InvalidInput as error:
                messages.error(request, error.message)
                return redirect(request.path)
            messages.success(request, f"You joined {invitation.project.name} as a {invitation.role}.")
            return redirect(invitation.project)
        return render(request, "registration/invitation.html", {"invitation": invitation, "mode": "join"})
    if get_user_model().objects.filter(email__iexact=invitation.email).exists():
        return render(request, "registration/invitation.html", {"invitation": invitation, "mode": "login"})
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = invitation_sign_up(invitation=invitation, name=form.cleaned_data["name"],
                                          password=form.cleaned_data["password1"], join=_join)
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome! You joined {invitation.project.name} as a {invitation.role}.")
            return redirect(invitation.project)
    return render(request, "registration/invitation.html", {"invitation": invitation, "mode": "signup", "form": form},
                  status=400 if form.errors else 200)
