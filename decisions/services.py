"""Every write to decisions outside their transitions, and the supersession that follows a decide."""

from django.core.exceptions import ValidationError as DjangoValidationError

from core.access import can_edit_decisions
from core.errors import InvalidInput, record_refusal, require
from core.recording import audited_write
from core.soft_delete import restore, soft_delete
from core.transitions import on_success, perform_transition

from .models import Decision, DecisionState
from .options import clean_options, clean_tags

EDITABLE_FIELDS = ("title", "question", "context", "options", "tags", "review_by", "supersedes")


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


def decision_create(*, actor, project, title: str, related_decisions=(), **fields) -> Decision:
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
    with audited_write(actor):
        decision = Decision(project=project, title=title, created_by=actor, **fields)
        decision.save()
        if related_decisions:
            decision.related_decisions.add(*related_decisions)
    return decision


def decision_update(*, decision: Decision, actor, related_decisions=None, **changes) -> Decision:
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
    with audited_write(actor):
        for name, value in changes.items():
            setattr(decision, name, value)
        decision.save()
        if related_decisions is not None:
            # set(), never clear(): auditlog's clear logs every decision of every project (#539).
            decision.related_decisions.set(related_decisions)
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
