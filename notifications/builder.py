"""Making notifications from the sealed ledger: exactly once per row, in leaf order, off the request path.

The ledger is the outbox, as for webhooks (webhooks/delivery.py), with one reader instead of one per
subscription: `BuilderState` holds the next leaf to read. A run takes the builder's lease (one run at a
time, on any number of workers), reads a batch of sealed rows from the cursor, works out their
notifications (notifications.kinds), then inserts them and moves the cursor past the batch in ONE
transaction, on the condition that the cursor is still where the run found it and the lease is still
the run's. So:

- a worker that dies (or a rule that raises) before that commit leaves the cursor where it was: the
  next run reads the same rows again and nothing is lost;
- a commit that happened is never repeated: the cursor moved with it, and the unique constraint
  (leaf, recipient, kind) refuses a second copy even to a run that lost its lease meanwhile.

Runs are tasks (django-tasks, database backend; `manage.py db_worker` runs them), queued when rows are
sealed (`schedule_after_seal`, the sequencer's `ledger_sealed` signal: the only thing a write pays is
an UPDATE of the `scheduled` flag, most often of nothing) and by the maintenance tick when rows wait
and no run is under way (`resume`, a run that died with its worker). The mail of the notifications
made is queued after the commit (notifications.mail), so a failing mail server never holds the builder.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task

from audit.ledger.sequencer import tree_size
from audit.models import LedgerLeaf

from . import conf
from .kinds import notifications_for
from .mail import schedule_instant
from .models import BuilderState, EmailMode, Notification

logger = logging.getLogger("commandcentral.notifications")

BATCH = 200  # rows per transaction; a run goes on with the next batch while rows wait
RUN_BATCHES = 10  # batches per run before it hands over to a fresh task
STATE = 1  # the pk of the one BuilderState row


def state() -> BuilderState:
    """The builder's row. Made by the migration at the ledger's head; a database flushed since (tests)
    starts again at leaf 0, as its ledger does."""
    found, _ = BuilderState.objects.get_or_create(pk=STATE)
    return found


# --- Scheduling -------------------------------------------------------------------------------------


def schedule(*, run_after=None) -> bool:
    """Queue a builder run unless one is queued already; True if this call queued it."""
    now = timezone.now()
    claimed = BuilderState.objects.filter(pk=STATE, scheduled=False).update(scheduled=True, scheduled_at=now)
    if not claimed:
        if BuilderState.objects.filter(pk=STATE).exists():
            return False
        state()
        claimed = BuilderState.objects.filter(pk=STATE, scheduled=False).update(scheduled=True, scheduled_at=now)
        if not claimed:
            return False
    (build_notifications.using(run_after=run_after) if run_after else build_notifications).enqueue()
    return True


def schedule_after_seal(sender=None, using="default", **kwargs) -> None:
    """Receiver of audit.ledger.sequencer.ledger_sealed: new rows, so a run (unless one is queued)."""
    schedule()


def resume() -> bool:
    """On the maintenance tick: rows wait past the cursor, nothing is queued (or what was queued has not
    started for a long time: a task lost with its queue) and no live run holds the lease. Then a run
    that died with its worker is taken over from where its last commit left the cursor."""
    now = timezone.now()
    current = state()
    if current.cursor >= tree_size():
        return False
    if current.lease_until is not None and current.lease_until > now:
        return False
    stale = current.scheduled and current.scheduled_at and current.scheduled_at < now - timedelta(minutes=5)
    if current.scheduled and not stale:
        return False
    BuilderState.objects.filter(pk=STATE).update(scheduled=False)
    return schedule()


# --- A run ------------------------------------------------------------------------------------------


@task(queue_name="default")
def build_notifications() -> int:
    """The task of one builder run (django-tasks; `manage.py db_worker` runs it). Returns how many
    notifications it made; an exception leaves the cursor where the last commit put it, and the task
    is run again (the next seal or the maintenance tick)."""
    return run()


class LostLease(Exception):
    """Another run took over (this one's lease ran out): stop before reading another row."""


def run() -> int:
    now = timezone.now()
    BuilderState.objects.filter(pk=STATE).update(scheduled=False)
    until = now + timedelta(seconds=conf.lease_seconds())
    taken = (BuilderState.objects.filter(pk=STATE).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
             .update(lease_until=until))
    if not taken:
        if not BuilderState.objects.filter(pk=STATE).exists():
            state()
            return run()
        # Another run holds it: come back shortly, so rows sealed meanwhile are not left waiting.
        schedule(run_after=now + timedelta(seconds=2))
        return 0
    made = 0
    try:
        for _ in range(RUN_BATCHES):
            batch_made, until, more = _batch(until)
            made += batch_made
            if not more:
                break
        else:
            schedule()  # more to do: a fresh task, so the builder cannot hold a worker for ever
    except LostLease:
        return made
    except Exception as error:
        BuilderState.objects.filter(pk=STATE, lease_until=until).update(
            consecutive_failures=F("consecutive_failures") + 1, last_error=f"{type(error).__name__}: {error}"[:2000])
        logger.exception("notification builder run failed; the next run reads the same rows again")
        raise
    finally:
        BuilderState.objects.filter(pk=STATE, lease_until=until).update(lease_until=None, last_run_at=timezone.now())
    return made


def _batch(until) -> tuple[int, object, bool]:
    """Read, work out and commit one batch; returns (notifications made, the lease's new expiry, more?)."""
    start = BuilderState.objects.values_list("cursor", flat=True).get(pk=STATE)
    leaves = list(LedgerLeaf.objects.filter(leaf_index__gte=start).select_related("entry").order_by("leaf_index")[:BATCH])
    if not leaves:
        return 0, until, False
    made = []
    for leaf in leaves:
        made.extend(notifications_for(leaf.entry, leaf.leaf_index))
    end = leaves[-1].leaf_index + 1
    renewed = timezone.now() + timedelta(seconds=conf.lease_seconds())
    try:
        with transaction.atomic():
            # The cursor moves only from where this run read, and only while the lease is this run's.
            moved = (BuilderState.objects.filter(pk=STATE, cursor=start, lease_until=until)
                     .update(cursor=end, lease_until=renewed, consecutive_failures=0, last_error=""))
            if not moved:
                raise LostLease
            Notification.objects.bulk_create(made)
    except IntegrityError:
        # Only a run that lost its lease can get here (the rows it read were committed by another):
        # nothing of this batch was kept, and the cursor is the other run's.
        raise LostLease from None
    if made:
        _after_commit(made)
    return len(made), renewed, len(leaves) == BATCH


def _after_commit(made: list[Notification]) -> None:
    for user_id in sorted({n.recipient_id for n in made if n.email_mode == EmailMode.INSTANT}, key=str):
        try:
            schedule_instant(user_id)
        except Exception:  # the maintenance tick queues what is left unmailed (notifications.mail.resume)
            logger.exception("queueing a notification mail failed")
