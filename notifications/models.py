"""Notifications (what happened that concerns you), project watches, and the state of the two workers
that make and mail them.

Notifications are made from the sealed audit ledger by notifications.builder, never on a request:
one builder, one cursor (`BuilderState`), and a notification names the leaf it came from, so a row
can never make the same notification twice (`notification_once_per_leaf`).
"""

from django.conf import settings
from django.db import models

from accounts.models import User
from core.base_models import TimestampedModel


class Kind(models.TextChoices):
    MENTIONED = "mentioned", "mentioned you"
    REVIEW_REQUESTED = "review_requested", "asked for your review"
    INVITED = "invited", "invited you"
    DECISION_DECIDED = "decision_decided", "decided"
    TRANSITION = "transition", "moved"


class EmailMode(models.TextChoices):
    """How a notification is mailed: the recipient's preference (User.notifications) when it was made."""

    NONE = "none"
    INSTANT = "instant"
    DAILY = "daily"


class Notification(models.Model):
    """One thing that happened, for one person. Personal state (read, mailed) changes with UPDATEs that
    leave no audit row: nothing governed changes when someone reads their notifications."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications_received")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    subject_type = models.CharField(max_length=20, help_text="project, decision, comment or invitation")
    subject_id = models.CharField(max_length=64)
    subject_title = models.CharField(max_length=300, blank=True)
    url = models.CharField(max_length=500, help_text="The page of the subject, as a path on this site.")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    detail = models.CharField(max_length=300, blank=True, help_text="A few words more (a transition's states).")
    leaf_index = models.BigIntegerField(help_text="The ledger leaf this notification was made from.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Mail bookkeeping (notifications.mail): written with UPDATEs by the mail worker only.
    email_mode = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.NONE)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["leaf_index", "recipient", "kind"], name="notification_once_per_leaf"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient_idx"),
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
            models.Index(fields=["email_mode", "emailed_at"], name="notification_mail_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_title} → {self.recipient_id}"

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


class Watch(TimestampedModel):
    """Someone follows a project: its transitions and decided decisions reach them."""

    audit_entity_type = "watch"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="watches")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="watch_unique")]

    def __str__(self) -> str:
        return f"{self.user} watches {self.project}"

    def get_additional_data(self) -> dict:
        """Read by django-auditlog for every row about this watch: ties the row to the project."""
        return {"project_id": str(self.project_id)}


class BuilderState(models.Model):
    """The one builder's place in the ledger (a single row, pk 1): `cursor` is the next leaf to read.

    Moved only in the transaction that inserts the notifications of the rows it passes, so a worker
    that dies mid-run loses nothing and makes nothing twice. `lease_until` lets one run work at a time;
    `scheduled` says a run is queued already, so a busy ledger does not queue one per seal.
    """

    cursor = models.BigIntegerField(default=0)
    scheduled = models.BooleanField(default=False)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "notification builder"

    def __str__(self) -> str:
        return f"notification builder at leaf {self.cursor}"


class MailState(models.Model):
    """Per person: the mail worker's lease, its retries after a failed send, and the last daily digest."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    scheduled = models.BooleanField(default=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "notification mail state"

    def __str__(self) -> str:
        return f"mail state of {self.user_id}"


class MailPreference(User):
    """Each person's mail preference, for the admin's read-only list: the preference itself is the
    account's `notifications` field (one home: the account page and the API change it there)."""

    class Meta:
        proxy = True
        ordering = ["email"]
        verbose_name = "mail preference"
