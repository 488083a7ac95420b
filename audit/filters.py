import uuid
from datetime import timezone as dt_timezone

import django_filters
from django.apps import apps

from .models import ActorType, AuditEntry, AuditEventType


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant, compared in UTC. Python takes offsets up to ±23:59, PostgreSQL only up to
    ±15:59: `since=…+20:25` reached the database as written and failed there (a 500). In UTC every
    instant Python accepts is one the database accepts."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(dt_timezone.utc) if value is not None else value)


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
    since = InstantFilter(field_name="timestamp", lookup_expr="gte")
    until = InstantFilter(field_name="timestamp", lookup_expr="lt")

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
