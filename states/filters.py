"""One FilterSet per list: the API and the pages use the same one."""

import django_filters

from .models import EntityState


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class EntityStateFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(field_name="service")
    entity_type = django_filters.CharFilter(field_name="entity_type")
    entity_id = django_filters.CharFilter(field_name="entity_id")
    project = django_filters.UUIDFilter(field_name="project_id")
    current_state = CharInFilter(
        field_name="current_state", lookup_expr="in", label="Current state (comma-separated for several)"
    )

    class Meta:
        model = EntityState
        fields = ["service", "entity_type", "entity_id", "project", "current_state"]
