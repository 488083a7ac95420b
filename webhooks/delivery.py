"""Delivering the sealed trail to webhook subscriptions, at least once and in ledger order.

The ledger is the outbox. Each subscription has a cursor (the next leaf index to look at); a delivery
run takes the subscription's lease (one run per subscription at a time, on any number of workers),
walks the matching sealed rows from the cursor in leaf order, POSTs each one, and moves the cursor
past it only after a 2xx. A failure stops the run: the same row is retried after a back-off
(`WEBHOOK_RETRY_DELAYS`, with ±20 % jitter, about a day in all); after the last one the
subscription is paused with its reason, and an audit row says so. Nothing after a failed row is sent
before it, so a receiver sees rows in order; a crash after a 2xx and before the cursor moved sends
that row again (at least once; `webhook-id` is stable per row, so receivers can drop repeats).

Runs are tasks (`deliver_subscription` below, django-tasks with its database backend): scheduled when rows are
sealed (`schedule_after_seal`), at the retry time, and on a manual redelivery.

The lease (`lease_until`) is short, `WEBHOOK_LEASE_SECONDS` (60), and a live run keeps it with a
heartbeat (`Lease`). A worker killed mid-delivery stops beating, so a run queued meanwhile takes the
subscription over within that time, from the row the dead run had not yet moved the cursor past.

The delivery state columns are written with UPDATEs, not save(): they change on every delivery and
are not changes anyone made (the subscription's audited fields never move here, except a pause).
"""

import json
import logging
import random
import threading
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEntry, LedgerLeaf
from audit.serializers import event_data
from core.recording import AuditEventType, audited_write, record_event

from . import outbound
from .models import WebhookDelivery, WebhookSubscription

logger = logging.getLogger("commandcentral.webhooks")

BATCH = 100  # rows per run before the run hands over to a fresh task


def message_id(subscription: WebhookSubscription, leaf_index: int) -> str:
    return f"msg_{subscription.pk.hex}_{leaf_index}"


def payload_of(entry: AuditEntry, leaf_index: int) -> dict:
    """The body of a delivery: {"type", "timestamp", "data": the event as events/{id}/ shows it, plus leaf_index}."""
    return {"type": entry.event_name, "timestamp": entry.timestamp.isoformat(), "data": event_data(entry, leaf_index)}


def signed_headers(subscription: WebhookSubscription, msg_id: str, body: str, now: datetime) -> dict:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(subscription.secret).sign(msg_id, now.astimezone(dt_timezone.utc), body),
    }


def matching_leaves(subscription: WebhookSubscription, *, limit: int = BATCH):
    """The next sealed rows for `subscription`, in leaf order, from its cursor."""
    leaves = (LedgerLeaf.objects.filter(leaf_index__gte=subscription.cursor, entry__project_id=subscription.project_id)
              .select_related("entry").order_by("leaf_index"))
    if subscription.event_types:
        leaves = leaves.filter(entry__event_type__in=subscription.event_types)
    if subscription.event_names:
        leaves = leaves.filter(entry__event_name__in=subscription.event_names)
    return list(leaves[:limit])


def retry_delay(failures: int) -> float | None:
    """Seconds before the next attempt after `failures` consecutive failures; None: give up (pause)."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if failures > len(delays):
        return None
    return delays[failures - 1] * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


# --- Scheduling -------------------------------------------------------------------------------------


def schedule(subscription_id, *, run_after: datetime | None = None) -> bool:
    """Queue a delivery run unless one is queued already; True if this call queued it."""
    claimed = WebhookSubscription.objects.filter(pk=subscription_id, scheduled=False).update(scheduled=True)
    if not claimed:
        return False
    task = deliver_subscription.using(run_after=run_after) if run_after else deliver_subscription
    task.enqueue(str(subscription_id))
    return True


def schedule_after_seal(sender=None, using="default", **kwargs) -> None:
    """Receiver of audit.ledger.sequencer.ledger_sealed: queue a run for each active subscription that
    is not waiting for a retry (its retry task is queued already)."""
    now = timezone.now()
    due = (WebhookSubscription.objects.using(using).filter(active=True, scheduled=False)
           .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).values_list("pk", flat=True))
    for subscription_id in due:
        schedule(subscription_id)


def resume_abandoned(sender=None, using="default", **kwargs) -> None:
    """Receiver of audit.tasks.maintenance_ran (every few seconds): a subscription whose run died with its
    worker keeps an expired lease that nobody released. With no new row sealed, nothing else would queue
    its next run; this does, and the run takes over from the row the dead one had not finished."""
    now = timezone.now()
    abandoned = (WebhookSubscription.objects.using(using).filter(active=True, scheduled=False, lease_until__lte=now)
                 .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).values_list("pk", flat=True))
    for subscription_id in abandoned:
        schedule(subscription_id)


# --- A run ------------------------------------------------------------------------------------------


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


class Lease:
    """One run's hold on its subscription, kept alive by a heartbeat thread while the run lives.

    Every third of WEBHOOK_LEASE_SECONDS the heartbeat moves `lease_until` forward, so a run as long
    as it needs (a slow receiver, a hundred rows) keeps its subscription, and a run that dies with its
    worker stops beating: its lease runs out at most WEBHOOK_LEASE_SECONDS after its last sign of life
    and the next run takes over. The expiry it wrote is the lease's token: the heartbeat and the release
    change the row only while it still holds that value, so a run that lost its lease (its heartbeats
    failed until it ran out and another run took over) neither extends nor clears the other run's, and
    stops before its next row (`held`).
    """

    def __init__(self, subscription_id, until: datetime):
        self.subscription_id = subscription_id
        self.until = until
        self.held = True
        self._stopped = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name=f"webhook-lease-{subscription_id}", daemon=True)

    @classmethod
    def take(cls, subscription_id, now: datetime) -> "Lease | None":
        """The subscription's lease if it is free (or ran out); None while another run holds it."""
        until = now + lease_duration()
        taken = (WebhookSubscription.objects.filter(pk=subscription_id, active=True)
                 .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(lease_until=until))
        return cls(subscription_id, until) if taken else None

    def __enter__(self) -> "Lease":
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        self._heartbeat.join()
        self._mine().update(lease_until=None)

    def _mine(self):
        return WebhookSubscription.objects.filter(pk=self.subscription_id, lease_until=self.until)

    def _beat(self) -> None:
        try:
            while not self._stopped.wait(lease_duration().total_seconds() / 3):
                until = timezone.now() + lease_duration()
                try:
                    extended = self._mine().update(lease_until=until)
                except DatabaseError as error:  # the next beat tries again; the token still holds till then
                    logger.warning("webhook lease not extended", extra={"subscription": str(self.subscription_id),
                                                                        "error": str(error)})
                    continue
                if not extended:
                    self.held = False
                    return
                self.until = until
        finally:
            connection.close()  # this thread's own connection


@task(queue_name="webhooks")
def deliver_subscription(subscription_id: str) -> int:
    """The task of one delivery run (django-tasks; the database backend runs it in `manage.py db_worker`)."""
    return run(uuid.UUID(subscription_id))


def run(subscription_id) -> int:
    """One delivery run for a subscription; returns how many rows were delivered."""
    now = timezone.now()
    WebhookSubscription.objects.filter(pk=subscription_id).update(scheduled=False)
    lease = Lease.take(subscription_id, now)
    if lease is None:
        subscription = WebhookSubscription.objects.filter(pk=subscription_id, active=True).first()
        if subscription is not None and subscription.lease_until and subscription.lease_until >= now:
            # Another run holds it (or held it and died: its lease runs out soon). Come back shortly, so
            # rows sealed meanwhile are not left waiting for the next seal.
            schedule(subscription_id, run_after=now + timedelta(seconds=2))
        return 0
    with lease:
        return _deliver(WebhookSubscription.objects.get(pk=subscription_id), lease)


def _deliver(subscription: WebhookSubscription, lease: Lease) -> int:
    now = timezone.now()
    if subscription.next_attempt_at and subscription.next_attempt_at > now:
        schedule(subscription.pk, run_after=subscription.next_attempt_at)
        return 0
    delivered = 0
    leaves = matching_leaves(subscription)
    for leaf in leaves:
        if not lease.held:  # another run has taken over, from the cursor as this run left it
            return delivered
        if not _attempt(subscription, leaf):
            return delivered
        delivered += 1
    _prune(subscription)
    if len(leaves) == BATCH:
        schedule(subscription.pk)  # more to do: a fresh task, so one subscription cannot hold a worker
    return delivered


def _attempt(subscription: WebhookSubscription, leaf: LedgerLeaf) -> bool:
    msg_id = message_id(subscription, leaf.leaf_index)
    body = json.dumps(payload_of(leaf.entry, leaf.leaf_index), separators=(",", ":"), default=str)
    now = timezone.now()
    outcome = outbound.post(subscription.url, body.encode(), signed_headers(subscription, msg_id, body, now))
    # A failure stops the run and the next run retries the same row, so the failures in a row are this
    # row's earlier attempts (since a success, a resume or a redelivery).
    WebhookDelivery.objects.create(
        subscription=subscription, leaf_index=leaf.leaf_index, entry_id=leaf.entry_id, event_name=leaf.entry.event_name,
        message_id=msg_id, attempt=subscription.consecutive_failures + 1, attempted_at=now, status_code=outcome.status_code,
        duration_ms=outcome.duration_ms, response_excerpt=outcome.response_excerpt, error=outcome.error,
        succeeded=outcome.succeeded,
    )
    state = WebhookSubscription.objects.filter(pk=subscription.pk)
    if outcome.succeeded:
        state.update(cursor=leaf.leaf_index + 1, consecutive_failures=0, next_attempt_at=None, last_success_at=now)
        subscription.cursor, subscription.consecutive_failures = leaf.leaf_index + 1, 0
        return True
    state.update(consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now)
    subscription.refresh_from_db(fields=["consecutive_failures"])
    delay = retry_delay(subscription.consecutive_failures)
    what = f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error
    if delay is None:
        pause(subscription, reason=f"Paused after {subscription.consecutive_failures} consecutive failed deliveries "
                                   f"(the last: {what}) of leaf {leaf.leaf_index}.")
        return False
    retry_at = now + timedelta(seconds=delay)
    state.update(next_attempt_at=retry_at)
    schedule(subscription.pk, run_after=retry_at)
    logger.warning("webhook delivery failed", extra={"subscription": str(subscription.pk), "leaf": leaf.leaf_index,
                                                     "outcome": what, "retry_at": retry_at.isoformat()})
    return False


def pause(subscription: WebhookSubscription, *, reason: str) -> None:
    """Stop delivering (the owner sees why: API, page, admin, and this audit row)."""
    with audited_write(None):
        WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False, paused_reason=reason,
                                                                      next_attempt_at=None)
        record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="webhook.paused", obj=subscription,
                     success=False, failure_reason=reason,
                     extra={"url": subscription.url, "cursor": subscription.cursor})


def _prune(subscription: WebhookSubscription) -> None:
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    WebhookDelivery.objects.filter(subscription=subscription, attempted_at__lt=cutoff).delete()
