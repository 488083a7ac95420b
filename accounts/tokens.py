"""Ending sign-ins: single-use refresh tokens and the per-user token generation.

Every token carries the user's `token_generation` (claim `gen`) from the moment it was issued; the
authentication of each API request and each refresh compares it with the user row it reads anyway, so
bumping the generation ends every access and refresh token of that user at once, on every worker,
with no extra query and no cache. It is bumped by logout, "log out everywhere", a password change, a
deactivation, an operator's "end sessions" and the reuse of a rotated refresh token.

Refresh tokens are single use: spending one is an INSERT into simplejwt's blacklist, whose unique key
is the arbiter between concurrent refreshes (simplejwt checks the blacklist and then adds to it in two
steps, so two concurrent refreshes of one token would both pass). A token presented again
after it was spent is a replay (RFC 9700 §4.14.2): every token of the user is revoked and the attempt
is written to the audit trail.
"""

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from core.recording import AuditEventType, audited_write, record_event

GENERATION_CLAIM = "gen"


def token_generation_of(token) -> int:
    """The generation a token was issued in; tokens from before generations existed are generation 0."""
    return int(token.get(GENERATION_CLAIM, 0) or 0)


def is_current(token, user) -> bool:
    return token_generation_of(token) == user.token_generation


class SessionRefreshToken(RefreshToken):
    """simplejwt's refresh token plus the generation claim (copied into its access tokens)."""

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[GENERATION_CLAIM] = user.token_generation
        return token

    def verify(self, *args, **kwargs) -> None:
        # Signature, expiry and type only: whether it was already spent is decided by spend(), which
        # tells a replay (an audit row, every token revoked) from a token that was never valid.
        Token.verify(self, *args, **kwargs)

    def spend(self) -> bool:
        """Blacklist this token; False if it was already spent (by an earlier or a concurrent request)."""
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=self.payload[api_settings.JTI_CLAIM],
            defaults={"user_id": self.payload.get(api_settings.USER_ID_CLAIM), "token": str(self),
                      "expires_at": datetime_from_epoch(self.payload["exp"])},
        )
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=outstanding)
        except IntegrityError:
            return False
        return True


def end_sessions(user, *, event_name: str, actor=None, reason: str, browsers: bool = False,
                 success: bool = True, event_type: str = AuditEventType.AUTH_LOGOUT, **extra) -> None:
    """End every API token of `user` (and with `browsers`, every browser session), with one audit row.

    The user row is locked while its generations move, so two concurrent calls both count. The row
    written is this one (with the generations before and after), not also django-auditlog's diff.
    """
    User = get_user_model()
    with audited_write(actor):
        locked = User._base_manager.select_for_update().get(pk=user.pk)
        before = (locked.token_generation, locked.session_generation)
        locked.token_generation += 1
        if browsers:
            locked.session_generation += 1
        with disable_auditlog():
            locked.save(update_fields=["token_generation", "session_generation"])
        record_event(
            event_type=event_type,
            event_name=event_name,
            actor=actor,
            obj=locked,
            success=success,
            failure_reason="" if success else reason,
            changes={"token_generation": [before[0], locked.token_generation],
                     "session_generation": [before[1], locked.session_generation]},
            extra={"reason": reason, "browser_sessions_ended": browsers, **extra},
        )
    user.token_generation, user.session_generation = locked.token_generation, locked.session_generation


