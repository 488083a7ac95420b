"""Comments on a project or on one of its decisions."""

from django.conf import settings
from django.db import models

from core.base_models import UUIDModel

BODY_MAX_LENGTH = 20_000


class CommentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Comments of live projects this user can see, and of their live decisions."""
        from core import access

        live = self.filter(models.Q(decision__isnull=True) | models.Q(decision__deleted_at__isnull=True))
        return access.rows_of_visible_projects(live, user, operators_see_all=False)


class Comment(UUIDModel):
    """What someone wrote, in Markdown, on a project (`decision` empty) or on one of its decisions.

    Edits and deletes leave the text they replaced in the audit trail (django-auditlog's rows);
    an operator hides a comment instead of removing it.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="comments")
    decision = models.ForeignKey("decisions.Decision", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="comments")
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    # What core.markdown made of `body` when it was written: a list of fifty comments would otherwise
    # render fifty Markdown texts on every read (bench.comments). Written only by discussions.services.
    body_html = models.TextField(blank=True, editable=False)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_comments",
                                      help_text="The people on the project's team its @handles name.")
    unresolved_mentions = models.JSONField(default=list, blank=True,
                                           help_text="@handles that name nobody on the project's team.")
    edited_at = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False, help_text="Hidden by an operator: its text is shown to operators only.")

    objects = CommentQuerySet.as_manager()

    audit_entity_type = "comment"

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["decision", "created_at"], name="comment_decision_idx"),
            models.Index(fields=["project", "decision", "created_at"], name="comment_project_idx"),
        ]

    def __str__(self) -> str:
        """How the audit trail names it: "comment on <the decision>" (callers hand in the decision or project
        they already hold, so naming it costs no query)."""
        return f"comment on {self.decision.title if self.decision_id else self.project.name}"

    @property
    def html(self) -> str:
        """The sanitized HTML of the body, for the pages (rendered now for a row written without it)."""
        from django.utils.safestring import mark_safe

        from core.markdown import render_markdown

        return mark_safe(self.body_html or render_markdown(self.body))

    def get_additional_data(self) -> dict:
        """Read by django-auditlog for every row about this comment: ties the row to the project."""
        return {"project_id": str(self.project_id), "decision_id": str(self.decision_id) if self.decision_id else None}
