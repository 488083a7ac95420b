"""Which sealed audit rows make notifications, and for whom. Read by the builder, one row at a time.

- comment.created / comment.updated → `mentioned`: the people the body's @handles reach (for an edit,
  only those its new text mentions and its old text did not). The bodies are read from the row's
  own changes, so an edit made after the row does not change who it notifies.
- decision.updated adding reviewers (django-auditlog's m2m row, the reviewers named by their email)
  → `review_requested` to each one added.
- invitation.created → `invited`, to the account of the invited address if there is one and the
  invitation is still pending (on the site only: the invitation sends its own mail).
- decision.decide → `decision_decided`, to its reviewers and the project's watchers.
- any other successful transition of a project or of one of its decisions → `transition`, to the
  project's watchers.

Never to the row's actor, and (but for an invitation, which is addressed to someone not on the team
yet) only to people who can still see the project when the row is read (core.access).
"""

from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Invitation
from core import access
from core.recording import AuditEventType
from decisions.models import Decision
from discussions.models import Comment
from discussions.services import resolve_mentions
from projects.models import Project

from .models import EmailMode, Kind, Notification, Watch


def notifications_for(entry, leaf_index: int) -> list[Notification]:
    """The notifications one sealed audit row makes (unsaved), or [] for the rows that make none."""
    if not entry.success:
        return []
    name = entry.event_name
    if name in ("comment.created", "comment.updated"):
        return _mentioned(entry, leaf_index)
    if name == "decision.updated" and _added_reviewers(entry):
        return _review_requested(entry, leaf_index)
    if name == "invitation.created":
        return _invited(entry, leaf_index)
    if entry.event_type == AuditEventType.TRANSITION_SUCCESS and entry.entity_type in ("project", "decision"):
        return _transition(entry, leaf_index)
    return []


# --- One kind each ----------------------------------------------------------------------------------


def _mentioned(entry, leaf_index: int) -> list[Notification]:
    body = (entry.changes or {}).get("body")
    if not isinstance(body, list) or len(body) != 2 or not isinstance(body[1], str):
        return []  # an edit that left the body alone (hidden, shown)
    comment = Comment.objects.select_related("project", "decision").filter(pk=entry.entity_id).first()
    if comment is None or comment.hidden or comment.project.deleted_at is not None:
        return []
    project = comment.project
    people, _ = resolve_mentions(project, body[1])
    if isinstance(body[0], str) and body[0]:
        before, _ = resolve_mentions(project, body[0])
        already = {person.pk for person in before}
        people = [person for person in people if person.pk not in already]
    if comment.decision_id and comment.decision.deleted_at is not None:
        return []
    page = comment.decision.get_absolute_url() if comment.decision_id else project.get_absolute_url()
    return _for(people, entry, leaf_index, kind=Kind.MENTIONED, project=project, subject=("comment", comment.pk, str(comment)),
                url=f"{page}#comment-{comment.pk}")


def _added_reviewers(entry) -> list[str]:
    change = (entry.changes or {}).get("reviewers")
    if isinstance(change, dict) and change.get("type") == "m2m" and change.get("operation") == "add":
        return [email for email in change.get("objects") or [] if isinstance(email, str)]
    return []


def _review_requested(entry, leaf_index: int) -> list[Notification]:
    decision = _live_decision(entry.entity_id)
    if decision is None:
        return []
    # django-auditlog names the added reviewers as str(user), their email (unique per account).
    people = get_user_model().objects.filter(email__in=_added_reviewers(entry))
    return _for(people, entry, leaf_index, kind=Kind.REVIEW_REQUESTED, project=decision.project,
                subject=("decision", decision.pk, decision.title), url=decision.get_absolute_url())


def _invited(entry, leaf_index: int) -> list[Notification]:
    invitation = Invitation.objects.select_related("project").filter(pk=entry.entity_id).first()
    if invitation is None or not invitation.is_pending or invitation.project.deleted_at is not None:
        return []
    people = get_user_model().objects.filter(email__iexact=invitation.email, is_active=True, is_service=False)
    # The link's token is never stored: the notification links to a page that makes it for its recipient.
    # Never mailed: the invitation's own mail (accounts.mail) went to that address already.
    return _for(people, entry, leaf_index, kind=Kind.INVITED, project=invitation.project, check_access=False,
                subject=("invitation", invitation.pk, invitation.project.name),
                url=reverse("notification_invitation", args=[invitation.pk]), detail=f"as a {invitation.role}",
                mailed=False)


def _transition(entry, leaf_index: int) -> list[Notification]:
    detail = f"{entry.transition}: {entry.from_state} → {entry.to_state}"
    if entry.entity_type == "project":
        project = Project.objects.filter(pk=entry.entity_id, deleted_at__isnull=True).first()
        if project is None:
            return []
        return _for(_watchers(project), entry, leaf_index, kind=Kind.TRANSITION, project=project,
                    subject=("project", project.pk, project.name), url=project.get_absolute_url(), detail=detail)
    decision = _live_decision(entry.entity_id)
    if decision is None:
        return []
    subject = ("decision", decision.pk, decision.title)
    if entry.transition == "decide":
        people = {person.pk: person for person in [*decision.reviewers.all(), *_watchers(decision.project)]}
        return _for(people.values(), entry, leaf_index, kind=Kind.DECISION_DECIDED, project=decision.project,
                    subject=subject, url=decision.get_absolute_url(), detail=detail)
    return _for(_watchers(decision.project), entry, leaf_index, kind=Kind.TRANSITION, project=decision.project,
                subject=subject, url=decision.get_absolute_url(), detail=detail)


# --- Shared ------------------------------------------------------------------------------------------


def _live_decision(pk) -> Decision | None:
    return (Decision.objects.select_related("project").filter(pk=pk, deleted_at__isnull=True,
                                                                  project__deleted_at__isnull=True).first())


def _watchers(project) -> list:
    return [watch.user for watch in Watch.objects.filter(project=project).select_related("user")]


def _for(people, entry, leaf_index: int, *, kind: str, project, subject: tuple, url: str, detail: str = "",
         check_access: bool = True, mailed: bool = True) -> list[Notification]:
    subject_type, subject_id, title = subject
    made = []
    for person in people:
        if person.pk == entry.actor_id or not person.is_active:
            continue
        if check_access and not _can_see(project, person):
            continue
        mode = person.notifications if mailed and not person.is_service else EmailMode.NONE
        made.append(Notification(recipient=person, kind=kind, actor_id=entry.actor_id, subject_type=subject_type,
                                 subject_id=str(subject_id), subject_title=str(title)[:300], url=url[:500],
                                 project=project, detail=detail[:300], leaf_index=leaf_index, email_mode=mode))
    return made


def _can_see(project, person) -> bool:
    """core.access's rule for one project read by key: a deleted project or no role is a no."""
    try:
        access.visible_project(person, project.pk)
    except Project.DoesNotExist:
        return False
    return True
