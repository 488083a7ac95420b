"""OpenAPI shapes of the error bodies every operation can answer (drf-spectacular documents only
2xx unless told; schemathesis checks every status against the schema)."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error body (core.errors.error_body): a sentence, a stable code, and the fields that were wrong."""

    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="What went wrong, for a program: invalid, not_found, permission_denied, "
                                           "invalid_state, requirements_missing, throttled…")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="Field name → its messages, when fields were wrong.")

    class Meta:
        ref_name = "Error"


class ValidationErrorSerializer(ErrorSerializer):
    """An error body for bad input: `errors` names the fields; a refused query string lists `accepted`."""

    errors = serializers.JSONField(required=False, help_text="Field name → its messages (nested for nested fields).")
    accepted = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="Unknown query parameters: the ones this operation accepts.")

    class Meta:
        ref_name = "ValidationError"


class TransitionConflictSerializer(ErrorSerializer):
    current_state = serializers.CharField()
    allowed_transitions = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "TransitionConflict"


class RequirementsMissingSerializer(ValidationErrorSerializer):
    missing = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        ref_name = "RequirementsMissing"


def _error(description):
    return OpenApiResponse(ErrorSerializer, description=description)


ERRORS = {
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid input"),
    401: _error("Missing or invalid credentials"),
    403: _error("Visible, but not allowed for this user (recorded as permission_denied)"),
    404: _error("Not found, or not visible to this user"),
    409: _error("Conflicts with the object's current state"),
    413: _error("Request body too large"),
    422: _error("Well-formed, but it does not verify (a signature or a proof)"),
    429: _error("Throttled; see Retry-After"),
    503: _error("Not available yet or any more; see Retry-After"),
}


def errors(*codes: int) -> dict:
    """The documented error responses for an operation (401 and 429 are always possible): JSON, also for an
    operation that answers a file (core.api.support.exception_handler)."""
    return {(code, JSON): ERRORS[code] for code in sorted({401, 429, *codes})}


JSON = "application/json"
TRANSITION_ERRORS = {
    **errors(403, 404),
    (400, JSON): OpenApiResponse(RequirementsMissingSerializer, description="Requirements missing (named in `missing`) or invalid input"),
    (409, JSON): OpenApiResponse(TransitionConflictSerializer, description="Not allowed from the current state"),
}


def page_of(serializer_class, *, description: str = ""):
    """The OpenAPI shape of a limit/offset page of `serializer_class` ({count, next, previous, results}), for
    a view that pages by hand (an APIView): drf-spectacular wraps only a list action of a paginated viewset."""
    name = serializer_class.__name__.removesuffix("Serializer") + "PageSerializer"
    return type(name, (serializers.Serializer,), {
        "__doc__": description or f"A page of {serializer_class.__name__.removesuffix('Serializer').lower()}s (?limit=, ?offset=).",
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    })
