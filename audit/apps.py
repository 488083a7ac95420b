from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (system checks; auth signals → auth_* rows)
