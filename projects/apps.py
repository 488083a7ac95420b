from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from core.access import use_project_models
        from core.recording import track_changes

        from .models import Membership, Project

        use_project_models(project=Project, membership=Membership)
        # No serialize_data: auditlog's deep copy sets every field, and the protected FSM field refuses
        # direct assignment (AttributeError on every save, create included).
        track_changes(Project, exclude_fields=["updated_at"])
        track_changes(Membership, exclude_fields=["updated_at"])
