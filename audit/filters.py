import django_filters

from .models import ActorType, AuditEntry, AuditEventType


class AuditEntryFilter(django_filters.FilterSet):
    """The caller's visibility is applied before this (AuditEntry.objects.visible_to)."""

    project = django_filters.UUIDFilter(field_name="project_id")
    entity_type = django_filters.CharFilter()
    entity_id = django_filters.CharFilter()
    actor = django_filters.UUIDFilter(field_name="actor_id")
    actor_type = django_filters.ChoiceFilter(choices=ActorType.choices)
    # distinct=False: one column, no join, no duplicates; SELECT DISTINCT made PostgreSQL read every
    # matching row before LIMIT (a page grew with the trail, bench/README.md).
    event_type = django_filters.MultipleChoiceFilter(choices=AuditEventType.choices, distinct=False)
    event_name = django_filters.CharFilter()
    success = django_filters.BooleanFilter()
    cid = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["project", "entity_type", "entity_id", "actor", "event_type", "success", "since", "until"]
