"""Webhook subscriptions (per project) and the record of every delivery attempt."""

import base64
import secrets

from django.conf import settings
from django.db import models

from core.base_models import UUIDModel


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookSubscription(UUIDModel):
    """Where a project's audit rows are sent, which ones, and how far delivery has come.

    The ledger is the outbox: `cursor` is the next leaf index to consider, so every matching sealed row
    is delivered at least once and in leaf order, including rows sealed while the receiver was down.
    """

    DELIVERY_STATE = ("cursor", "consecutive_failures", "next_attempt_at", "scheduled", "lease_until",
                      "last_success_at", "last_failure_at")

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Only these event types (empty: all).")
    event_names = models.JSONField(default=list, blank=True, help_text="Only these event names (empty: all).")
    active = models.BooleanField(default=True)
    paused_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    # Delivery state: written by webhooks.delivery only, with UPDATEs that leave no audit row.
    cursor = models.BigIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    scheduled = models.BooleanField(default=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    audit_entity_type = "webhook"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"webhook {self.url}"

    def get_additional_data(self) -> dict:
        """Read by django-auditlog for every row about this subscription: ties the row to the project."""
        return {"project_id": str(self.project_id)}


class WebhookDelivery(models.Model):
    """One attempt to deliver one audit row to one subscription."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    leaf_index = models.BigIntegerField()
    entry_id = models.BigIntegerField()
    event_name = models.CharField(max_length=100)
    message_id = models.CharField(max_length=100, help_text="webhook-id: the same on every retry of this row.")
    attempt = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(db_index=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.FloatField()
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["subscription", "-id"], name="webhook_delivery_sub_idx")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"leaf {self.leaf_index} → {self.status_code or self.error[:40]}"
