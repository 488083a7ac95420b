"""The ledger's periodic work as a task (django-tasks): the safety-net sweep, the checkpoint, the witnesses.

`ledger_maintenance` runs every AUDIT_CHECKPOINT_INTERVAL seconds (default 5) and queues its own next
run: it seals what writers left pending (a crash between commit and seal), signs and stores a
checkpoint when the tree has grown (through the signer's record, so never one that contradicts an
earlier checkpoint), and submits it to every witness in AUDIT_WITNESSES. `manage.py
schedule_maintenance` starts the chain once (`make run` does); a worker (`manage.py db_worker
--queue-name '*'`) runs it. Several chains would only repeat work that is idempotent (sealing takes
the sequencer; the signer takes its lock; a checkpoint of a stored size is kept once).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.dispatch import Signal
from django.utils import timezone
from django_tasks import task

from .ledger.checkpoints import LedgerConfigurationError, make_checkpoint
from .ledger.sequencer import seal_pending
from .ledger.signer import LedgerDiverged, SignerStateError
from .ledger.witnessing import WitnessConfigurationError, submit_checkpoint

logger = logging.getLogger("commandcentral.audit.ledger")

# Finished runs of this task older than this are pruned by the task itself (a run every few seconds
# would otherwise leave ~17,000 result rows a day in the task table).
KEEP_FINISHED_RUNS = timedelta(hours=1)


# Sent after every maintenance run: the periodic tick other apps hang their own safety nets on (webhooks
# resume subscriptions whose run died with its worker). A receiver's error is logged, never raised.
maintenance_ran = Signal()


def checkpoint_interval() -> float:
    return float(getattr(settings, "AUDIT_CHECKPOINT_INTERVAL", 5) or 5)


@task(queue_name="maintenance")
def ledger_maintenance(every: float | None = None) -> dict:
    every = checkpoint_interval() if every is None else every
    try:
        return run_maintenance()
    finally:
        if every > 0:
            ledger_maintenance.using(run_after=timezone.now() + timedelta(seconds=every)).enqueue(every)
            _prune_finished_runs()


def run_maintenance() -> dict:
    """Seal, checkpoint, submit to witnesses. A diverged ledger signs nothing and says so (every time)."""
    sealed = seal_pending()
    outcome = {"sealed": sealed}
    for receiver, failure in maintenance_ran.send_robust(sender=None, using="default"):
        if isinstance(failure, Exception):
            logger.error("a maintenance_ran receiver failed: %r", failure, exc_info=failure)
    try:
        head = make_checkpoint()
    except (LedgerDiverged, SignerStateError, LedgerConfigurationError) as error:
        logger.error("no checkpoint signed: %s", error)
        return {**outcome, "error": str(error)}
    outcome["tree_size"] = head.tree_size
    try:
        outcome["witnesses"] = submit_checkpoint(head.tree_size, head.note)
    except WitnessConfigurationError as error:
        logger.error("checkpoint not submitted to witnesses: %s", error)
        outcome["witnesses"] = {"AUDIT_WITNESSES": str(error)}
    return outcome


def _prune_finished_runs() -> None:
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(
        task_path=ledger_maintenance.module_path,
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=timezone.now() - KEEP_FINISHED_RUNS,
    ).delete()
