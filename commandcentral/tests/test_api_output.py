"""The cheaper output serializers (core.api.speedups.output) produce exactly what plain DRF produces."""

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as django_timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from audit.models import AuditEntry
from audit.serializers import AuditEntrySerializer
from accounts.serializers import UserSummarySerializer
from core.api.speedups.output import CachedFieldsMixin, FastOutputMixin
from core.transitions import perform_transition
from projects.models import Membership
from projects.serializers import MembershipSerializer, ProjectSerializer, ProjectWriteSerializer


def plain(serializer_class):
    """The same declared fields and Meta on a plain ModelSerializer (DRF's own code path throughout)."""
    attrs = {"Meta": serializer_class.Meta, **copy.deepcopy(serializer_class._declared_fields)}
    return type(f"Plain{serializer_class.__name__}", (serializers.ModelSerializer,), attrs)


@pytest.fixture
def busy_project(project, owner):
    """A project with every kind of value set: a transition (state_changed_*), JSON, URL."""
    project.settings = {"flags": {"beta": True}, "ratio": 0.5, "list": [1, "two", None]}
    project.metadata = {"ünïcode": "✓"}
    project.repo_url = "https://example.com/repo"
    project.save()
    perform_transition(project, "activate", actor=owner, rationale="go")
    return project


def test_project_output_matches_plain_drf(busy_project):
    fast = ProjectSerializer(busy_project).data
    assert fast == plain(ProjectSerializer)(busy_project).data
    assert fast["state"] == "active" and fast["owner"]["email"] == busy_project.owner.email
    assert fast["created_at"].endswith("Z")


def test_project_list_output_matches_plain_drf(busy_project, owner):
    from projects.tests.factories import ProjectFactory

    ProjectFactory.create_batch(3, owner=owner)
    projects = list(busy_project.__class__.objects.visible_to(owner).select_related("owner"))
    assert ProjectSerializer(projects, many=True).data == plain(ProjectSerializer)(projects, many=True).data


def test_audit_entry_output_matches_plain_drf(busy_project):
    entries = list(AuditEntry.objects.filter(project=busy_project).order_by("id"))
    assert len(entries) >= 2  # auditlog's created/updated rows and the transition row
    assert AuditEntrySerializer(entries, many=True).data == plain(AuditEntrySerializer)(entries, many=True).data


def test_user_and_membership_output_match_plain_drf(project, member):
    membership = Membership.objects.select_related("user").get(project=project, user=member)
    assert UserSummarySerializer(member).data == plain(UserSummarySerializer)(member).data
    assert MembershipSerializer(membership).data == plain(MembershipSerializer)(membership).data


def test_datetime_output_follows_the_active_timezone_like_drf(busy_project):
    with django_timezone.override("Europe/Paris"):
        fast = ProjectSerializer(busy_project).data
        assert fast == plain(ProjectSerializer)(busy_project).data
    assert fast["created_at"].endswith(("+01:00", "+02:00"))


def test_non_utc_aware_datetime_is_converted_like_drf(busy_project):
    busy_project.state_changed_at = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=5)))
    fast = ProjectSerializer(busy_project).data
    assert fast["state_changed_at"] == plain(ProjectSerializer)(busy_project).data["state_changed_at"]
    assert fast["state_changed_at"] == "2026-01-01T22:04:05.000678Z"


def test_cached_fields_are_fresh_copies_per_instance(busy_project):
    first, second = ProjectSerializer(busy_project), ProjectSerializer(busy_project)
    assert list(first.fields) == list(second.fields)
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second


def test_write_serializer_with_cached_fields_still_validates(db):
    assert issubclass(ProjectWriteSerializer, CachedFieldsMixin)
    for _ in range(2):  # the second instance is built from the cached fields
        bad = ProjectWriteSerializer(data={"name": " ", "settings": []})
        assert not bad.is_valid()
        assert set(bad.errors) == {"name", "settings"}
    good = ProjectWriteSerializer(data={"name": "Ok", "repo_url": "https://example.com"})
    assert good.is_valid(), good.errors


def test_mapping_instances_fall_back_to_drf(busy_project):
    row = {"id": busy_project.owner.pk, "email": "x@example.com", "name": "X", "handle": "x"}
    assert UserSummarySerializer(row).data == {"id": str(busy_project.owner.pk), "email": "x@example.com", "name": "X", "handle": "x"}
    assert issubclass(UserSummarySerializer, FastOutputMixin)


# --- the `.values()` list path (ValuesListMixin) ---------------------------------------------------


def values_output(serializer_class, queryset):
    return serializer_class.represent_values(queryset.values(*serializer_class.values_lookups()))


def test_project_values_rows_match_plain_drf(busy_project, owner):
    from projects.tests.factories import ProjectFactory

    ProjectFactory.create_batch(2, owner=owner)  # state_changed_by null, busy_project's set
    queryset = busy_project.__class__.objects.visible_to(owner).select_related("owner").order_by("-created_at")
    fast = values_output(ProjectSerializer, queryset)
    assert len(fast) == 3
    assert fast == plain(ProjectSerializer)(list(queryset), many=True).data
    busy = next(row for row in fast if row["id"] == str(busy_project.pk))
    assert busy["state_changed_by"] == owner.pk and busy["owner"] == {"id": str(owner.pk), "email": owner.email,
                                                                     "name": owner.name, "handle": owner.handle}
    assert busy["settings"] == {"flags": {"beta": True}, "ratio": 0.5, "list": [1, "two", None]}


def test_audit_values_rows_match_plain_drf(busy_project):
    queryset = AuditEntry.objects.filter(project=busy_project).order_by("-id")
    fast = values_output(AuditEntrySerializer, queryset)
    assert len(fast) >= 2 and fast[0]["event_type"] == "transition_success"
    assert fast == plain(AuditEntrySerializer)(list(queryset), many=True).data
    assert "serialized_data" not in AuditEntrySerializer.values_lookups()  # only what is printed is read


def test_values_rows_follow_the_active_timezone_like_drf(busy_project, owner):
    queryset = busy_project.__class__.objects.filter(pk=busy_project.pk).select_related("owner")
    with django_timezone.override("Europe/Paris"):
        fast = values_output(ProjectSerializer, queryset)
        assert fast == plain(ProjectSerializer)(list(queryset), many=True).data
    assert fast[0]["created_at"].endswith(("+01:00", "+02:00"))


def test_serializer_needing_the_model_has_no_values_path(db):
    class WithMethod(FastOutputMixin, serializers.ModelSerializer):
        label = serializers.SerializerMethodField()

        class Meta:
            model = AuditEntry
            fields = ["id", "label"]

        def get_label(self, entry):
            return str(entry)

    class WithNestedDotted(FastOutputMixin, serializers.ModelSerializer):
        owner_email = serializers.CharField(source="owner.email")

        class Meta:
            model = ProjectSerializer.Meta.model
            fields = ["id", "owner_email"]

    assert WithMethod.values_lookups() is None
    assert WithNestedDotted.values_lookups() is None
    assert ProjectSerializer.values_lookups() is not None


def test_project_list_api_is_the_plain_serializer_output(api_client, busy_project, owner):
    api_client.force_authenticate(owner)
    response = api_client.get("/api/v1/projects/")
    assert response.status_code == 200
    expected = plain(ProjectSerializer)([busy_project.__class__.objects.get(pk=busy_project.pk)], many=True).data
    assert response.json()["results"] == json.loads(JSONRenderer().render(expected))


def test_a_serializer_with_a_method_field_prints_through_drf(busy_project):
    class WithMethod(FastOutputMixin, serializers.ModelSerializer):
        label = serializers.SerializerMethodField()

        class Meta:
            model = busy_project.__class__
            fields = ["id", "name", "label", "created_at"]

        def get_label(self, project):
            return f"{project.name} ({project.state})"

    assert WithMethod.values_lookups() is None
    plain_with_method = type("PlainWithMethod", (plain(WithMethod),), {"get_label": WithMethod.get_label})
    fast = WithMethod(busy_project).data
    assert fast == plain_with_method(busy_project).data
    assert fast["label"] == f"{busy_project.name} (active)"


def test_a_custom_field_prints_bound_with_the_serializers_context(busy_project):
    class Suffixed(serializers.CharField):  # a subclass of a plain field: not plain any more
        def to_representation(self, value):
            return f"{value}{self.context['suffix']} ({self.parent.__class__.__name__})"

    class WithCustomField(FastOutputMixin, serializers.ModelSerializer):
        name = Suffixed(read_only=True)

        class Meta:
            model = busy_project.__class__
            fields = ["id", "name", "created_at"]

    assert WithCustomField.values_lookups() is None  # lists go through DRF's ListModelMixin
    fast = WithCustomField(busy_project, context={"suffix": "!"}).data
    assert fast["name"] == f"{busy_project.name}! (WithCustomField)"
    plain_custom = plain(WithCustomField)(busy_project, context={"suffix": "!"}).data
    assert {**fast, "name": None} == {**plain_custom, "name": None}
    many = WithCustomField([busy_project], many=True, context={"suffix": "?"}).data
    assert many[0]["name"] == f"{busy_project.name}? (WithCustomField)"


def test_custom_fields_are_fresh_per_serializer_like_drf(busy_project):
    class Counting(serializers.CharField):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def to_representation(self, value):
            self.seen.append(value)
            return f"{value} #{len(self.seen)}"

    class WithCounter(FastOutputMixin, serializers.ModelSerializer):
        name = Counting(read_only=True)

        class Meta:
            model = busy_project.__class__
            fields = ["id", "name"]

    first, second = WithCounter(busy_project).data, WithCounter(busy_project).data
    assert first["name"] == second["name"] == f"{busy_project.name} #1"


def test_a_serializer_printing_its_own_way_has_no_plan(busy_project):
    class WithViewer(FastOutputMixin, serializers.ModelSerializer):
        class Meta:
            model = busy_project.__class__
            fields = ["id", "name"]

        def to_representation(self, instance):
            return {**super().to_representation(instance), "viewer": self.context["viewer"]}

    assert WithViewer.values_lookups() is None
    assert WithViewer(busy_project, context={"viewer": "v"}).data == {
        "id": str(busy_project.pk), "name": busy_project.name, "viewer": "v"}
