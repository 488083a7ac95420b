from rest_framework import serializers

from .models import WebhookDelivery, WebhookSubscription


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id", "project", "url", "description", "event_types", "event_names", "active", "paused_reason",
            "cursor", "consecutive_failures", "next_attempt_at", "last_success_at", "last_failure_at",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """On create only: the signing secret (Standard Webhooks form, `whsec_…`), never shown again."""

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=20,
                                        help_text="Only rows of these event types (empty: all).")
    event_names = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100,
                                        help_text="Only rows with these event names, e.g. decision.decide (empty: all).")
    active = serializers.BooleanField(required=False, help_text="false pauses; true resumes a paused subscription.")


class RedeliverSerializer(serializers.Serializer):
    from_leaf = serializers.IntegerField(required=False, min_value=0,
                                         help_text="Deliver again from this leaf index (default: where delivery stands).")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "leaf_index", "entry_id", "event_name", "message_id", "attempt", "attempted_at", "status_code",
                  "duration_ms", "response_excerpt", "error", "succeeded"]
        read_only_fields = fields
