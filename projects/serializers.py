from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from core.api.fields import JSONObjectField, StrictFieldsMixin
from core.api.governed import allowed_transitions_field
from core.api.speedups.output import CachedFieldsMixin, FastOutputMixin

from .models import Membership, MembershipRole, Project


class ProjectSerializer(FastOutputMixin, serializers.ModelSerializer):
    owner = UserSummarySerializer(read_only=True)
    repo_url = serializers.CharField(read_only=True, help_text="A URL, or empty")

    class Meta:
        model = Project
        fields = [
            "id", "name", "slug", "description", "state", "state_changed_at", "state_changed_by", "owner",
            "settings", "metadata", "repo_path", "repo_url", "created_at", "updated_at",
        ]
        read_only_fields = fields


class ProjectWriteSerializer(StrictFieldsMixin, CachedFieldsMixin, serializers.ModelSerializer):
    """Create/update input. `state` is never writable: transitions have their own endpoints."""

    read_only_names = ("id", "state", "state_changed_at", "state_changed_by", "owner", "created_at", "updated_at",
                       "deleted_at")
    settings = JSONObjectField(required=False)
    metadata = JSONObjectField(required=False)
    slug = serializers.SlugField(max_length=220, required=False, allow_blank=True)

    class Meta:
        model = Project
        fields = ["name", "slug", "description", "settings", "metadata", "repo_path", "repo_url"]
        # Slug uniqueness among live projects is the service's rule (it also generates slugs).
        validators = []

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class ProjectBodySerializer(ProjectSerializer):
    """A single project's answer (retrieve, create, update, a transition's): the list item plus what the
    caller may run on it now. For the OpenAPI document: the viewset adds the field (GovernedObjectActions)."""

    allowed_transitions = allowed_transitions_field()

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "allowed_transitions"]
        read_only_fields = fields


class ProjectTransitionResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    project = ProjectBodySerializer()
    audit_id = serializers.IntegerField()


class MembershipSerializer(FastOutputMixin, serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Who to add, by `user_id` or by `email` (one of them), and their role."""

    user_id = serializers.UUIDField(required=False)
    email = serializers.EmailField(required=False, max_length=254)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)

    def validate(self, attrs):
        if ("user_id" in attrs) == ("email" in attrs):
            raise serializers.ValidationError({"user_id": ["Give either user_id or email."]})
        return attrs
