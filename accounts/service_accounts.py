"""Service accounts and their API keys: every write, on every surface (admin,
`manage.py service_key`), goes through here and leaves an audit row.

A service account is a user with `is_service`: its projects and roles are memberships like anyone's,
so the one access rule (core.access) and the same transition rules apply to it. It
has no password and is never an operator. Only operators manage them (the admin, a shell). Its keys (accounts.ServiceKey) are shown once and stored
hashed; a service may hold several valid keys at once (rotation), each revocable and expirable.
"""

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from core.recording import AuditEventType, audited_write, record_event

from .models import ServiceKey, User

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
SERVICE_EMAIL_DOMAIN = "service.invalid"  # RFC 2606: never a real mailbox


def service_account_email(name: str) -> str:
    return f"{name}@{SERVICE_EMAIL_DOMAIN}"


def service_account_get_or_create(*, name: str, actor=None, description: str = "") -> tuple[User, bool]:
    """The service account called `name`, created (audited: user.created) if it does not exist."""
    if not SERVICE_NAME.match(name or ""):
        raise InvalidInput("A service name is 1–63 lowercase letters, digits, '.', '_' or '-', starting "
                           "with a letter or digit.", field="service")
    existing = User.objects.filter(email__iexact=service_account_email(name)).first()
    if existing is not None:
        if not existing.is_service:
            raise InvalidInput(f"{existing.email} is a person's account, not a service.", field="service")
        return existing, False
    with audited_write(actor):
        account = User(email=service_account_email(name), name=description or name, is_service=True)
        account.set_unusable_password()
        account.save()
    return account, True


def service_key_create(*, service: User, name: str = "", expires_in_days: int | None = None,
                       expires_at=None, actor=None) -> tuple[ServiceKey, str]:
    """A new key for `service`: (the stored key, the key itself, to be shown once)."""
    if not service.is_service:
        raise InvalidInput(f"{service.email} is not a service account.", field="service")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise InvalidInput("A key expires in 1 to 3650 days.", field="expires")
    expiry = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else expires_at
    if expiry is not None and expiry <= timezone.now():
        raise InvalidInput("A key's expiry must be in the future.", field="expiry_date")
    with audited_write(actor):
        key, raw = ServiceKey.objects.create_key(service=service, name=(name or service.name)[:50], expiry_date=expiry)
        _record(key, "service_key.created", AuditEventType.ENTITY_CREATED, actor=actor)
    return key, raw


def service_key_revoke(*, key: ServiceKey, actor=None, reason: str = "") -> ServiceKey:
    """Revoke for good (a revoked key is never valid again). Revoking twice changes nothing."""
    if key.revoked:
        return key
    with audited_write(actor), transaction.atomic():
        key.revoked = True
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked", "revoked_at"])
        _record(key, "service_key.revoked", AuditEventType.ENTITY_UPDATED, actor=actor, reason=reason)
    return key


def _record(key: ServiceKey, event_name: str, event_type: str, *, actor, **extra) -> None:
    # The key's primary key holds its hash: the row names the key by its prefix only.
    record_event(
        event_type=event_type,
        event_name=event_name,
        actor=actor,
        entity_type="service_key",
        entity_id=key.prefix,
        object_repr=f"{key.service.email} key {key.prefix}",
        extra={"service": key.service.email, "prefix": key.prefix, "name": key.name,
               "expires": key.expiry_date.isoformat() if key.expiry_date else None,
               **{name: value for name, value in extra.items() if value}},
    )


# --- Personal keys: a person's own API keys, acting as that person ---------------------------------


def personal_key_create(*, user: User, name: str, expires_in_days: int) -> tuple[ServiceKey, str]:
    """A new key that authenticates as `user` (`Authorization: Api-Key <key>`): (the stored key, the key
    itself, to be shown once). A personal key always expires (1 to 365 days)."""
    if user.is_service or not user.is_active:
        raise InvalidInput("Only an active person has personal keys.", field="name")
    if not 1 <= expires_in_days <= 365:
        raise InvalidInput("A personal key expires in 1 to 365 days.", field="expires_in_days")
    if not (name or "").strip():
        raise InvalidInput("Give the key a name.", field="name")
    with audited_write(user):
        key, raw = ServiceKey.objects.create_key(service=user, name=name.strip()[:50],
                                                 expiry_date=timezone.now() + timedelta(days=expires_in_days))
        _record(key, "personal_key.created", AuditEventType.ENTITY_CREATED, actor=user)
    return key, raw


def personal_keys(user: User):
    """The user's keys that still work (unrevoked, unexpired), newest first."""
    return (ServiceKey.objects.filter(service=user, revoked=False)
            .exclude(expiry_date__lte=timezone.now()).order_by("-created"))


def personal_key_revoke(*, user: User, prefix: str) -> ServiceKey:
    key = ServiceKey.objects.filter(service=user, prefix=prefix or "", revoked=False).select_related("service").first()
    if key is None:
        raise InvalidInput("You have no such key.", field="prefix")
    with audited_write(user), transaction.atomic():
        key.revoked = True
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked", "revoked_at"])
        _record(key, "personal_key.revoked", AuditEventType.ENTITY_UPDATED, actor=user)
    return key
