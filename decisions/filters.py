import django_filters
from django.db import connection
from django.db.models import Q

from .models import Decision, DecisionState


class DecisionFilter(django_filters.FilterSet):
    project = django_filters.UUIDFilter(field_name="project_id")
    state = django_filters.MultipleChoiceFilter(choices=DecisionState.choices, distinct=False)  # one column: no duplicates
    tag = django_filters.CharFilter(method="filter_tag", label="Tag")
    search = django_filters.CharFilter(method="filter_search", label="Search title, question or context")

    class Meta:
        model = Decision
        fields = ["project", "state", "tag", "search"]

    def filter_tag(self, queryset, name, value):
        if connection.features.supports_json_field_contains:
            return queryset.filter(tags__contains=[value])
        # SQLite has no JSON containment: match the quoted, JSON-encoded tag in the stored text.
        import json

        return queryset.filter(tags__icontains=json.dumps(value))

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(question__icontains=value) | Q(context__icontains=value))
