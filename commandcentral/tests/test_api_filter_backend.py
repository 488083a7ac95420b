"""FilterBackend skips django-filter only when the request names none of the FilterSet's parameters."""

import django_filters
import pytest
from django.urls import reverse
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIRequestFactory
from rest_framework.request import Request

from audit.filters import AuditEntryFilter
from core.api.support import FilterBackend
from projects.filters import ProjectFilter
from projects.models import Project, ProjectState
from projects.tests.factories import ProjectFactory


class _View:
    def __init__(self, filterset_class):
        self.filterset_class = filterset_class


def _request(query: str = ""):
    return Request(APIRequestFactory().get(f"/anything/{query}"))


def test_parameter_names_cover_every_filter():
    names = FilterBackend._parameter_names(ProjectFilter)
    assert names == {"state", "owner", "member", "search"}
    assert {"project", "event_type", "actor", "since", "until"} <= FilterBackend._parameter_names(AuditEntryFilter)


def test_range_filters_are_named_by_their_suffixes():
    class RangeFilter(django_filters.FilterSet):
        created = django_filters.DateFromToRangeFilter()

        class Meta:
            model = Project
            fields = ["created"]

    assert FilterBackend._parameter_names(RangeFilter) == {"created_after", "created_before"}


def test_required_filters_are_never_skipped():
    class Required(django_filters.FilterSet):
        state = django_filters.CharFilter(required=True)

        class Meta:
            model = Project
            fields = ["state"]

    assert FilterBackend._parameter_names(Required) is None
    with pytest.raises(ValidationError):
        FilterBackend().filter_queryset(_request(), Project.objects.all(), _View(Required))


def test_no_filter_parameter_returns_the_queryset_itself(db):
    queryset = Project.objects.all()
    assert FilterBackend().filter_queryset(_request("?limit=50"), queryset, _View(ProjectFilter)) is queryset


def test_a_named_filter_still_filters_and_validates(db, owner):
    ProjectFactory(owner=owner)
    active = ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    filtered = FilterBackend().filter_queryset(_request("?state=active&limit=5"), Project.objects.all(), _View(ProjectFilter))
    assert list(filtered) == [active]
    with pytest.raises(ValidationError):
        FilterBackend().filter_queryset(_request("?owner=not-a-uuid"), Project.objects.all(), _View(ProjectFilter))


def test_api_list_without_filters_and_with_one(api_client, owner):
    ProjectFactory(owner=owner)
    ProjectFactory(owner=owner, state=ProjectState.ACTIVE)
    api_client.force_authenticate(owner)
    assert api_client.get(reverse("api:project-list"), {"limit": 10}).json()["count"] == 2
    assert api_client.get(reverse("api:project-list"), {"state": "active"}).json()["count"] == 1
