"""Every write to webhook subscriptions: only those who steer the project (its owner, operators)."""

import re

from django.db import transaction

from audit.ledger.sequencer import seal_pending, tree_size
from core.access import can_steer, steered_projects
from core.errors import InvalidInput, require
from core.recording import AuditEventType, audited_write, record_event

from . import outbound
from .delivery import schedule
from .models import WebhookSubscription

EVENT_NAME = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
EDITABLE_FIELDS = ("url", "description", "event_types", "event_names", "active")
MESSAGE = "Only the owner or an operator can manage this project's webhooks."


def can_manage_webhooks(project, user) -> bool:
    return can_steer(project, user)


def check_manage(project, actor, action: str) -> None:
    """403 (recorded) for someone who sees the project but may not manage its webhooks."""
    require(can_manage_webhooks(project, actor), actor=actor, obj=project, action=action, message=MESSAGE)


def _clean(fields: dict) -> dict:
    if "url" in fields:
        try:
            outbound.check_url(fields["url"])
        except outbound.UnsafeURL as unsafe:
            raise InvalidInput(str(unsafe), field="url") from None
    if "event_types" in fields:
        values = fields["event_types"] or []
        unknown = sorted(set(values) - set(AuditEventType.values))
        if not isinstance(values, list) or unknown:
            raise InvalidInput(f"Unknown event types: {', '.join(map(str, unknown))}. Known: {', '.join(AuditEventType.values)}.",
                               field="event_types")
        fields["event_types"] = sorted(set(values))
    if "event_names" in fields:
        values = fields["event_names"] or []
        if not isinstance(values, list) or not all(isinstance(v, str) and EVENT_NAME.match(v) for v in values):
            raise InvalidInput("Event names look like 'decision.decide' or 'project.created'.", field="event_names")
        fields["event_names"] = sorted(set(values))
    return fields


def subscription_create(*, project, actor, url: str, **fields) -> WebhookSubscription:
    """A subscription receiving the project's rows sealed from now on (its cursor starts at the tree size)."""
    check_manage(project, actor, "webhook_create")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"subscription_create got unexpected fields {sorted(unknown)}")
    fields = _clean({"url": url, **fields})
    seal_pending()  # rows written before the subscription are sealed before its cursor is placed
    with audited_write(actor):
        subscription = WebhookSubscription(project=project, created_by=actor, cursor=tree_size(), **fields)
        subscription.save()
    return subscription


def subscription_update(*, subscription: WebhookSubscription, actor, **changes) -> WebhookSubscription:
    """Edit; turning a paused subscription back on resumes it from the row that failed."""
    check_manage(subscription.project, actor, "webhook_update")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"subscription_update got unexpected fields {sorted(unknown)}")
    changes = _clean(changes)
    resumed = changes.get("active") is True and not subscription.active
    with audited_write(actor):
        for name, value in changes.items():
            setattr(subscription, name, value)
        if resumed:
            subscription.paused_reason = ""
            subscription.consecutive_failures = 0
            subscription.next_attempt_at = None
        subscription.save()
    if resumed:
        transaction.on_commit(lambda: schedule(subscription.pk))
    return subscription


def subscription_delete(*, subscription: WebhookSubscription, actor) -> None:
    check_manage(subscription.project, actor, "webhook_delete")
    with audited_write(actor):
        subscription.delete()


def subscription_redeliver(*, subscription: WebhookSubscription, actor, from_leaf: int | None = None) -> WebhookSubscription:
    """Deliver again from `from_leaf` (default: where delivery stands, i.e. retry the failed row now);
    a paused subscription is resumed. Leaves before the subscription existed are sent too if asked."""
    check_manage(subscription.project, actor, "webhook_redeliver")
    size = tree_size()
    if from_leaf is not None and not 0 <= from_leaf <= size:
        raise InvalidInput(f"from_leaf must be between 0 and the tree size ({size}).", field="from_leaf")
    cursor = subscription.cursor if from_leaf is None else from_leaf
    with audited_write(actor):
        before = {"cursor": subscription.cursor, "active": subscription.active}
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            cursor=cursor, active=True, paused_reason="", consecutive_failures=0, next_attempt_at=None)
        record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="webhook.redeliver", actor=actor,
                     obj=subscription, changes={"cursor": [before["cursor"], cursor], "active": [before["active"], True]})
    subscription.refresh_from_db()
    transaction.on_commit(lambda: schedule(subscription.pk))
    return subscription


def visible_subscriptions(user):
    """Subscriptions of live projects `user` may manage (others' secrets are nobody's business)."""
    return WebhookSubscription.objects.select_related("project").filter(project__in=steered_projects(user))
