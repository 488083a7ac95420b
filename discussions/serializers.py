from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from core.api.fields import StrictFieldsMixin
from core.markdown import render_markdown

from .models import BODY_MAX_LENGTH, Comment


class CommentSerializer(serializers.ModelSerializer):
    """A comment as everyone reads it. A hidden one keeps its place but shows its text to operators only
    (context `shows_hidden`)."""

    author = UserSummarySerializer(read_only=True, allow_null=True)
    body_html = serializers.SerializerMethodField(help_text="`body` rendered from Markdown, sanitized.")
    mentions = serializers.PrimaryKeyRelatedField(many=True, read_only=True,
                                                  help_text="Ids of the people on the team its @handles name.")
    unresolved_mentions = serializers.ListField(child=serializers.CharField(), read_only=True,
                                                help_text="@handles that reach nobody on the project's team.")

    class Meta:
        model = Comment
        fields = ["id", "project", "decision", "author", "body", "body_html", "mentions", "unresolved_mentions",
                  "hidden", "created_at", "edited_at"]
        read_only_fields = fields

    def get_body_html(self, comment) -> str:
        return comment.body_html or render_markdown(comment.body)

    def to_representation(self, comment):
        data = super().to_representation(comment)
        if comment.hidden and not self.context.get("shows_hidden"):
            data.update(body="", body_html="", mentions=[], unresolved_mentions=[])
        return data


class CommentWriteSerializer(StrictFieldsMixin, serializers.Serializer):
    read_only_names = ("id", "project", "decision", "author", "body_html", "mentions", "unresolved_mentions",
                       "created_at", "edited_at")
    body = serializers.CharField(max_length=BODY_MAX_LENGTH, trim_whitespace=False,
                                 help_text=f"Markdown, at most {BODY_MAX_LENGTH} characters; @handle mentions a team member.")


class CommentUpdateSerializer(CommentWriteSerializer):
    read_only_names = CommentWriteSerializer.read_only_names
    body = serializers.CharField(max_length=BODY_MAX_LENGTH, trim_whitespace=False, required=False,
                                 help_text="The author's new text.")
    hidden = serializers.BooleanField(required=False, help_text="Operators only: hide it, or show it again.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if len(attrs) != 1:
            raise serializers.ValidationError({"body": ["Send either `body` (its author) or `hidden` (an operator)."]})
        return attrs
