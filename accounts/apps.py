from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from core.recording import track_changes

        from .models import User

        # Passwords never reach the trail; last_login changes on every login and is noise.
        track_changes(User, exclude_fields=["password", "last_login", "updated_at"])
