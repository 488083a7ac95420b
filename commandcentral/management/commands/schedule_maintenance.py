"""Queue the periodic ledger maintenance task (audit.tasks.ledger_maintenance) unless one is queued."""

from django.core.management.base import BaseCommand
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from audit.tasks import checkpoint_interval, ledger_maintenance


class Command(BaseCommand):
    help = "Start the periodic ledger sweep and checkpoint task (run by `manage.py db_worker --queue-name '*'`)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--every", type=float, default=None,
            help="Seconds between runs (default AUDIT_CHECKPOINT_INTERVAL, 5): how old the newest checkpoint may get.",
        )

    def handle(self, *args, every, **options):
        every = checkpoint_interval() if every is None else every
        queued = DBTaskResult.objects.filter(task_path=ledger_maintenance.module_path,
                                             status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]).exists()
        if queued:
            self.stdout.write("Ledger maintenance is queued already.")
            return
        ledger_maintenance.enqueue(every)
        self.stdout.write(f"Ledger maintenance queued: every {every:g} s, sealing and signing checkpoints.")
