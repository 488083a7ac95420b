from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from audit.ledger.sequencer import ledger_sealed
        from audit.tasks import maintenance_ran

        from .builder import schedule_after_seal
        from .receivers import on_maintenance
        from .models import Watch

        # Watching is a write anyone may look up in the trail (watch.created, watch.deleted); reading a
        # notification is not (notifications.services).
        auditlog.register(Watch, exclude_fields=["updated_at"])
        # The ledger is the outbox: a seal queues a builder run; the maintenance tick resumes a run that
        # died with its worker, retries failed mail and sends the daily digests that are due.
        ledger_sealed.connect(schedule_after_seal, dispatch_uid="notifications_schedule_after_seal")
        maintenance_ran.connect(on_maintenance, dispatch_uid="notifications_on_maintenance")
