"""This instance as a witness of other logs over HTTP (C2SP tlog-witness): add-checkpoint and its key.

No authentication, as the protocol has none beyond the log's signature on the checkpoint: only the logs
listed in AUDIT_WITNESS_LOGS are witnessed, and the anonymous throttle bounds everyone else.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from core.api.schema import errors

from .api_ledger import TEXT, PlainTextRenderer
from .ledger.witnessing import WitnessConfigurationError, WitnessRefusal, add_checkpoint, record_refusal, witness_key


def _text(body: str, status: int = 200, content_type: str = "text/plain") -> HttpResponse:
    return HttpResponse(body if body.endswith("\n") else f"{body}\n", status=status, content_type=f"{content_type}; charset=utf-8")


class WitnessKeyView(APIView):
    """The cosigner verifier key of this instance's witness (public)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        operation_id="witness_key", tags=["ledger"],
        summary="Cosigner verifier key of this instance as a witness (name+hash+base64(0x04 ‖ key))",
        responses={(200, "text/plain"): TEXT, **errors()},
    )
    def get(self, request):
        try:
            return _text(str(witness_key().verifier))
        except WitnessConfigurationError:
            return _text("This instance's witness key is misconfigured.", 503)


class WitnessAddCheckpointView(APIView):
    """Cosign another log's checkpoint if it extends the last one this witness cosigned for that log."""

    permission_classes = [AllowAny]
    authentication_classes = []  # the log's signature on the checkpoint is the credential; no CSRF either
    renderer_classes = [PlainTextRenderer]

    @extend_schema(
        operation_id="witness_add_checkpoint", tags=["ledger"],
        summary="Submit a checkpoint with a consistency proof; get this witness's cosignature (C2SP tlog-witness)",
        request=OpenApiRequest(OpenApiTypes.STR, examples=[OpenApiExample(
            "add-checkpoint", media_type="text/plain",
            value="old 20\n<base64 hash>\n<base64 hash>\n\nexample.org/log\n25\n<base64 root>\n\n— example.org/log <base64 signature>\n",
        )]),
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="the cosignature line(s)"),
            (409, "text/x.tlog.size"): OpenApiResponse(OpenApiTypes.STR, description="the size this witness knows for the log"),
            # The protocol's own refusals are a line of text, as C2SP tlog-witness has them; only what the
            # framework refuses before the protocol is read (a throttle) is the API's JSON error body.
            **{(code, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=text) for code, text in (
                (400, "malformed"), (403, "bad signature"), (404, "unknown log"), (422, "the proof does not verify"),
                (503, "this witness is misconfigured"))},
            **{key: value for key, value in errors().items() if key[0] == 429},
        },
    )
    def post(self, request):
        body = request.body
        try:
            return _text(add_checkpoint(body))
        except WitnessRefusal as refusal:
            if refusal.evidence:
                record_refusal(refusal, body)
            return _text(str(refusal), refusal.status, refusal.content_type)
        except WitnessConfigurationError:
            return _text("This witness is misconfigured (AUDIT_WITNESS_LOGS or its key); see its log.", 503)
