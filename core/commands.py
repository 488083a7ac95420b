"""What management commands share: resolving the acting user, one audit context per command."""

import contextlib

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from core.recording import audit_context

from .request_context import set_correlation_id


def resolve_actor(email: str):
    try:
        return get_user_model().objects.get(email__iexact=email, is_active=True)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No active user with email {email!r}.")


@contextlib.contextmanager
def command_audit_context(actor, correlation_id: str | None = None):
    """One audit context for the whole command: its correlation id, and `actor` for any row a
    service did not attribute itself."""
    set_correlation_id(correlation_id)
    with audit_context(actor=actor):
        yield
