"""Invitations to a project's team and the sign-up policy: every write, on every surface (API, pages),
goes through here and leaves an audit row (invitation.created, invitation.revoked, invitation.accepted,
and the refusals).

Who may invite is the one access rule: whoever may steer the project (its owner, operators;
core.access.can_steer). An invitation's link carries a token that is an HMAC of the invitation's id
under SECRET_KEY; only its SHA-256 is stored, so neither the table nor a backup of it opens a project,
and the mail task needs only the invitation's id to write the link again (the token never sits in the
task queue). Joining the team is the projects app's business: `invitation_accept` takes the step that
adds the membership from its caller (the site's invitation page), since accounts is below projects.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.access import can_steer
from core.errors import InvalidInput, record_refusal, require
from core.recording import AuditEventType, audited_write, record_event

from .mail import send_invitation
from .models import Invitation, InvitationRole, User

def signup_open() -> bool:
    return settings.SIGNUP == "open"


def may_sign_up(email: str) -> bool:
    """Whether `email` may create an account: anyone while sign-up is open, otherwise only an address
    holding a pending invitation."""
    return signup_open() or Invitation.objects.pending().filter(email__iexact=email or "").exists()


def refuse_sign_up(email: str) -> None:
    """Raise (after recording the refusal) unless `email` may create an account now."""
    require(may_sign_up(email), actor=None, obj=None, action="user.register",
            message="Sign-up is by invitation only: ask a project's owner to invite this address.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation a link's token names (whatever its state), or None."""
    if not token or len(token) > 200:
        return None
    return Invitation.objects.select_related("project", "invited_by").filter(token_hash=_hash(token)).first()


def _is_on_team(project, user) -> bool:
    return project.owner_id == user.pk or project.memberships.filter(user=user).exists()


def invitation_create(*, project, actor, email: str, role: str = InvitationRole.MEMBER, site: str = "") -> Invitation:
    """Invite `email` to `project` as `role` (member or viewer); the mail goes out once this commits,
    with a link on `site` (the address the request came to, e.g. https://cc.example.com)."""
    require(can_steer(project, actor), actor=actor, obj=project, action="invite",
            message="Only the project's owner and operators may invite people.")
    email = (email or "").strip().lower()
    if role not in InvitationRole.values:
        raise InvalidInput(f"An invitation is for a member or a viewer, not '{role}'.", field="role")
    if project.is_closed:
        raise record_refusal(actor=actor, obj=project, action="invite",
                             message=f"This project is {project.state}: it takes no new people.")
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None and _is_on_team(project, existing):
        raise InvalidInput(f"{email} is already on this project's team.", field="email")
    if Invitation.objects.pending().filter(project=project, email__iexact=email).exists():
        raise InvalidInput(f"{email} already has a pending invitation to this project; revoke it to send "
                           "a new one.", field="email")
    with audited_write(actor):
        invitation = Invitation(project=project, email=email, role=role, invited_by=actor,
                                expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS))
        invitation.token_hash = _hash(invitation.link_token())
        invitation.save()
        _record(invitation, "invitation.created", AuditEventType.ENTITY_CREATED, actor=actor)
        transaction.on_commit(lambda: _send(invitation, site))
    return invitation


def _send(invitation: Invitation, site: str) -> None:
    send_invitation.enqueue(str(invitation.pk), site)


def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    """Revoke a pending invitation: its link answers 410 from now on."""
    require(can_steer(invitation.project, actor), actor=actor, obj=invitation, action="revoke",
            message="Only the project's owner and operators may revoke its invitations.")
    if not invitation.is_pending:
        raise record_refusal(actor=actor, obj=invitation, action="revoke",
                             message=f"This invitation is {invitation.state}: only a pending one can be revoked.")
    with audited_write(actor):
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        _record(invitation, "invitation.revoked", AuditEventType.ENTITY_UPDATED, actor=actor)
    return invitation


def invitation_accept(*, invitation: Invitation, user: User, join) -> Invitation:
    """`user` (whose email is the invitation's) accepts: `join(project, user, role)` adds them to the
    team in the same transaction, and the link is spent. Someone added to the team since keeps the role
    they have. A link that is no longer pending is refused."""
    if user.email.lower() != invitation.email.lower():
        raise InvalidInput("This invitation is for another email address.", field="email")
    with audited_write(user):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending:
            raise InvalidInput(f"This invitation is {locked.state}.")
        if not _is_on_team(invitation.project, user):  # already on it (added meanwhile): the role stays
            join(invitation.project, user, invitation.role)
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
        _record(locked, "invitation.accepted", AuditEventType.ENTITY_UPDATED, actor=user)
    return locked


def invitation_sign_up(*, invitation: Invitation, name: str, password: str, join) -> User:
    """Someone without an account accepts: the account of the invitation's email is created with `name`
    and `password` (validated like any password), joins the team, and the link is spent, at once."""
    candidate = User(email=invitation.email, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), field="password1") from None
    for attempt in (1, 2):
        try:
            with audited_write(None), transaction.atomic():
                if User.objects.filter(email__iexact=invitation.email).exists():
                    raise InvalidInput("This address has an account now: log in to accept.", field="email")
                user = User.objects.create_user(invitation.email, password, name=name)
                invitation_accept(invitation=invitation, user=user, join=join)
            return user
        except IntegrityError:
            # The address got an account meanwhile (the check above says so on the next try), or the
            # handle derived from it was taken between its choice and the INSERT (chosen again then).
            if attempt == 2:
                raise InvalidInput("This address has an account now: log in to accept.", field="email") from None


def _record(invitation: Invitation, event_name: str, event_type: str, *, actor) -> None:
    record_event(event_type=event_type, event_name=event_name, actor=actor, obj=invitation,
                 extra={"email": invitation.email, "role": invitation.role,
                        "expires_at": invitation.expires_at.isoformat(), "state": invitation.state})
