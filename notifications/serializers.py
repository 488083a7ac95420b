from rest_framework import serializers

from accounts.models import User
from accounts.serializers import UserSummarySerializer
from core.api.fields import StrictFieldsMixin

from .models import Notification
from .services import MAX_ID, MAX_IDS


class SubjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="project, decision, comment or invitation")
    id = serializers.CharField()
    title = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    subject = serializers.SerializerMethodField()
    url = serializers.CharField(read_only=True, help_text="The page of the subject, a path on this site.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "actor", "subject", "url", "created_at", "read_at"]
        read_only_fields = fields

    def get_subject(self, notification) -> SubjectSerializer:
        return {"type": notification.subject_type, "id": notification.subject_id, "title": notification.subject_title}


class StrictIntegerField(serializers.IntegerField):
    """An id is a JSON integer: "5", 5.0 and true are refused (DRF's IntegerField would take them)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class MarkReadSerializer(StrictFieldsMixin, serializers.Serializer):
    ids = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=MAX_IDS,
                                help_text=f"Your notifications to mark read (at most {MAX_IDS}); leave out for all.")


class MarkReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were marked read now.")
    unread = serializers.IntegerField(help_text="How many of yours are still unread.")


class PreferencesSerializer(StrictFieldsMixin, serializers.Serializer):
    email = serializers.ChoiceField(choices=User.Notifications.choices,
                                    help_text="none: no mail; instant: a mail per notification; daily: one digest a day.")


class WatchSerializer(serializers.Serializer):
    project = serializers.UUIDField()
    watching = serializers.BooleanField()
