from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Decisions"

    def ready(self) -> None:
        from core.recording import track_changes

        from . import services  # noqa: F401  (registers its transition hooks: supersession)
        from .models import Decision

        # m2m rows list only what was added/removed; never .clear() it (auditlog #539 logs every row).
        track_changes(Decision, exclude_fields=["updated_at"], m2m_fields={"related_decisions", "reviewers"})
