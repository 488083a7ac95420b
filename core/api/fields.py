"""Serializer pieces shared by the apps' input serializers."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_JSON_BYTES = 64 * 1024
# A slug (letters, digits, - and _) or a UUID (hex and -, a subset of the same characters).
SLUG_OR_UUID = re.compile(r"[-a-zA-Z0-9_]+")


def reject_nul(value, path: str = "value"):
    """PostgreSQL cannot store \\u0000 in jsonb/text: refuse it anywhere inside a JSON value (400, not 500)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"{path} must not contain NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key, path)
            reject_nul(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            reject_nul(item, f"{path}[{index}]")
    return value


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (dict), NUL-free and of bounded size."""

    default_error_messages = {"not_object": "Must be a JSON object.", "too_big": "Too large (max 64 KiB)."}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        if len(str(value)) > MAX_JSON_BYTES:
            self.fail("too_big")
        return reject_nul(value, self.field_name)


class StrictFieldsMixin:
    """Unknown keys are a 400, not silently ignored: a typo must not look like success. A text field
    given a number, a list or an object is a 400 too (DRF's CharField would turn 0 into "0")."""

    def to_internal_value(self, data):
        wrong = {}
        if isinstance(data, dict):
            wrong = {
                name: ["Not a valid string."]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField) and not field.read_only
                and name in data and data[name] is not None and not isinstance(data[name], str)
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as invalid:
            if wrong and isinstance(invalid.detail, dict):
                raise serializers.ValidationError({**invalid.detail, **wrong}) from None
            raise
        if wrong:
            raise serializers.ValidationError(wrong)
        return value

    def validate(self, attrs):
        if hasattr(self, "initial_data") and isinstance(self.initial_data, dict):
            known = set(self.fields)
            unknown = sorted(set(self.initial_data) - known)
            if unknown:
                read_only = [key for key in unknown if key in getattr(self, "read_only_names", ())]
                raise serializers.ValidationError(
                    {key: ["This field is read-only."] if key in read_only else ["Unknown field."] for key in unknown}
                )
        return super().validate(attrs)


class ProjectReferenceField(serializers.CharField):
    """A project named by its id or its slug, in a body as in URLs and `?project=`. Only the form is
    checked here; the view resolves it among the projects the caller may see (404 otherwise)."""

    default_error_messages = {"invalid": "Give a project's id or slug."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 220)
        kwargs.setdefault("help_text", "A project's id or slug.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, (bool, int, float, list, dict)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not SLUG_OR_UUID.fullmatch(value):
            self.fail("invalid")
        return value
