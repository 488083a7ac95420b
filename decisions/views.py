"""Decision pages. Lookups start from Decision.objects.visible_to(user): hidden → 404."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import AuditEntry
from core.api.support import visible_project_or_404
from core.errors import Conflict, InvalidInput, require
from core.web.forms import RationaleForm
from core.web.live import requested_part
from core.web.transitions import refused_from, add_service_error, run_transition, state_panel
from projects.models import Project

from . import services
from .filters import DecisionFilter
from .forms import DecidePageForm, DecisionForm, ReviewForm
from core.access import can_edit_decisions, can_govern_decisions, can_review, eligible_reviewers
from core.web.soft_delete import SoftDeletePages

from .models import Decision, DecisionState, Verdict

PAGE_SIZE = 25
EDIT_MESSAGE = "Only the owner, members or an operator can create and edit decisions in this project."


def _visible_decision(request, pk) -> Decision:
    queryset = Decision.objects.visible_to(request.user).select_related(
        "project", "project__owner", "created_by", "decided_by", "supersedes"
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
def decision_list(request):
    queryset = Decision.objects.visible_to(request.user).select_related("project").order_by("-created_at")
    filterset = DecisionFilter(request.GET, queryset=queryset)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "decisions/decision_list.html", {
        "filter": filterset, "page": page, "query": query.urlencode(), "states": DecisionState.choices,
        "projects": Project.objects.visible_to(request.user).order_by("name", "slug").only("pk", "name", "slug"),
    })


@login_required
def decision_create(request, project_pk):
    project = visible_project_or_404(request.user, project_pk)
    require(can_edit_decisions(Decision(project=project), request.user), actor=request.user, obj=project,
            action="decision_create", message=EDIT_MESSAGE)
    form = DecisionForm(request.POST or None, project=project, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            decision = services.decision_create(actor=request.user, project=project, **form.changes())
        except (Conflict, InvalidInput) as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Decision '{decision.title}' created as a draft.")
            return redirect(decision)
    return render(request, "decisions/decision_form.html", {"form": form, "project": project})


@login_required
def decision_detail(request, pk):
    """A decision with its options, reviews, lifecycle, comments and audit. The badge, the summary, the
    reviews and the state panel are redrawn in place as the stream reports changes (`?partial=`); new
    comments and audit rows are announced and shown on request."""
    decision = _visible_decision(request, pk)
    user = request.user
    part = requested_part(request, {"badge", "summary", "reviews", "state", "timeline"})
    if part == "badge":
        return render(request, "_live_badge.html", {"obj": decision})
    if part == "summary":
        return render(request, "decisions/_summary.html", {"decision": decision, "project": decision.project})
    if part == "reviews":
        return render(request, "decisions/_reviews.html", {"decision": decision, **review_panel(decision, user)})
    if part == "state":
        return render(request, "_state_panel.html", {
            "obj": decision, "transition_view": "decision_transition", "obj_kind": "decision",
            **state_panel(decision, user)})
    if part == "timeline":
        return render(request, "_live_timeline.html", {"list_id": "timeline-list", "entries": _timeline(decision, user)})
    return render(request, "decisions/decision_detail.html", {
        "decision": decision,
        "project": decision.project,
        **state_panel(decision, user, **refused_from(request, decision)),
        "decide_form": DecidePageForm(),
        "can_edit": can_edit_decisions(decision, user) and decision.is_editable,
        "can_govern": can_govern_decisions(decision, user),
        "related": decision.related_decisions.live().order_by("title"),
        "superseded_by": decision.superseded_by.live().order_by("-created_at"),
        **review_panel(decision, user),
        "timeline": _timeline(decision, user),
        "comments_url": reverse("decision_comments", args=[decision.pk]),
        "live_match": {
            "comments": json.dumps({"project": str(decision.project_id), "entity_type": "comment"}),
            "timeline": json.dumps({"entity_type": "decision", "entity_id": str(decision.pk)}),
        },
    })


def _timeline(decision: Decision, user):
    return (AuditEntry.objects.visible_to(user).filter(entity_type="decision", entity_id=str(decision.pk))
            .select_related("actor")[:50])


def review_panel(decision: Decision, user) -> dict:
    """Each reviewer with their standing verdict (None: still awaited), the tally, and whether `user`
    may give theirs now."""
    standing = decision.standing_verdicts()
    on_team = set(eligible_reviewers(decision.reviewers.all(), decision.project).values_list("pk", flat=True))
    people = [{"user": reviewer, "review": standing.get(reviewer.pk), "left": reviewer.pk not in on_team}
              for reviewer in decision.reviewers.order_by("email")]
    counts = decision.verdict_counts()
    may_review = decision.state == DecisionState.ACTIVE and can_review(decision, user)
    return {
        "reviewers": people,
        "approvals": counts[Verdict.APPROVE],
        "objections": counts[Verdict.OBJECT],
        "awaited": sum(1 for person in people if person["review"] is None and not person["left"]),
        "review_form": ReviewForm(initial={"verdict": getattr(standing.get(user.pk), "verdict", None)})
        if may_review else None,
        "my_review": standing.get(user.pk),
    }


@login_required
@require_POST
def decision_review(request, pk):
    """A reviewer's verdict from the page (htmx swaps the page in place, as the transitions do)."""
    decision = _visible_decision(request, pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was recorded: {errors}")
        return redirect(decision.get_absolute_url() + "#reviews")
    try:
        review = services.review_create(decision=decision, actor=request.user, **form.cleaned_data)
    except (Conflict, InvalidInput) as error:
        messages.error(request, f"Nothing was recorded: {error.message}")
    else:
        messages.success(request, f"Your verdict is recorded: {review.get_verdict_display().lower()}.")
    return redirect(decision.get_absolute_url() + "#reviews")


@login_required
def decision_edit(request, pk):
    decision = _visible_decision(request, pk)
    require(can_edit_decisions(decision, request.user), actor=request.user, obj=decision, action="update",
            message=EDIT_MESSAGE)
    initial = {
        "title": decision.title, "question": decision.question, "context": decision.context,
        "tags": ", ".join(decision.tags or []), "review_by": decision.review_by,
        "supersedes": decision.supersedes_id, "related_decisions": list(decision.related_decisions.values_list("pk", flat=True)),
        "reviewers": list(decision.reviewers.values_list("pk", flat=True)), "required_approvals": decision.required_approvals,
    }
    form = DecisionForm(request.POST or None, initial=initial, project=decision.project, user=request.user,
                        decision=decision)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if changes["supersedes"] == decision.supersedes:
            # Unchanged: re-checking it would refuse a link that was valid when it was made.
            del changes["supersedes"]
        if set(changes["reviewers"]) == set(decision.reviewers.all()) and (
                changes["required_approvals"] == decision.required_approvals):
            del changes["reviewers"], changes["required_approvals"]  # unchanged: not re-checked either
        try:
            services.decision_update(decision=decision, actor=request.user, **changes)
        except (Conflict, InvalidInput) as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Decision saved.")
            return redirect(decision)
    return render(request, "decisions/decision_form.html", {"form": form, "project": decision.project,
                                                            "decision": decision})


DELETE_PAGES = SoftDeletePages(
    rows=Decision._base_manager.select_related("project"), soft_delete=services.decision_soft_delete,
    restore=services.decision_restore,
    consequence="It disappears from the project's decision log. You can undo this for ten minutes; "
                "after that only an operator can restore it.",
    back_to=lambda decision: decision.project,
)


@login_required
@require_http_methods(["GET", "POST"])
def decision_delete(request, pk):
    """GET asks first; POST deletes (soft) and offers an Undo on the next page."""
    return DELETE_PAGES.delete_view(request, _visible_decision(request, pk))


@login_required
@require_POST
def decision_restore(request, pk):
    """Undo a delete: whoever deleted it (for a while, while they may still contribute to its project) or
    an operator. Its deleter is refused with a 403 (the service records it); anyone else gets a 404."""
    return DELETE_PAGES.restore_view(request, pk)


@login_required
@require_POST
def decision_transition(request, pk, name):
    decision = _visible_decision(request, pk)
    form = DecidePageForm(request.POST) if name == "decide" else RationaleForm(request.POST)
    done = run_transition(request, decision, name, form)
    if done and name == "decide" and not form.cleaned_data.get("rationale", "").strip():
        messages.warning(request, "Decided without a rationale. One is strongly recommended: it tells others why.")
    return redirect(decision)
