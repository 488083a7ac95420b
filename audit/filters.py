import uuid

import django_filters
from django.apps import apps

from .models import ActorType, AuditEntry, AuditEventType


class AuditEntryFilter(django_filters.FilterSet):
    """The caller's visibility is applied before this (AuditEntry.objects.visible_to)."""

    project = django_filters.CharFilter(method="filter_project", help_text="A project's id or slug.")
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

    def filter_project(self, queryset, name, value):
        """By id, or by the slug of a live project (as `export_audit --project` takes it)."""
        try:
            return queryset.filter(project_id=uuid.UUID(value))
        except ValueError:
            live = apps.get_model("projects", "Project").objects.live().filter(slug=value).values("pk")
            return queryset.filter(project_id__in=live)

    class Meta:
        model = AuditEntry
        fields = ["project", "entity_type", "entity_id", "actor", "event_type", "success", "since", "until"]
