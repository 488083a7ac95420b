"""The transition actions of a governed object's API (a project, a decision): running one, and what the
caller may run now. The object's audit rows are the audit app's action (audit.pagination.AuditTrailAction):
the core imports no app."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from core.transitions import allowed_specs, allowed_transitions, perform_transition

from .fields import StrictFieldsMixin
from .speedups.output import CachedFieldsMixin
from .schema import errors


class TransitionRequestSerializer(StrictFieldsMixin, CachedFieldsMixin, serializers.Serializer):
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class TransitionsSerializer(serializers.Serializer):
    current_state = serializers.CharField()
    allowed_transitions = serializers.ListField(child=serializers.CharField())


class AllowedTransitionSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The transition, e.g. activate: POST {id}/{name}/ runs it.")
    to_state = serializers.CharField(help_text="The state it leads to.")


def allowed_transitions_field():
    """The documented `allowed_transitions` of a single object's body (GovernedObjectActions.body fills it)."""
    return AllowedTransitionSerializer(
        many=True, read_only=True,
        help_text="What you may run on it now, and where each leads (requirements aside: a refusal names what is missing).")


class GovernedObjectActions:
    """Mixed into a governed object's ModelViewSet. The viewset declares one action per transition, so
    that the OpenAPI document names each, returning `self._transition(request, name)`; its
    `transition_result` says what a done transition answers.

    A single object's answer (retrieve, create, update, a transition's) carries `allowed_transitions` for
    the caller, each with its target state, so a client needs no second call to `transitions/`. Lists
    leave it out: it is decided per object and per caller, and a page of fifty would pay for it fifty times.
    """

    def body(self, obj, data: dict) -> dict:
        """`data`, the serialized `obj`, with what the caller may run on it now."""
        allowed = [{"name": spec.name, "to_state": spec.target} for spec in allowed_specs(obj, self.request.user)]
        return {**data, "allowed_transitions": allowed}

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        return Response(self.body(obj, self.get_serializer(obj).data))

    def _transition(self, request, name: str, payload_class=TransitionRequestSerializer):
        obj = self.get_object()
        payload = payload_class(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = perform_transition(obj, name, actor=request.user, **payload.validated_data)
        return Response(self.transition_result(obj, name, entry, payload.validated_data))

    def transition_result(self, obj, name: str, entry, params: dict) -> dict:
        """The body of a done transition's answer: `entry` is its audit row, `params` what was sent."""
        raise NotImplementedError

    # No docstrings on the actions: drf-spectacular would take them as the operations' descriptions.
    @extend_schema(responses={200: TransitionsSerializer, **errors(404)})
    @action(detail=True, methods=["get"])
    def transitions(self, request, pk=None):
        obj = self.get_object()
        return Response({"current_state": obj.state, "allowed_transitions": allowed_transitions(obj, request.user)})
