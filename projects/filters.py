"""One FilterSet per list: the API and the pages use the same one."""

import django_filters
from django.db.models import Q

from .models import Project, ProjectState


class ProjectFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ProjectState.choices, distinct=False)  # one column: no duplicates
    owner = django_filters.UUIDFilter(field_name="owner_id")
    member = django_filters.UUIDFilter(method="filter_member", label="Member (user id)")
    search = django_filters.CharFilter(method="filter_search", label="Search name or description")

    class Meta:
        model = Project
        fields = ["state", "owner", "member", "search"]

    def filter_member(self, queryset, name, value):
        return queryset.filter(Q(memberships__user_id=value) | Q(owner_id=value)).distinct()

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))
