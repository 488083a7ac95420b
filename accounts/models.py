"""The custom user: email is the login."""

import re

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import PermissionsMixin
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.crypto import salted_hmac
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from core.base_models import UUIDModel


HANDLE_PATTERN = r"[a-z0-9][a-z0-9-]{1,39}"
HANDLE_MAX_LENGTH = 40
validate_handle = RegexValidator(
    rf"^{HANDLE_PATTERN}\Z",
    "A handle is 2–40 lowercase letters, digits or '-', starting with a letter or digit.",
    code="invalid_handle",
)


def handle_base(email: str) -> str:
    """The handle an address suggests: its local part in lowercase letters, digits and '-'."""
    local = (email or "").split("@", 1)[0].lower()
    base = re.sub(r"[^a-z0-9]+", "-", local).strip("-")[:HANDLE_MAX_LENGTH - 5].strip("-")
    if not base:
        return "user"
    return base if len(base) >= 2 else f"user-{base}"


def unique_handle(email: str, *, taken=None, model=None) -> str:
    """A handle derived from `email` that no one holds: the base, else the base with -2, -3, ...

    `taken` is a set of handles already in use (the data migration passes its own); otherwise the
    users' table is asked."""
    base = handle_base(email)

    def is_taken(candidate: str) -> bool:
        if taken is not None:
            return candidate in taken
        return (model or User)._base_manager.filter(handle=candidate).exists()

    candidate, suffix = base, 1
    while is_taken(candidate):
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


class UserManager(BaseUserManager):
    use_in_migrations = True

    def by_handle(self, handle: str):
        """The user with this handle (any case, with or without '@'), or None."""
        handle = (handle or "").lstrip("@").lower()
        return self.filter(handle=handle).first() if handle else None

    def resolve_handles(self, names) -> dict:
        """{handle: user} for the names that are someone's handle (lowercased, '@' stripped); the rest
        are left out. Inactive accounts are left out too: no one mentions them."""
        wanted = {name.lstrip("@").lower() for name in names if name and name.lstrip("@")}
        if not wanted:
            return {}
        return {user.handle: user for user in self.filter(handle__in=wanted, is_active=True)}

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(**{f"{self.model.USERNAME_FIELD}__iexact": username})


class User(AbstractBaseUser, PermissionsMixin, UUIDModel):
    """An operator is `is_staff`: sees and may do everything."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    # How people mention the user (@handle): derived from the email when the user is created, editable.
    handle = models.CharField(max_length=HANDLE_MAX_LENGTH, unique=True, validators=[validate_handle],
                              help_text="2–40 lowercase letters, digits or '-'; how others @mention this person.")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    # A service account (another service calling the API with an Api-Key): never an operator, never
    # signs in with a password; its projects and roles are its memberships, like anyone's.
    is_service = models.BooleanField(default=False, editable=False)
    # Bumped to end every API token of the user at once (accounts/tokens.py), and every browser
    # session (part of the session hash below): logout, log out everywhere, password change,
    # deactivation, an operator ending the user's sessions, a replayed refresh token.
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    class Notifications(models.TextChoices):
        NONE = "none", "None"
        INSTANT = "instant", "Each event as it happens"
        DAILY = "daily", "A daily digest"

    # What the user wants to hear about their projects; stored here, read by the notifications.
    notifications = models.CharField(max_length=10, choices=Notifications.choices, default=Notifications.INSTANT)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    # An operator (is_staff) sees and may do everything, admin included; Django's model
    # permissions are not a second rulebook here. AuditEntryAdmin still refuses add/change/delete.
    def has_perm(self, perm, obj=None) -> bool:
        return (self.is_active and self.is_staff) or super().has_perm(perm, obj)

    def has_module_perms(self, app_label) -> bool:
        return (self.is_active and self.is_staff) or super().has_module_perms(app_label)

    def set_password(self, raw_password) -> None:
        self._replaced_password = self.password
        super().set_password(raw_password)

    def save(self, *args, **kwargs):
        if not self.handle:
            self.handle = unique_handle(self.email, model=type(self))
        else:
            self.handle = self.handle.lower()
        ended = False
        if not self._state.adding:
            # A new password (not the first one, not a hash upgrade at login) ends the old one's API
            # tokens; the session hash covers the sessions. `_password` is AbstractBaseUser's own marker
            # of "set_password() since the last save", which it reads itself to call the validators'
            # password_changed(); its hash upgrade at login clears it before saving. No public hook tells
            # the two apart without hashing the password again (~0.3 s), so this reads it.
            replaced = getattr(self, "_replaced_password", "")
            if self._password is not None and replaced and is_password_usable(replaced):
                self.token_generation += 1
                ended = True
            # Deactivated: its tokens are refused now (is_active is checked per request) and stay
            # dead if the account is reactivated later.
            if not self.is_active and type(self)._base_manager.filter(pk=self.pk, is_active=True).exists():
                self.token_generation += 1
                self.session_generation += 1
                ended = True
        update_fields = kwargs.get("update_fields")
        if ended and update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "token_generation", "session_generation"}
        self._replaced_password = ""
        super().save(*args, **kwargs)

    # Django's session hash is an HMAC of the password hash; a session generation above 0 joins it,
    # so bumping it ends every browser session of the user (unchanged hashes while it is 0).
    def _session_secret_material(self) -> str:
        return self.password if not self.session_generation else f"{self.password}\x00{self.session_generation}"

    def get_session_auth_hash(self) -> str:
        return self._session_hash()

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback_secret)

    def _session_hash(self, secret=None) -> str:
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        return salted_hmac(key_salt, self._session_secret_material(), secret=secret, algorithm="sha256").hexdigest()

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


class ServiceAccountManager(UserManager):
    def get_queryset(self):
        return super().get_queryset().filter(is_service=True)


class ServiceAccount(User):
    """The service accounts among the users (admin: Service accounts)."""

    objects = ServiceAccountManager()

    class Meta:
        proxy = True
        ordering = ["name"]


class ServiceKey(AbstractAPIKey):
    """An API key of a service account: shown once, stored hashed (SHA-512 of a 32-character random
    secret), found by its 8-character prefix, with an optional expiry, revocable (never un-revoked).
    A service may hold several valid keys at once: that is how a key is rotated."""

    objects = BaseAPIKeyManager()
    service = models.ForeignKey(User, on_delete=models.PROTECT, related_name="service_keys",
                                limit_choices_to={"is_service": True})
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "service API key"
        verbose_name_plural = "service API keys"


class InvitationRole(models.TextChoices):
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        from django.utils import timezone

        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(UUIDModel):
    """An invitation of an email address to a project's team, as a member or a viewer.

    Its link carries a random token; only the token's SHA-256 is stored (`token_hash`), so the table
    alone opens no project. Its state follows from its dates: accepted or revoked once, expired after
    `expires_at`, pending until then. Every write goes through accounts.invitations, which audits it.
    """

    audit_entity_type = "invitation"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=InvitationRole.choices, default=InvitationRole.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.role}"

    @property
    def state(self) -> str:
        from django.utils import timezone

        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    @property
    def is_pending(self) -> bool:
        return self.state == InvitationState.PENDING

    def link_token(self) -> str:
        """The token of this invitation's link: an HMAC of its id under SECRET_KEY (only its hash is stored)."""
        return salted_hmac("accounts.invitations.token", str(self.pk), algorithm="sha256").hexdigest()

    def link_path(self) -> str:
        return f"/invitations/{self.link_token()}/"
