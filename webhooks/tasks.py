"""The webhook tasks (django-tasks; the database backend runs them in `manage.py db_worker`)."""

import uuid

from django_tasks import task

from . import delivery


@task(queue_name="webhooks")
def deliver_subscription(subscription_id: str) -> int:
    """One delivery run for a subscription (webhooks.delivery.run): the rows delivered."""
    return delivery.run(uuid.UUID(subscription_id))
