from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.access import team_projects
from core.api.speedups.output import FastOutputMixin

from .models import InvitationRole


class UserSummarySerializer(FastOutputMixin, serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "email", "name", "handle"]


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "email", "name", "handle", "is_staff", "is_active", "last_login", "created_at"]
        read_only_fields = fields


class TeamProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=["owner", "member", "viewer"], help_text="Your place on its team.")


class MeSerializer(UserSerializer):
    """You, and the projects you own or are on the team of, with your role in each (an operator sees every
    project, but is on the team of these)."""

    projects = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "projects"]
        read_only_fields = fields

    @extend_schema_field(TeamProjectSerializer(many=True))
    def get_projects(self, user) -> list[dict]:
        return [{"id": project.pk, "slug": project.slug, "name": project.name, "role": role}
                for project, role in team_projects(user)]


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    def validate_email(self, value):
        # Whether the address has an account is not said here: the view answers a taken one exactly as a
        # new one (accounts.api.RegisterView).
        return value.lower()

    def validate(self, attrs):
        candidate = get_user_model()(email=attrs["email"], name=attrs.get("name", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)})
        return attrs


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=2000)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    expires_in = serializers.IntegerField(help_text="Access token lifetime in seconds")


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class InvitationWriteSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=InvitationRole.choices, default=InvitationRole.MEMBER)


class InvitationSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.CharField(read_only=True)
    state = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"], read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    invited_by = UserSummarySerializer(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
