"""Creating an account (the API's auth/register/ and the sign-up page): the sign-up policy first, then
an account, or, for a taken address, the same answer and nothing changed."""

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError
from django.utils import timezone

from core.recording import AuditEventType, audited_write, record_event

from .invitations import refuse_sign_up
from .models import User


def register(*, email: str, password: str, name: str = "") -> User:
    """The new account, or for an address that has one already a look-alike that is never stored.

    Refused (403, recorded) while sign-up is by invitation and the address holds no pending one. The
    password is checked by the caller's form or serializer (Django's validators)."""
    email = email.lower()
    refuse_sign_up(email)
    if User.objects.filter(email__iexact=email).exists():
        return _registered_already(email, password, name)
    try:
        with audited_write(None):
            return User.objects.create_user(email, password, name=name)
    except IntegrityError:
        if not User.objects.filter(email__iexact=email).exists():
            # Not the email: the handle derived from it was taken between its choice and the INSERT (two
            # sign-ups of ada@a and ada@b at once). Chosen again, it is free now.
            with audited_write(None):
                return User.objects.create_user(email, password, name=name)
        # Another registration of this email committed between the check and the INSERT (the unique
        # index decides): answered as any taken address, and nothing of this one is kept.
        return _registered_already(email, password, name)


def _registered_already(email: str, password: str, name: str) -> User:
    """The answer to registering an address that already has an account: a new account's answer (an id
    that is never stored, the email and name given, now), nothing changed, and an
    `auth.register_existing` row on the existing account.

    An "already exists" would tell anyone which addresses are registered. This answer does not, and the
    password is hashed as for a new account, so the time it takes does not either. Whoever gave a taken
    address finds out only by signing in with the password they chose, which fails: a sign-in attempt
    is throttled (`THROTTLE_LOGIN`, shared with registering) and audited like any other, so registering
    is no faster a probe than the login form already was.
    """
    make_password(password)
    existing = User.objects.filter(email__iexact=email).first()
    record_event(event_type=AuditEventType.AUTH_FAILED, event_name="auth.register_existing", obj=existing,
                 success=False, failure_reason="A registration gave an email that already has an account; "
                 "nothing was changed.", extra={"email": email})
    return User(email=email, name=name, created_at=timezone.now())
