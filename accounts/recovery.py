"""Password reset: the request (queues the mail) and the completion, both audited.

Django's own views and token generator do the work (commandcentral/page_urls.py); these are the
steps they leave to us. A request for an address without an account, or of a deactivated one, answers
exactly as any other and sends nothing: the page never says which addresses are registered.
"""

from django.contrib.auth import password_validation
from django.db import transaction

from core.recording import AuditEventType, audited_write, record_event

from .mail import send_password_reset
from .models import User


def request_password_reset(*, email: str, site: str = "") -> None:
    """Queue the reset mail for the active person whose address this is (if any), and record the request."""
    user = User.objects.filter(email__iexact=email, is_active=True, is_service=False).first()
    if user is not None and not user.has_usable_password():
        user = None
    record_event(event_type=AuditEventType.AUTH_LOGIN if user is not None else AuditEventType.AUTH_FAILED,
                 event_name="auth.password_reset_requested", obj=user,
                 success=user is not None, extra={"email": email.lower()},
                 failure_reason="" if user is not None else "No active account with a password has this address; nothing was sent.")
    if user is not None:
        transaction.on_commit(lambda: _send(user, site))


def _send(user: User, site: str) -> None:
    send_password_reset.enqueue(str(user.pk), site)


def complete_password_reset(*, user: User, password: str) -> User:
    """Set the new password (its old API tokens end: User.save) and record the reset."""
    with audited_write(user):
        user.set_password(password)
        user.save()
        password_validation.password_changed(password, user)
        record_event(event_type=AuditEventType.AUTH_LOGIN, event_name="auth.password_reset_completed", actor=user,
                     obj=user)
    return user
