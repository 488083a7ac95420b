from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from core.recording import track_changes

        from audit.ledger.sequencer import ledger_sealed
        from audit.tasks import maintenance_ran

        from .delivery import resume_abandoned, schedule_after_seal
        from .models import WebhookSubscription

        # The secret never reaches the trail; the delivery state moves on every delivery and is not a change.
        track_changes(WebhookSubscription, exclude_fields=["secret", "updated_at", *WebhookSubscription.DELIVERY_STATE])
        ledger_sealed.connect(schedule_after_seal, dispatch_uid="webhooks_schedule_after_seal")
        maintenance_ran.connect(resume_abandoned, dispatch_uid="webhooks_resume_abandoned")
