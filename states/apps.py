from django.apps import AppConfig


class StatesConfig(AppConfig):
    name = "states"
    label = "states"
    verbose_name = "Entity states"

    def ready(self) -> None:
        from core.recording import track_changes

        from .models import EntityState

        # Registration is the entity_created row; transitions write their own transition_success row
        # (with the diff) and save with auditlog disabled, as perform_transition does.
        track_changes(EntityState, exclude_fields=["updated_at"])
