from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from .models import User

        # Passwords never reach the trail; last_login changes on every login and is noise.
        auditlog.register(User, exclude_fields=["password", "last_login", "updated_at"])
