"""The sweep: seal audit rows that no writer sealed after its commit (cron, systemd, or --loop)."""

import time

from django.core.management.base import BaseCommand, CommandError

from audit.ledger.sequencer import pending_status, seal_pending


class Command(BaseCommand):
    help = (
        "Seal every pending audit row into the ledger and print how many. Run it every few seconds "
        "(--loop SECONDS, or a timer) so no row waits longer than that, whatever the writers did."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=float, metavar="SECONDS", help="keep sweeping, this many seconds apart")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, loop, batch_size, **options):
        if batch_size < 1 or (loop is not None and loop <= 0):
            raise CommandError("--batch-size and --loop must be positive")
        while True:
            sealed = seal_pending(batch_size=batch_size)
            if sealed or options["verbosity"] > 1 or loop is None:
                unsealed, lag = pending_status()
                self.stdout.write(f"sealed {sealed} rows; {unsealed} pending (oldest {lag:.1f} s)")
            if loop is None:
                return
            time.sleep(loop)
