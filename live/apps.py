from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live event stream"

    def ready(self) -> None:
        from notifications.signals import notifications_read

        from .hub import note_reads

        # A read made in this process reaches its streams at the next poll instead of the periodic check.
        notifications_read.connect(note_reads, dispatch_uid="live_note_reads")
