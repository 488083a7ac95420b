from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from core.access import use_project_models

        from .models import Membership, Project

        use_project_models(project=Project, membership=Membership)
        # No serialize_data: auditlog's deep copy sets every field, and the protected FSM field refuses
        # direct assignment (AttributeError on every save, create included).
        auditlog.register(Project, exclude_fields=["updated_at"])
        auditlog.register(Membership, exclude_fields=["updated_at"])
