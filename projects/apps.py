from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from .models import Membership, Project

        # No serialize_data: auditlog's deep copy trips over the protected FSM field (PITFALLS §1.3).
        auditlog.register(Project, exclude_fields=["updated_at"])
        auditlog.register(Membership, exclude_fields=["updated_at"])
