"""The ledger over HTTP: verifier key, signed checkpoints, proofs, status, verification."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import errors
from core.api.support import RetryLater
from core.errors import error_body

from .ledger.checkpoints import latest_checkpoint, ledger_status, verifier_key_text
from .ledger.proofs import ProofUnavailable, checkpoint_wait, consistency_proof, inclusion_proof
from .ledger.verification import verify_ledger


class PlainTextRenderer(renderers.BaseRenderer):
    """text/plain bodies (keys and signed notes); an error body is rendered as its detail line."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            data = f"{data.get('detail', data)}\n"
        return str(data).encode("utf-8")


TEXT = OpenApiResponse(OpenApiTypes.STR, description="text/plain")


class LedgerKeyView(APIView):
    """The verifier key of the ledger's signed checkpoints (public)."""

    permission_classes = [AllowAny]
    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        operation_id="ledger_key",
        tags=["ledger"],
        summary="Verifier key of the signed checkpoints (signed-note form name+hash+key)",
        responses={(200, "text/plain"): TEXT, **errors()},
    )
    def get(self, request):
        return Response(f"{verifier_key_text()}\n")


class LedgerCheckpointView(APIView):
    """The newest stored checkpoint with the witnesses' cosignatures. Reading never signs: checkpoints are
    made every AUDIT_CHECKPOINT_INTERVAL seconds by the maintenance task (or `manage.py audit_checkpoint`)."""

    permission_classes = [AllowAny]
    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        operation_id="ledger_checkpoint",
        tags=["ledger"],
        summary="Latest signed checkpoint (C2SP tlog-checkpoint in a signed note, with witness cosignatures)",
        responses={(200, "text/plain"): TEXT, **errors(404)},
    )
    def get(self, request):
        head = latest_checkpoint()
        if head is None:  # a new ledger: there is nothing to serve yet (not a fault of the server)
            raise RetryLater("No checkpoint has been signed yet; the maintenance task signs one within seconds.",
                             status_code=404, code="no_checkpoint_yet", retry_after=checkpoint_wait())
        return Response(head.note)


class InclusionProofQuerySerializer(serializers.Serializer):
    tree_size = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62,
        help_text="Prove inclusion in the signed checkpoint of this size (default: the newest checkpoint).",
    )


class InclusionProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="base64 SHA-256(0x00 ‖ canonical)")
    inclusion_path = serializers.ListField(child=serializers.CharField(), help_text="base64 hashes, leaf side first (RFC 9162 §2.1.3)")
    canonical = serializers.CharField(help_text="base64 of the row's canonical bytes (docs/audit.md, 'The audit ledger')")
    checkpoint = serializers.CharField(help_text="the signed note of this tree size")


def inclusion_proof_response(entry_id: int, request) -> Response:
    query = InclusionProofQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    try:
        return Response(inclusion_proof(entry_id, query.validated_data.get("tree_size")))
    except ProofUnavailable as error:
        return unavailable(error)


def unavailable(error: ProofUnavailable) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return Response(error_body(409, str(error), code="proof_unavailable"), status=status.HTTP_409_CONFLICT, headers=headers)


INCLUSION_PROOF_SCHEMA = extend_schema(
    summary="Inclusion proof of one audit row in a signed tree",
    parameters=[OpenApiParameter("tree_size", int, description=InclusionProofQuerySerializer().fields["tree_size"].help_text)],
    responses={200: InclusionProofSerializer, **errors(400, 404, 409)},
)


class ConsistencyQuerySerializer(serializers.Serializer):
    first = serializers.IntegerField(min_value=0, max_value=2**62)
    second = serializers.IntegerField(min_value=0, max_value=2**62)

    def validate(self, attrs):
        if attrs["first"] > attrs["second"]:
            raise serializers.ValidationError({"first": ["Must not be greater than second."]})
        return attrs


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    consistency_path = serializers.ListField(child=serializers.CharField(), help_text="base64 hashes (RFC 9162 §2.1.4)")


class LedgerConsistencyView(APIView):
    """Proof that the tree of size `second` extends the tree of size `first` (public, like the checkpoint)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ledger_consistency",
        tags=["ledger"],
        summary="Consistency proof between two tree sizes",
        parameters=[OpenApiParameter("first", int, required=True), OpenApiParameter("second", int, required=True)],
        responses={200: ConsistencyProofSerializer, **errors(400, 409)},
    )
    def get(self, request):
        query = ConsistencyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            return Response(consistency_proof(query.validated_data["first"], query.validated_data["second"]))
        except ProofUnavailable as error:
            return unavailable(error)


class LedgerCheckpointInfoSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    created_at = serializers.DateTimeField()
    note = serializers.CharField()


class SignerRecordSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField(help_text="the last tree the signer signed")
    root_hash = serializers.CharField()
    signed_at = serializers.CharField()
    path = serializers.CharField(help_text="AUDIT_SIGNER_STATE, outside the database")


class WitnessStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()
    verifier_key = serializers.CharField()
    cosigned_size = serializers.IntegerField(help_text="the largest tree size this witness cosigned")
    last_error = serializers.CharField(allow_blank=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)


class LedgerStatusSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField()
    unsealed_rows = serializers.IntegerField()
    unqueued_rows = serializers.IntegerField(help_text="rows neither sealed nor queued: taken out of the ledger's reach")
    seal_lag_seconds = serializers.FloatField(help_text="how long the oldest unsealed row has waited")
    verifier_key = serializers.CharField()
    key_source = serializers.ChoiceField(choices=["environment", "file", "derived"], help_text="derived: development key from SECRET_KEY")
    last_checkpoint = LedgerCheckpointInfoSerializer(allow_null=True)
    diverged = serializers.CharField(allow_blank=True, help_text="'ledger diverged: …' once the signer refused to sign; empty otherwise")
    signer = SignerRecordSerializer(allow_null=True)
    witnesses = WitnessStatusSerializer(many=True)


class LedgerStatusView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="ledger_status", tags=["ledger"], summary="Ledger status (operators)",
        responses={200: LedgerStatusSerializer, **errors(403)},
    )
    def get(self, request):
        return Response(LedgerStatusSerializer(ledger_status()).data)


class LedgerBreakSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="changed_content, missing_row, leaf_without_row, unqueued_row, tree_mismatch, checkpoint_mismatch or diverged",
    )
    row_id = serializers.IntegerField(allow_null=True)
    leaf_index = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class LedgerVerifyQuerySerializer(serializers.Serializer):
    full = serializers.BooleanField(
        default=False, help_text="Recompute every leaf (slow on large trails) instead of those after the last stored checkpoint.",
    )


class LedgerReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    scope = serializers.ChoiceField(
        choices=["full", "since_checkpoint"],
        help_text="since_checkpoint: the leaves after the newest stored checkpoint whose signature holds (its frontier "
        "checked against its signed root); full: every leaf.",
    )
    anchor_size = serializers.IntegerField(help_text="the tree size the walk started after (0 = every leaf)")
    tree_size = serializers.IntegerField()
    leaves_checked = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="base64 root recomputed from the rows")
    checkpoints_checked = serializers.IntegerField()
    unsealed_rows = serializers.IntegerField()
    notes = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()

    def get_fields(self):
        # `break` is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["break"] = LedgerBreakSerializer(allow_null=True, help_text="The first break found, or null")
        return fields


class LedgerVerifyView(APIView):
    """Recompute every leaf from its row and check the stored tree and checkpoints (operators)."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="events_verify", tags=["events"], summary="Verify the audit ledger against the rows (operators)",
        parameters=[OpenApiParameter("full", bool, description=LedgerVerifyQuerySerializer().fields["full"].help_text)],
        responses={200: LedgerReportSerializer, **errors(400, 403)},
    )
    def get(self, request):
        query = LedgerVerifyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = verify_ledger(since_checkpoint=not query.validated_data["full"])
        return Response(LedgerReportSerializer({**report.as_dict(), "checked_at": timezone.now()}).data)


def visible_entry_id_or_404(queryset, pk) -> int:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        pk = None
    return get_object_or_404(queryset.values_list("id", flat=True), pk=pk) if pk is not None else get_object_or_404(queryset.none())
