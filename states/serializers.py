"""In/out shapes of the state-machine and entity-state API. Rules live in services.py."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import ProjectReferenceField

from .models import (
    EntityState,
    validate_entity_id,
    validate_entity_type,
    validate_service,
    validate_state,
)
from .services import allowed_next_states

METADATA_MAX_DEPTH = 20


def clean_metadata(value, *, depth: int = 0):
    """A JSON object without NUL characters anywhere (PostgreSQL's jsonb refuses them: a 500 otherwise)."""
    if depth == 0 and not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    if depth > METADATA_MAX_DEPTH:
        raise serializers.ValidationError(f"Nested deeper than {METADATA_MAX_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Must not contain NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            clean_metadata(key, depth=depth + 1)
            clean_metadata(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            clean_metadata(item, depth=depth + 1)
    return value


# --- State machines ---------------------------------------------------------------------------------


class EdgeSerializer(serializers.Serializer):
    to = serializers.CharField(help_text="Target state.")
    name = serializers.CharField(
        allow_null=True, help_text="The model's transition name (project, decision); null for declared machines."
    )


class StateMachineSerializer(serializers.Serializer):
    entity_type = serializers.CharField()
    source = serializers.CharField(
        help_text="'model': derived at run time from CommandCentral's own FSM; 'declared': defined once in code.",
    )
    states = serializers.ListField(child=serializers.CharField())
    initial_state = serializers.CharField()
    terminal_states = serializers.ListField(child=serializers.CharField())
    transitions = serializers.DictField(
        child=EdgeSerializer(many=True),
        help_text="Every state → the transitions leaving it (empty list for a terminal state).",
    )


class RequirementSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The name a refusal lists in `missing`.")
    text = serializers.CharField(help_text="The same in plain words, as the checklists say it.")


class PermissionTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    from_ = serializers.ListField(child=serializers.CharField())
    to = serializers.CharField()
    requires = RequirementSerializer(many=True, help_text="What it needs besides the permission (400 while missing).")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


class PermissionRowSerializer(serializers.Serializer):
    OUTCOMES = ["allowed", "forbidden", "hidden"]

    action = serializers.CharField(help_text="e.g. project.pause, entity_state.track")
    description = serializers.CharField()
    rule = serializers.CharField(allow_null=True, help_text="Dotted path of the predicate that was evaluated.")
    transition = PermissionTransitionSerializer(allow_null=True)
    roles = serializers.DictField(
        child=serializers.ChoiceField(choices=OUTCOMES),
        help_text="role → allowed | forbidden (403) | hidden (404).",
    )


class PermissionMatrixSerializer(serializers.Serializer):
    roles = serializers.ListField(child=serializers.CharField())
    legend = serializers.DictField(child=serializers.CharField())
    actions = PermissionRowSerializer(many=True)


# --- Entity states ----------------------------------------------------------------------------------


class EntityStateSerializer(serializers.ModelSerializer):
    allowed_next_states = serializers.SerializerMethodField(
        help_text="States the entity's machine allows from current_state; null when its type has no machine "
        "(then any other state is allowed). Whether *you* may run them depends on your role."
    )

    class Meta:
        model = EntityState
        fields = [
            "id", "service", "entity_type", "entity_id", "project", "current_state", "allowed_next_states",
            "last_transition_at", "last_transition_by", "last_transition_from", "metadata", "registered_by",
            "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_allowed_next_states(self, entity) -> list[str] | None:
        return allowed_next_states(entity)


class EntityStateRegisterSerializer(serializers.Serializer):
    service = serializers.CharField(max_length=100, validators=[validate_service],
                                    help_text="The calling service's name, e.g. task-runner.")
    entity_type = serializers.CharField(max_length=50, validators=[validate_entity_type],
                                        help_text="task, hypothesis, evidence, or a type without a machine.")
    entity_id = serializers.CharField(max_length=255, validators=[validate_entity_id],
                                      help_text="The entity's id in its own service (no '/').")
    project = ProjectReferenceField(required=False, allow_null=True,
                                    help_text="The project the entity belongs to (its id or slug); omit for a "
                                              "project-less entity.")
    initial_state = serializers.CharField(
        max_length=50, required=False, allow_blank=True, validators=[validate_state],
        help_text="Defaults to the machine's initial state; required for a type without a machine.",
    )
    metadata = serializers.JSONField(required=False, validators=[clean_metadata], help_text="A JSON object.")

    def validate_initial_state(self, value):
        return value or None

    def to_internal_value(self, data):
        if isinstance(data, dict) and (unknown := set(data) - set(self.fields)):
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return super().to_internal_value(data)


class EntityTransitionSerializer(serializers.Serializer):
    to_state = serializers.CharField(max_length=50, validators=[validate_state])
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="",
                                      help_text="Why? Stored in the audit trail.")


class EntityTransitionResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    entity_state = EntityStateSerializer()
    allowed_next_states = serializers.ListField(child=serializers.CharField(), allow_null=True)
    audit_id = serializers.IntegerField(help_text="The transition_success audit row.")


# --- Error bodies (documentation only) ---------------------------------------------------------------


class EntityTransitionRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_state = serializers.CharField()
    allowed_transitions = serializers.ListField(
        child=serializers.CharField(), allow_null=True,
        help_text="Target states allowed from current_state (null: the type has no machine, any other state).",
    )


FIELD_ERRORS = OpenApiTypes.OBJECT  # {"field": ["message", ...]}
