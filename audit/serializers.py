from rest_framework import serializers

from core.api.speedups.output import FastOutputMixin

from .models import AuditEntry


class AuditEntrySerializer(FastOutputMixin, serializers.ModelSerializer):
    actor = serializers.UUIDField(source="actor_id", read_only=True, allow_null=True)
    project = serializers.UUIDField(source="project_id", read_only=True, allow_null=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id", "timestamp", "event_type", "event_name", "entity_type", "entity_id", "project", "actor",
            "actor_email", "actor_type", "success", "transition", "from_state", "to_state", "rationale",
            "failure_reason", "changes", "extra", "cid", "remote_addr",
        ]
        read_only_fields = fields


def event_data(entry: AuditEntry, leaf_index: int) -> dict:
    """A sealed row as its subscribers receive it: the row as events/{id}/ shows it, plus its leaf index.

    One rule for every push channel: a webhook delivery's `data` and an event-stream message's `data`
    are this dict, so a client can switch channels (or verify either against the ledger) unchanged.
    """
    data = dict(AuditEntrySerializer(entry).data)
    data["leaf_index"] = leaf_index
    return data


class EventStatsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    total = serializers.IntegerField()
    success = serializers.IntegerField()
    denied = serializers.IntegerField()
    by_event_type = serializers.DictField(child=serializers.IntegerField())
    by_day = serializers.ListField(child=serializers.DictField())


class AuditEntryCursorPageSerializer(serializers.Serializer):
    """A cursor page (newest first): follow `next` until it is null."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AuditEntrySerializer(many=True)
