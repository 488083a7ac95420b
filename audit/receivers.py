"""Django's own auth signals → auth_login / auth_logout / auth_failed rows (pages and API alike)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import AuditEventType
from core.recording import record_event


@receiver(user_logged_in, dispatch_uid="audit_auth_login")
def on_login(sender, request, user, **kwargs):
    record_event(event_type=AuditEventType.AUTH_LOGIN, event_name="auth.login", actor=user, obj=user,
                 extra={"via": getattr(request, "auth_via", "session")} if request is not None else {})


@receiver(user_logged_out, dispatch_uid="audit_auth_logout")
def on_logout(sender, request, user, **kwargs):
    if user is not None and user.is_authenticated:
        record_event(event_type=AuditEventType.AUTH_LOGOUT, event_name="auth.logout", actor=user, obj=user,
                     extra={"via": getattr(request, "auth_via", "session")} if request is not None else {})


@receiver(user_login_failed, dispatch_uid="audit_auth_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Django already replaced the password with asterisks; we keep only the attempted login.
    attempted = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")[:254]
    user = get_user_model().objects.filter(email__iexact=attempted).first() if attempted else None
    record_event(
        event_type=AuditEventType.AUTH_FAILED,
        event_name="auth.failed",
        obj=user,
        success=False,
        failure_reason="Invalid credentials or inactive account.",
        extra={"email": attempted},
    )
