"""What the notification tests share: clients, the real flows that make ledger rows, and the worker."""

from django.core.management import call_command
from rest_framework.test import APIClient

from audit.ledger.sequencer import seal_pending
from notifications.models import Notification

OPTIONS = [{"id": "a", "label": "Option A"}, {"id": "b", "label": "Option B"}]


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_worker() -> None:
    """What `manage.py db_worker` does, until no task is ready."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)


def settle() -> None:
    """Seal what the test's writes left queued (a test's transaction never commits, so the seal after
    commit does not run: this is the same seal, whose ledger_sealed signal queues the builder), then let
    the worker run every task that is due."""
    seal_pending()
    run_worker()


def notified(kind=None, **filters) -> list[tuple]:
    rows = Notification.objects.filter(**filters)
    if kind:
        rows = rows.filter(kind=kind)
    return sorted((n.kind, n.recipient.email) for n in rows.select_related("recipient"))


def comment(author, project, body, decision=None):
    url = f"/api/v1/decisions/{decision}/comments/" if decision else f"/api/v1/projects/{project.pk}/comments/"
    response = as_user(author).post(url, {"body": body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def active_decision(owner, project, reviewers=(), required_approvals=0) -> str:
    client = as_user(owner)
    if project.state == "proposed":
        assert client.post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "go"}, format="json").status_code == 200
        project.refresh_from_db()
    made = client.post("/api/v1/decisions/", {
        "project": str(project.pk), "title": "Pick a database", "question": "Which one?", "options": OPTIONS,
        "reviewers": [str(user.pk) for user in reviewers], "required_approvals": required_approvals,
    }, format="json")
    assert made.status_code == 201, made.content
    decision = made.json()["id"]
    assert client.post(f"/api/v1/decisions/{decision}/activate/", {"rationale": "ready"}, format="json").status_code == 200
    return decision


class FlakyBackend:
    """An email backend that refuses the first `FlakyBackend.failures` messages, then delivers to locmem."""

    failures = 0
    refused = 0

    def __init__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        self.delivering = EmailBackend(*args, **kwargs)

    def send_messages(self, messages):
        if FlakyBackend.refused < FlakyBackend.failures:
            FlakyBackend.refused += 1
            raise ConnectionRefusedError("the mail server is down")
        return self.delivering.send_messages(messages)
