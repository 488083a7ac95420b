"""Every write to decisions outside their transitions, and the supersession that follows a decide."""

from django.utils import timezone

from commandcentral.core.access import can_edit_decisions
from commandcentral.core.errors import Conflict, InvalidInput, require
from commandcentral.core.recording import audited_write
from commandcentral.core.transitions import on_success, perform_transition

from .models import Decision, DecisionState

EDITABLE_FIELDS = ("title", "question", "context", "options", "tags", "review_by", "supersedes")


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
        raise Conflict(f"This project is {project.state}; it takes no new decisions.")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"decision_create got unexpected fields {sorted(unknown)}")
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
        raise Conflict(f"This decision is {decision.state}; it can no longer be edited." if decision.state not in (
            DecisionState.DRAFT, DecisionState.ACTIVE) else "Decisions of a closed project can no longer change.")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"decision_update got unexpected fields {sorted(unknown)}")
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
    require(can_edit_decisions(decision, actor), actor=actor, obj=decision, action="delete",
            message="Only the owner, members or an operator can delete decisions.")
    if decision.state != DecisionState.DRAFT:
        raise Conflict(f"This decision is {decision.state}; only drafts can be deleted.")
    if decision.project.is_closed:
        raise Conflict("Decisions of a closed project can no longer change.")
    with audited_write(actor):
        decision.deleted_at = timezone.now()
        decision.save(update_fields=["deleted_at", "updated_at"])
    return decision


def decision_restore(*, decision: Decision, actor) -> Decision:
    require(bool(actor.is_staff), actor=actor, obj=decision, action="restore",
            message="Only an operator can restore a deleted decision.")
    if decision.deleted_at is not None:
        with audited_write(actor):
            decision.deleted_at = None
            decision.save(update_fields=["deleted_at", "updated_at"])
    return decision


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
