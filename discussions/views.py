"""The comments section of the decision and project pages, loaded and posted with htmx; the same services
as the API. The pages include it with `hx-get` of these URLs, so the apps below import nothing from here."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.access import can_comment, can_edit_comment, can_hide_comments
from core.api.support import parse_uuid, visible_project_or_404
from core.errors import InvalidInput, require
from core.web.transitions import add_service_error

from .api import listed, visible_decision_or_404
from .models import BODY_MAX_LENGTH, Comment
from .services import MESSAGE_EDIT, comment_create, comment_delete, comment_update
from .throttles import CommentRateThrottle


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=BODY_MAX_LENGTH, strip=False,
                           widget=forms.Textarea(attrs={"rows": 4, "maxlength": BODY_MAX_LENGTH}),
                           help_text="Markdown. @handle mentions someone on this project's team.")


def _page_of(comment_or_project, decision=None) -> str:
    return (decision.get_absolute_url() if decision is not None else comment_or_project.get_absolute_url()) + "#comments"


def _with_rights(comments, project, user) -> list:
    comments = list(comments)
    for comment in comments:
        comment.project = project  # one project for the whole section: the rule asks nothing more per row
        comment.editable = can_edit_comment(comment, user)
    return comments


def _section(request, project, decision, url: str):
    user = request.user
    form = CommentForm(request.POST or None, auto_id=f"comment-%s-{(decision or project).pk}")
    status = 200
    if request.method == "POST":
        throttle = CommentRateThrottle()
        if not throttle.allow_request(request, None):
            form.add_error(None, f"You are commenting too fast; try again in {int(throttle.wait() or 60)} seconds.")
            status = 200 if request.htmx else 429  # htmx swaps in only a 2xx answer: the message must show
        elif form.is_valid():
            try:
                comment_create(actor=user, project=project, decision=decision, body=form.cleaned_data["body"])
            except InvalidInput as error:
                add_service_error(form, error)
            else:
                if not request.htmx:
                    return redirect(_page_of(project, decision))
                form = CommentForm(auto_id=form.auto_id)
    comments = listed(Comment.objects.filter(project=project, decision=decision))
    return render(request, "discussions/_comments.html", {
        "comments": _with_rights(comments, project, user), "form": form, "url": url, "project": project,
        "decision": decision, "can_comment": can_comment(project, user), "shows_hidden": can_hide_comments(user),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def decision_comments(request, pk):
    decision = visible_decision_or_404(request.user, pk)
    return _section(request, decision.project, decision, reverse("decision_comments", args=[decision.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def project_comments(request, pk):
    project = visible_project_or_404(request.user, pk)
    return _section(request, project, None, reverse("project_comments", args=[project.pk]))


def _visible_comment(request, pk) -> Comment:
    key = parse_uuid(pk)
    queryset = Comment.objects.visible_to(request.user).select_related("project", "decision", "author")
    comment = listed(queryset).filter(pk=key).first() if key else None
    if comment is None:
        raise Http404("No such comment.")
    return comment


def _one(request, comment, *, form=None, status=200):
    user = request.user
    comment.editable = can_edit_comment(comment, user)
    return render(request, "discussions/_comment.html", {
        "comment": comment, "edit_form": form, "shows_hidden": can_hide_comments(user),
    }, status=status)


@login_required
@require_http_methods(["GET"])
def comment_detail(request, pk):
    """One comment as the section shows it (the edit form's Cancel)."""
    return _one(request, _visible_comment(request, pk))


@login_required
@require_http_methods(["GET", "POST"])
def comment_edit(request, pk):
    comment = _visible_comment(request, pk)
    require(can_edit_comment(comment, request.user), actor=request.user, obj=comment, action="update",
            message=MESSAGE_EDIT)
    form = CommentForm(request.POST or None, initial={"body": comment.body}, auto_id=f"comment-%s-{comment.pk}")
    if request.method == "POST" and form.is_valid():
        try:
            comment = comment_update(comment=comment, actor=request.user, body=form.cleaned_data["body"])
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            if not request.htmx:
                return redirect(_page_of(comment.project, comment.decision))
            return _one(request, _visible_comment(request, comment.pk))
    return _one(request, comment, form=form)


@login_required
@require_POST
def comment_delete_view(request, pk):
    comment = _visible_comment(request, pk)
    back = _page_of(comment.project, comment.decision)
    comment_delete(comment=comment, actor=request.user)
    if not request.htmx:
        return redirect(back)
    return HttpResponse("")  # htmx swaps the comment out
