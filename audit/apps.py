from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from . import checks, receivers  # noqa: F401  (system checks; auth signals → auth_* rows)
        from .ledger.sequencer import seal_left_for_later

        request_finished.connect(seal_left_for_later, dispatch_uid="audit_seal_left_for_later")
