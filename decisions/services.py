"""Every write to decisions outside their transitions, and the supersession that follows a decide."""

from django.core.exceptions import ValidationError as DjangoValidationError

from auditlog.models import AbstractLogEntry

from core.access import can_be_reviewer, can_edit_decisions, can_review, eligible_reviewers
from core.by_key import get_by_key
from core.errors import Conflict, InvalidInput, record_refusal, require
from core.recording import AuditEventType, audited_write, record_event
from core.soft_delete import restore, soft_delete
from core.transitions import on_success, perform_transition

from .models import Decision, DecisionState, Review, Verdict
from .options import clean_options, clean_tags

EDITABLE_FIELDS = ("title", "question", "context", "options", "tags", "review_by", "supersedes", "required_approvals")
MAX_COMMENT = 20000


def _clean_shapes(fields: dict) -> None:
    """Options and tags in their one shape, whatever surface sent them (the admin's JSON fields too)."""
    for name, clean in (("options", clean_options), ("tags", clean_tags)):
        if name in fields:
            try:
                fields[name] = clean(fields[name])
            except DjangoValidationError as error:
                raise InvalidInput(" ".join(error.messages), field=name) from None


def _check_links(*, project, decision=None, related=None, supersedes=None) -> None:
    if supersedes is not None:
        if supersedes.project_id != project.pk:
            raise InvalidInput("A decision can only supersede a decision of the same project.", field="supersedes")
        if supersedes.state != DecisionState.DECIDED:
            raise InvalidInput("Only a decided decision can be superseded.", field="supersedes")
        if decision is not None and supersedes.pk == decision.pk:
            raise InvalidInput("A decision cannot supersede itself.", field="supersedes")
    for other in related or ():
        if other.project_id != project.pk:
            raise InvalidInput("Related decisions must belong to the same project.", field="related_decisions")
        if decision is not None and other.pk == decision.pk:
            raise InvalidInput("A decision cannot be related to itself.", field="related_decisions")


def reviewers_not_on_team(ids) -> str:
    return f"Reviewers must be the project's owner or members; not {', '.join(sorted(str(pk) for pk in ids))}."


def _check_reviews(*, project, reviewers, required_approvals, decision=None) -> None:
    """Reviewers are people of the project's team (its owner and members); decide cannot need more
    approvals than there are reviewers who can give one. `reviewers` None: the decision's, unchanged
    (those who have left the team since are not counted, nor refused)."""
    if reviewers is not None:
        outsiders = [user for user in reviewers if not can_be_reviewer(project, user)]
        if outsiders:
            raise InvalidInput(reviewers_not_on_team(user.pk for user in outsiders), field="reviewers")
    if not isinstance(required_approvals, int) or isinstance(required_approvals, bool) or required_approvals < 0:
        raise InvalidInput("required_approvals must be a whole number, 0 or more.", field="required_approvals")
    if reviewers is None:
        count = eligible_reviewers(decision.reviewers.all(), project).count() if decision is not None else 0
    else:
        count = len(set(reviewers))
    if required_approvals > count:
        raise InvalidInput(f"required_approvals ({required_approvals}) cannot exceed the number of reviewers ({count}).",
                           field="required_approvals")


def decision_create(*, actor, project, title: str, related_decisions=(), reviewers=(), **fields) -> Decision:
    draft = Decision(project=project)
    require(can_edit_decisions(draft, actor), actor=actor, obj=project, action="decision_create",
            message="Only the owner, members or an operator can create decisions in this project.")
    if project.is_closed:
        raise record_refusal(actor=actor, obj=project, action="decision_create",
                             message=f"This project is {project.state}; it takes no new decisions.")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"decision_create got unexpected fields {sorted(unknown)}")
    _clean_shapes(fields)
    _check_links(project=project, related=related_decisions, supersedes=fields.get("supersedes"))
    _check_reviews(project=project, reviewers=list(reviewers), required_approvals=fields.get("required_approvals", 0))
    with audited_write(actor):
        decision = Decision(project=project, title=title, created_by=actor, **fields)
        decision.save()
        if related_decisions:
            decision.related_decisions.add(*related_decisions)
        if reviewers:
            decision.reviewers.add(*reviewers)
    return decision


def decision_update(*, decision: Decision, actor, related_decisions=None, reviewers=None, **changes) -> Decision:
    require(can_edit_decisions(decision, actor), actor=actor, obj=decision, action="update",
            message="Only the owner, members or an operator can edit decisions.")
    if not decision.is_editable:
        raise record_refusal(actor=actor, obj=decision, action="update", message=(
            f"This decision is {decision.state}; it can no longer be edited." if decision.state not in (
                DecisionState.DRAFT, DecisionState.ACTIVE) else "Decisions of a closed project can no longer change."))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"decision_update got unexpected fields {sorted(unknown)}")
    _clean_shapes(changes)
    _check_links(project=decision.project, decision=decision, related=related_decisions,
                 supersedes=changes.get("supersedes"))
    if reviewers is not None or "required_approvals" in changes:
        _check_reviews(
            project=decision.project,
            reviewers=list(reviewers) if reviewers is not None else None,
            required_approvals=changes.get("required_approvals", decision.required_approvals), decision=decision,
        )
    with audited_write(actor):
        for name, value in changes.items():
            setattr(decision, name, value)
        decision.save()
        if related_decisions is not None:
            # set(), never clear(): auditlog's clear logs every decision of every project (#539).
            decision.related_decisions.set(related_decisions)
        if reviewers is not None:
            decision.reviewers.set(reviewers)
    return decision


def decision_soft_delete(*, decision: Decision, actor) -> Decision:
    return soft_delete(decision, actor=actor, allowed=can_edit_decisions(decision, actor), conflict=_delete_conflict,
                       forbidden="Only the owner, members or an operator can delete decisions.")


def _delete_conflict(decision: Decision) -> str | None:
    if decision.state != DecisionState.DRAFT:
        return f"This decision is {decision.state}; only drafts can be deleted."
    if decision.project.is_closed:
        return "Decisions of a closed project can no longer change."
    return None


def decision_restore(*, decision: Decision, actor) -> Decision:
    """Operators (the admin's restore action), or whoever deleted it within a few minutes while they
    may still contribute to its project (Undo)."""
    return restore(decision, actor=actor,
                   forbidden="Only an operator can restore a deleted decision (or whoever deleted it, for ten "
                             "minutes, while they may still edit this project's decisions).")


def review_create(*, decision: Decision, actor, verdict: str, option: str = "", comment: str = "") -> Review:
    """A reviewer's verdict on an active decision: a new row (their latest counts) and its audit row,
    `decision.reviewed`, in one transaction. Refusals: not a reviewer 403, not active 409 (both
    recorded), bad input 400; none leaves a row behind but its audit row."""
    require(can_review(decision, actor), actor=actor, obj=decision, action="review",
            message="Only the reviewers this decision names can review it.")
    if decision.state != DecisionState.ACTIVE or decision.project.is_closed:
        raise _not_active(decision, actor)
    if verdict not in Verdict.values:
        raise InvalidInput(f"verdict must be one of {', '.join(Verdict.values)}.", field="verdict")
    option, comment = (option or "").strip(), comment or ""
    if option and decision.option(option) is None:
        ids = ", ".join(str(o.get("id")) for o in decision.options or [])
        raise InvalidInput(f"'{option[:50]}' is not one of this decision's options ({ids}).", field="option")
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"A comment is at most {MAX_COMMENT} characters.", field="comment")
    if "\x00" in comment or "\x00" in option:
        raise InvalidInput("NUL characters are not allowed.", field="comment")
    try:
        with audited_write(actor):
            current = get_by_key(Decision, decision.pk, for_update=True)  # in line with a decide under way
            if current.state != DecisionState.ACTIVE or current.project.is_closed:
                raise Conflict("changed")
            review = Review.objects.create(decision=current, reviewer=actor, verdict=verdict, option=option,
                                           comment=comment)
            record_event(
                event_type=AuditEventType.ENTITY_UPDATED, event_name="decision.reviewed", actor=actor, obj=current,
                action=AbstractLogEntry.Action.CREATE, rationale=comment,
                extra={"review_id": review.pk, "verdict": verdict, "option": option},
            )
    except Conflict:
        decision.refresh_from_db()
        raise _not_active(decision, actor) from None
    decision.__dict__.pop("_standing_verdicts", None)
    return review


def _not_active(decision: Decision, actor) -> Conflict:
    if decision.state == DecisionState.ACTIVE:
        message = f"This decision's project is {decision.project.state}; its decisions take no more reviews."
    else:
        message = f"This decision is {decision.state}; only an active decision takes reviews."
    return record_refusal(actor=actor, obj=decision, action="review", message=message)


@on_success("decisions.Decision", "decide")
def archive_superseded(decision: Decision, *, actor, entry) -> None:
    """Deciding a decision that supersedes another archives the older one in the same transaction
    (its audit row names the newer decision)."""
    older = decision.supersedes
    if older is None or older.state not in (DecisionState.ACTIVE, DecisionState.DECIDED):
        return
    perform_transition(
        older,
        "archive",
        actor=actor,
        rationale=f"Superseded by decision '{decision.title}' ({decision.pk}).",
        extra={"superseded_by": str(decision.pk)},
    )
