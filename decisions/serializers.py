from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.api.fields import ProjectReferenceField, StrictFieldsMixin, reject_nul
from core.api.governed import allowed_transitions_field
from core.api.schema import page_of
from core.markdown import render_markdown

from .models import Decision, Review, Verdict
from .options import clean_options, clean_tags


class DecisionSerializer(serializers.ModelSerializer):
    related_decisions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    superseded_by = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    reviewers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    options = serializers.JSONField(help_text="[{id, label, description?, pros?[], cons?[]}]")
    tags = serializers.ListField(child=serializers.CharField())
    context_html = serializers.SerializerMethodField(help_text="`context` rendered from Markdown, sanitized.")
    rationale_html = serializers.SerializerMethodField(help_text="`rationale` rendered from Markdown, sanitized.")

    class Meta:
        model = Decision
        fields = [
            "id", "project", "title", "question", "context", "context_html", "options", "selected_option", "rationale",
            "rationale_html", "tags",
            "related_decisions", "supersedes", "superseded_by", "review_by", "reviewers", "required_approvals",
            "created_by", "decided_by", "decided_at", "state", "state_changed_at", "state_changed_by", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_context_html(self, decision) -> str:
        return render_markdown(decision.context)

    def get_rationale_html(self, decision) -> str:
        return render_markdown(decision.rationale)


def _validated(cleaner, value):
    try:
        return cleaner(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages)


class DecisionWriteSerializer(StrictFieldsMixin, serializers.Serializer):
    """Create/update input. Related decisions and `supersedes` are checked against the caller's
    visibility and the same project by the view and the service."""

    read_only_names = ("id", "state", "selected_option", "rationale", "context_html", "rationale_html", "decided_by",
                       "decided_at", "created_by", "state_changed_at", "state_changed_by", "superseded_by", "created_at",
                       "updated_at")
    project = ProjectReferenceField()
    title = serializers.CharField(max_length=200)
    question = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    context = serializers.CharField(required=False, allow_blank=True, max_length=50000)
    options = serializers.JSONField(required=False, help_text="[{id, label, description?, pros?[], cons?[]}]")
    tags = serializers.JSONField(required=False, help_text="List of strings")
    related_decisions = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100)
    supersedes = serializers.UUIDField(required=False, allow_null=True)
    review_by = serializers.DateField(required=False, allow_null=True)
    reviewers = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100,
                                      help_text="User ids: the project's owner or members")
    required_approvals = serializers.IntegerField(required=False, min_value=0, max_value=100,
                                                  help_text="Approvals decide needs (0: the owner decides alone)")

    def validate_title(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()

    def validate_options(self, value):
        return _validated(clean_options, reject_nul(value, "options"))

    def validate_tags(self, value):
        return _validated(clean_tags, reject_nul(value, "tags"))


class DecisionUpdateSerializer(DecisionWriteSerializer):
    project = None


class DecideRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    selected_option = serializers.CharField(max_length=50)
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class DecisionBodySerializer(DecisionSerializer):
    """A single decision's answer (retrieve, create, update, a transition's): the list item plus what the
    caller may run on it now. For the OpenAPI document: the viewset adds the field (GovernedObjectActions)."""

    allowed_transitions = allowed_transitions_field()

    class Meta(DecisionSerializer.Meta):
        fields = [*DecisionSerializer.Meta.fields, "allowed_transitions"]
        read_only_fields = fields


class DecisionTransitionResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    decision = DecisionBodySerializer()
    audit_id = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class ReviewSerializer(serializers.ModelSerializer):
    comment_html = serializers.SerializerMethodField(help_text="`comment` rendered from Markdown, sanitized.")

    class Meta:
        model = Review
        fields = ["id", "decision", "reviewer", "verdict", "option", "comment", "comment_html", "created_at"]
        read_only_fields = fields

    def get_comment_html(self, review) -> str:
        return render_markdown(review.comment)


ReviewPageSerializer = page_of(ReviewSerializer, description="A page of reviews, newest first (?limit=, ?offset=).")


class ReviewRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    option = serializers.CharField(required=False, allow_blank=True, max_length=50, default="",
                                   help_text="One of the decision's option ids: the one this reviewer prefers")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="", trim_whitespace=False)
