"""The notification pages: the list (/notifications/), the bell the header fetches again when the live
stream says the count changed, marking read, Watch/Unwatch on a project page, the mail's unsubscribe
page, and the link of an invitation's notification. Each parses and calls notifications.services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Invitation
from core.api.support import parse_uuid, visible_project_or_404
from core.errors import InvalidInput

from . import selectors, services
from .mail import sentence, user_of_unsubscribe_token

PAGE_SIZE = 25


@login_required
@require_GET
def notification_list(request):
    unread = request.GET.get("unread") in ("1", "true")
    page = Paginator(selectors.for_user(request.user, unread=unread), PAGE_SIZE).get_page(request.GET.get("page"))
    for notification in page.object_list:
        notification.sentence = sentence(notification)
    return render(request, "notifications/notification_list.html", {
        "page": page, "unread_only": unread, "unread": selectors.unread_count(request.user),
        "query": "unread=1" if unread else "",
    })


@login_required
@require_GET
def notification_bell(request):
    """The bell alone (htmx swaps it in when the live stream's `notifications` event arrives)."""
    return render(request, "notifications/_bell_link.html", {"unread": selectors.unread_count(request.user)})


@login_required
@require_POST
def notification_read(request):
    """Mark one (`id`) or all (`all`) of the caller's notifications read."""
    if request.POST.get("all"):
        marked = services.mark_read(user=request.user, ids=None)
        messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
        return redirect(_back(request))
    try:
        services.mark_read(user=request.user, ids=[int(request.POST.get("id", ""))])
    except (ValueError, InvalidInput):
        messages.error(request, "Nothing was marked read: no notification was named.")
    return redirect(_back(request))


def _back(request) -> str:
    back = reverse("notification_list")
    return f"{back}?unread=1" if request.POST.get("unread_only") else back


@login_required
@require_POST
def project_watch(request, pk):
    """Watch (`watch=1`) or stop watching (`watch=0`) a project the caller can see (else 404)."""
    project = visible_project_or_404(request.user, pk)
    if request.POST.get("watch") == "1":
        services.watch(project=project, actor=request.user)
        note = f"You are watching {project.name}: its transitions and decided decisions will reach you."
    else:
        services.unwatch(project=project, actor=request.user)
        note = f"You no longer watch {project.name}."
    if request.htmx:
        return render(request, "notifications/_watch_button.html",
                      {"project": project, "watching": services.is_watching(project, request.user)})
    messages.success(request, note)
    return redirect(project)


@csrf_exempt  # the signed token in the URL is the credential; mail clients' one-click POST (RFC 8058) has no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks, POST sets the mail preference of the token's person to none (no sign-in needed)."""
    user = user_of_unsubscribe_token(token)
    if user is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        try:
            services.set_email_preference(user=user, email="none")
        except InvalidInput:
            raise Http404 from None
        done = True
    return render(request, "notifications/unsubscribe.html", {"person": user, "done": done})


@login_required
@require_GET
def invitation_link(request, pk):
    """The link of an `invited` notification: the invitation's own page, whose token is made here for the
    person it invites (the notification stores no token). Anyone else: 404."""
    key = parse_uuid(pk)
    invitation = Invitation.objects.filter(pk=key, email__iexact=request.user.email).first() if key else None
    if invitation is None:
        raise Http404("No such invitation.")
    return redirect(invitation.link_path())
