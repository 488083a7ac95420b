"""GET /api/v1/events/verify/: the hash chain's status, for operators."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from commandcentral.api.schema import errors

from . import integrity


class ChainVerifyQuerySerializer(serializers.Serializer):
    full = serializers.BooleanField(
        default=False, help_text="Walk the whole chain from genesis (slow on large trails) instead of the tail."
    )


class ChainBreakSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="changed_content, sealed_before_request_context, missing_row, reordered_row or checkpoint_mismatch")
    row_id = serializers.IntegerField(allow_null=True)
    seq = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class ChainCheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    last_id = serializers.IntegerField(allow_null=True)
    seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    time = serializers.CharField(allow_null=True)
    signature_valid = serializers.BooleanField(allow_null=True, help_text="null when AUDIT_SIGNING_KEY is not set")


class ChainStatusSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    scope = serializers.CharField(
        help_text="since_checkpoint: rows after the last stored, validly signed checkpoint; tail: only the newest "
        "rows (bounded); full: every row.",
    )
    rows_checked = serializers.IntegerField()
    first_id = serializers.IntegerField(allow_null=True)
    last_id = serializers.IntegerField(allow_null=True)
    anchor_seq = serializers.IntegerField(help_text="seq of the row the walk started after (0 = genesis)")
    head_seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    checkpoint = ChainCheckpointSerializer(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()

    def get_fields(self):
        # `break` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["break"] = ChainBreakSerializer(allow_null=True, help_text="The first break found, or null")
        return fields


class AuditChainVerifyView(APIView):
    """Recompute the audit hash chain; bounded by default to the rows after the last checkpoint."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="events_verify",
        tags=["events"],
        summary="Verify the audit hash chain (operators)",
        parameters=[OpenApiParameter("full", bool, description=ChainVerifyQuerySerializer().fields["full"].help_text)],
        responses={200: ChainStatusSerializer, **errors(400, 403)},
    )
    def get(self, request):
        query = ChainVerifyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = integrity.chain_status(full=query.validated_data["full"])
        return Response(ChainStatusSerializer({**report.as_dict(), "checked_at": timezone.now()}).data)
