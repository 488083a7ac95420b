from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "discussions"
    verbose_name = "Discussions"

    def ready(self) -> None:
        from core.recording import track_changes

        from .models import Comment

        # Every edit keeps the old and new body in its audit row, a delete keeps the last one: the history
        # of a comment is in the trail, not in the table. Its mentions follow from the body.
        track_changes(Comment, exclude_fields=["updated_at", "edited_at", "body_html", "unresolved_mentions"])
