"""The ledger's periodic work as a task (django-tasks): the sweep and the checkpoint.

`ledger_maintenance` seals whatever writers left pending (a crash between commit and seal, rows of a
process that exited) and signs and stores a checkpoint when the tree has grown, then queues its own
next run `every` seconds later. `manage.py schedule_maintenance` starts the chain once (`make run`
does); a worker (`manage.py db_worker --queue-name '*'`) runs it. Several chains would only repeat
work that is idempotent (sealing takes the sequencer; a checkpoint of a size already stored is kept once).
"""

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from .ledger.checkpoints import current_checkpoint
from .ledger.sequencer import seal_pending


@task(queue_name="maintenance")
def ledger_maintenance(every: float = 60.0) -> dict:
    sealed = seal_pending()
    head = current_checkpoint()  # stores a new checkpoint only when the tree has grown
    if every > 0:
        ledger_maintenance.using(run_after=timezone.now() + timedelta(seconds=every)).enqueue(every)
    return {"sealed": sealed, "tree_size": head.tree_size}
