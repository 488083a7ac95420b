"""Webhooks from the ledger, delivered by the task engine to a local receiver.

Subscriptions are made through the API; events are made through the API; deliveries are run by
django-tasks' real database worker (`manage.py db_worker --batch`); the receiver is an HTTP server on
127.0.0.1 that checks nothing and records everything, and the test verifies the Standard Webhooks
signatures with the `standardwebhooks` library, as a receiver would.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from audit.models import AuditEntry, LedgerLeaf
from audit.tests.verify import assert_trail_verifies
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A local webhook receiver; `answer(n)` gives the status of the n-th request (0-based)."""

    def __init__(self, answer=lambda n: 200):
        self.requests: list[tuple[dict, bytes, int]] = []
        self.answer = answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.answer(len(receiver.requests))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict]:
        return [json.loads(body) for _, body, status in self.requests if status < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(answer=lambda n: 200):
        made.append(Receiver(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return settings


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_worker() -> None:
    """What `manage.py db_worker` does, until no task is ready (each retry here is due at once)."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)


def subscribe(owner, project, url, **fields) -> dict:
    response = as_user(owner).post(f"/api/v1/projects/{project.pk}/webhooks/", {"url": url, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def make_events(owner, project, count: int) -> None:
    client = as_user(owner)
    for n in range(count):
        assert client.patch(f"/api/v1/projects/{project.pk}/", {"description": f"take {n}"},
                            format="json").status_code == 200


def expected_leaves(project, cursor: int) -> list[int]:
    return list(LedgerLeaf.objects.filter(leaf_index__gte=cursor, entry__project_id=project.pk)
                .order_by("leaf_index").values_list("leaf_index", flat=True))


def test_fifty_events_reach_a_local_receiver_in_ledger_order_with_valid_signatures(allow_private, receiver, project, owner):
    local = receiver()
    subscription = subscribe(owner, project, local.url)
    assert subscription["secret"].startswith("whsec_")

    make_events(owner, project, 50)
    run_worker()

    expected = expected_leaves(project, subscription["cursor"])
    assert len(expected) >= 51  # the subscription's own row, then the 50 edits
    got = local.delivered()
    assert [event["data"]["leaf_index"] for event in got] == expected
    verifier = Webhook(subscription["secret"])
    for headers, body, _ in local.requests:
        verifier.verify(body, headers)  # raises on a bad signature
    edits = [event for event in got if event["type"] == "project.updated"]
    assert [event["data"]["changes"]["description"][1] for event in edits] == [f"take {n}" for n in range(50)]
    first = got[-1]["data"]
    assert AuditEntry.objects.get(pk=first["id"]).ledger_leaf.leaf_index == first["leaf_index"]
    assert WebhookDelivery.objects.filter(succeeded=True).count() == len(expected)
    assert WebhookSubscription.objects.get(pk=subscription["id"]).cursor == expected[-1] + 1
    assert local.requests[0][0]["webhook-id"] == f"msg_{subscription['id'].replace('-', '')}_{expected[0]}"


def test_a_receiver_that_fails_for_a_while_loses_nothing_and_gets_everything_in_order(allow_private, receiver, project,
                                                                                       owner, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0.0] * 10  # every retry due at once, so the batch worker keeps going
    flaky = receiver(lambda n: 500 if 3 <= n < 8 else 200)
    subscription = subscribe(owner, project, flaky.url)

    make_events(owner, project, 12)
    run_worker()

    expected = expected_leaves(project, subscription["cursor"])
    assert [event["data"]["leaf_index"] for event in flaky.delivered()] == expected
    refused = [json.loads(body)["data"]["leaf_index"] for _, body, status in flaky.requests if status >= 500]
    assert refused == [expected[3]] * 5  # the same row, retried until it got through; nothing after it first
    ids = [headers["webhook-id"] for headers, _, _ in flaky.requests]
    assert len(set(ids)) == len(expected)  # a retry carries the same webhook-id
    attempts = WebhookDelivery.objects.filter(leaf_index=expected[3]).order_by("attempt")
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False), (2, 500, False), (3, 500, False), (4, 500, False), (5, 500, False), (6, 200, True)]
    assert attempts[0].response_excerpt == "receiver is down"
    state = WebhookSubscription.objects.get(pk=subscription["id"])
    assert (state.active, state.consecutive_failures) == (True, 0)


def test_a_receiver_down_too_long_pauses_the_subscription_and_redelivery_resumes_it(allow_private, receiver, project,
                                                                                     owner, settings):
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 0.0]
    down = {"on": True}
    local = receiver(lambda n: 503 if down["on"] else 200)
    subscription = subscribe(owner, project, local.url)
    make_events(owner, project, 3)

    run_worker()

    client = as_user(owner)
    shown = client.get(f"/api/v1/webhooks/{subscription['id']}/").json()
    assert shown["active"] is False and "3 consecutive failed deliveries" in shown["paused_reason"]
    assert "HTTP 503" in shown["paused_reason"]
    paused = AuditEntry.objects.get(event_name="webhook.paused")
    assert (paused.actor_type, paused.success, paused.project_id) == ("system", False, project.pk)
    assert local.delivered() == []

    down["on"] = False
    response = client.post(f"/api/v1/webhooks/{subscription['id']}/redeliver/", {}, format="json")
    assert response.status_code == 202 and response.json()["active"] is True
    run_worker()

    expected = expected_leaves(project, subscription["cursor"])
    assert [event["data"]["leaf_index"] for event in local.delivered()] == expected
    assert AuditEntry.objects.filter(event_name="webhook.redeliver", actor=owner).count() == 1
    deliveries = client.get(f"/api/v1/webhooks/{subscription['id']}/deliveries/").json()
    assert deliveries["count"] == 3 + len(expected)
    assert {"status_code", "duration_ms", "response_excerpt", "attempted_at"} <= set(deliveries["results"][0])
    assert_trail_verifies()


@pytest.mark.parametrize("url,message", [
    ("http://127.0.0.1:9/hooks", "private, loopback or link-local"),
    ("http://169.254.169.254/latest/meta-data/", "private, loopback or link-local"),
    ("http://[::1]:8080/", "private, loopback or link-local"),
    ("http://10.1.2.3/", "private, loopback or link-local"),
    ("ftp://example.com/", "Only http and https URLs"),
    ("http://user:pass@example.com/", "Credentials in the URL"),
])
def test_unsafe_urls_are_refused_without_allow_private(project, owner, url, message):
    response = as_user(owner).post(f"/api/v1/projects/{project.pk}/webhooks/", {"url": url}, format="json")

    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not WebhookSubscription.objects.exists()


def test_every_attempt_checks_the_address_again(receiver, project, owner, settings):
    """A subscription stored while private addresses were allowed (or whose host name now resolves to
    one) is refused at delivery: nothing is sent, and the attempt records why."""
    settings.WEBHOOK_RETRY_DELAYS = [3600.0]
    local = receiver()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    made = subscribe(owner, project, local.url.replace("127.0.0.1", "[::127.0.0.1]"))
    settings.WEBHOOK_ALLOW_PRIVATE = False
    make_events(owner, project, 1)

    run_worker()

    attempt = WebhookDelivery.objects.get()
    assert (attempt.status_code, attempt.succeeded) == (None, False)
    assert "resolves to ::7f00:1 (that is 127.0.0.1), a private, loopback or link-local address" in attempt.error
    assert local.requests == []
    state = WebhookSubscription.objects.get(pk=made["id"])
    assert (state.cursor, state.consecutive_failures, state.active) == (made["cursor"], 1, True)


def test_only_those_who_steer_the_project_manage_its_webhooks(allow_private, project, owner, member, outsider):
    made = subscribe(owner, project, "http://127.0.0.1:9/hooks")

    listed = as_user(owner).get(f"/api/v1/projects/{project.pk}/webhooks/").json()
    assert [s["id"] for s in listed["results"]] == [made["id"]] and "secret" not in listed["results"][0]
    assert as_user(member).get(f"/api/v1/projects/{project.pk}/webhooks/").status_code == 403
    assert as_user(member).post(f"/api/v1/projects/{project.pk}/webhooks/", {"url": "http://127.0.0.1:9/"},
                                format="json").status_code == 403
    assert as_user(member).get(f"/api/v1/webhooks/{made['id']}/").status_code == 404
    assert as_user(outsider).get(f"/api/v1/projects/{project.pk}/webhooks/").status_code == 404
    assert AuditEntry.objects.filter(event_type="permission_denied", actor=member, event_name="project.webhook_create").exists()
    created = AuditEntry.objects.get(event_name="webhook.created")
    assert created.actor == owner and "secret" not in created.changes

    assert as_user(owner).patch(f"/api/v1/webhooks/{made['id']}/", {"event_names": ["decision.decide"]},
                                format="json").json()["event_names"] == ["decision.decide"]
    assert as_user(owner).delete(f"/api/v1/webhooks/{made['id']}/").status_code == 204
    assert AuditEntry.objects.filter(event_name="webhook.deleted", actor=owner).exists()


def test_filters_pick_the_rows_delivered(allow_private, receiver, project, owner):
    local = receiver()
    subscribe(owner, project, local.url, event_types=["transition_success"])

    make_events(owner, project, 2)
    assert as_user(owner).post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "go"},
                               format="json").status_code == 200
    run_worker()

    assert [event["type"] for event in local.delivered()] == ["project.activate"]


def test_operators_manage_subscriptions_in_the_admin_through_the_same_rules(client, operator, project, settings):
    client.force_login(operator)
    add = "/admin/webhooks/webhooksubscription/add/"
    form = {"project": str(project.pk), "url": "http://127.0.0.1:9/hooks", "description": "", "event_types": "[]",
            "event_names": "[]", "active": "on"}

    refused = client.post(add, form)
    assert refused.status_code == 200
    assert "private, loopback or link-local" in refused.content.decode()
    assert not WebhookSubscription.objects.exists()

    settings.WEBHOOK_ALLOW_PRIVATE = True
    created = client.post(add, form, follow=True)
    subscription = WebhookSubscription.objects.get()
    assert any(subscription.secret in str(message) for message in created.context["messages"])
    assert AuditEntry.objects.get(event_name="webhook.created").actor == operator
    page = client.get(f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/")
    assert page.status_code == 200 and subscription.secret not in page.content.decode()


def test_a_redirect_is_a_failure_and_never_followed(allow_private, receiver, project, owner, settings):
    settings.WEBHOOK_RETRY_DELAYS = [3600.0]
    target = receiver()
    redirecting = receiver(lambda n: 302)
    subscribe(owner, project, redirecting.url)
    make_events(owner, project, 1)

    run_worker()

    attempt = WebhookDelivery.objects.get()
    assert (attempt.status_code, attempt.succeeded) == (302, False)
    assert "not followed" in attempt.error
    assert target.requests == []
    state = WebhookSubscription.objects.get()
    assert state.consecutive_failures == 1 and state.next_attempt_at is not None and state.active


def test_old_attempts_are_pruned_by_age(allow_private, receiver, project, owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    local = receiver()
    made = subscribe(owner, project, local.url)
    subscription = WebhookSubscription.objects.get(pk=made["id"])
    old = WebhookDelivery.objects.create(subscription=subscription, leaf_index=0, entry_id=1, event_name="x.y",
                                         message_id="m", attempt=1, duration_ms=1, succeeded=True,
                                         attempted_at=timezone.now() - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS + 1))
    make_events(owner, project, 1)

    run_worker()

    assert not WebhookDelivery.objects.filter(pk=old.pk).exists()
    assert WebhookDelivery.objects.filter(succeeded=True).count() == len(local.delivered())


class WorkerKilled(BaseException):
    """Stands for a SIGKILL of the worker: the run stops mid-delivery (the lease it left is put back below)."""


def test_a_run_killed_mid_delivery_is_taken_over_when_its_lease_runs_out_and_nothing_is_lost(
        allow_private, receiver, project, owner, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from webhooks import delivery, outbound

    local = receiver()
    made = subscribe(owner, project, local.url)
    make_events(owner, project, 6)
    left_behind = {}

    def post_then_die(url, body, headers):
        outcome = real_post(url, body, headers)
        if len(local.requests) == 4:  # the receiver has the 4th row; the cursor has not moved past it
            left_behind.update(WebhookSubscription.objects.values("lease_until", "cursor").get(pk=made["id"]),
                               at=timezone.now())
            raise WorkerKilled
        return outcome

    real_post = outbound.post
    monkeypatch.setattr(outbound, "post", post_then_die)
    run_worker()
    monkeypatch.setattr(outbound, "post", real_post)
    # What the killed worker leaves: its last lease (a live run's cleanup released it here) and its cursor.
    WebhookSubscription.objects.filter(pk=made["id"]).update(lease_until=left_behind["lease_until"])
    assert left_behind["lease_until"] - left_behind["at"] <= timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)

    class OneLeaseLater:  # the clock the runs read, one lease (and a second) after the kill
        @staticmethod
        def now():
            return timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)

    monkeypatch.setattr(delivery, "timezone", OneLeaseLater)
    make_events(owner, project, 1)  # a newly sealed row queues a run, as it would in production
    run_worker()

    expected = expected_leaves(project, made["cursor"])
    got = [event["data"]["leaf_index"] for event in local.delivered()]
    assert got == expected[:4] + expected[3:]  # the row in flight at the kill is sent again, nothing else
    assert [headers["webhook-id"] for headers, _, _ in local.requests].count(local.requests[3][0]["webhook-id"]) == 2
    state = WebhookSubscription.objects.get(pk=made["id"])
    assert (state.cursor, state.lease_until, state.consecutive_failures, state.active) == (expected[-1] + 1, None, 0, True)
    assert WebhookDelivery.objects.filter(succeeded=True).count() == len(expected)  # the killed attempt left no row
    assert not AuditEntry.objects.filter(event_name="webhook.paused").exists()
    assert_trail_verifies()


def test_a_live_run_keeps_its_lease_past_its_first_expiry_and_no_other_run_delivers_meanwhile(
        allow_private, receiver, project, owner, settings):
    import time
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from webhooks import delivery

    settings.WEBHOOK_LEASE_SECONDS = 1.0  # a heartbeat every third of a second
    seen = {}

    def slow_first_answer(n):
        if n == 0:
            first_expiry = WebhookSubscription.objects.values_list("lease_until", flat=True).get()
            give_up = time.monotonic() + 10
            while timezone.now() <= first_expiry and time.monotonic() < give_up:
                time.sleep(0.05)
            seen["at"] = timezone.now()
            seen["lease_until"] = WebhookSubscription.objects.values_list("lease_until", flat=True).get()
            seen["first_expiry"] = first_expiry
            seen["competing run delivered"] = delivery.run(WebhookSubscription.objects.get().pk)
            connection.close()  # this receiver thread's connection
        return 200

    local = receiver(slow_first_answer)
    made = subscribe(owner, project, local.url)
    make_events(owner, project, 3)

    run_worker()

    assert seen["at"] > seen["first_expiry"] < seen["lease_until"]  # renewed while the run was alive
    assert seen["lease_until"] - seen["at"] <= timedelta(seconds=1.5)  # a kill now: free within a lease
    assert seen["competing run delivered"] == 0
    expected = expected_leaves(project, made["cursor"])
    assert [event["data"]["leaf_index"] for event in local.delivered()] == expected  # each once, in order
    assert WebhookSubscription.objects.get(pk=made["id"]).lease_until is None  # released at the end


def test_a_run_killed_mid_delivery_is_resumed_by_the_maintenance_tick_without_any_new_row(
        allow_private, receiver, project, owner, settings, monkeypatch):
    """No row is sealed after the kill, so nothing queues a run but the ledger's maintenance tick."""
    from datetime import timedelta

    from django.utils import timezone

    from audit.tasks import run_maintenance
    from webhooks import delivery, outbound

    local = receiver()
    made = subscribe(owner, project, local.url)
    make_events(owner, project, 3)
    lease = {}

    def post_then_die(url, body, headers):
        outcome = real_post(url, body, headers)
        if len(local.requests) == 2:
            lease.update(WebhookSubscription.objects.values("lease_until").get(pk=made["id"]))
            raise WorkerKilled
        return outcome

    real_post = outbound.post
    monkeypatch.setattr(outbound, "post", post_then_die)
    run_worker()
    monkeypatch.setattr(outbound, "post", real_post)
    WebhookSubscription.objects.filter(pk=made["id"]).update(lease_until=lease["lease_until"])
    run_maintenance()
    run_worker()
    assert len(local.delivered()) == 2  # the dead run's lease has not run out: nobody takes over yet

    class OneLeaseLater:
        @staticmethod
        def now():
            return timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)

    monkeypatch.setattr(delivery, "timezone", OneLeaseLater)
    rows_before = AuditEntry.objects.count()
    run_maintenance()  # the tick, with no new row
    run_worker()
    expected = expected_leaves(project, made["cursor"])
    assert [event["data"]["leaf_index"] for event in local.delivered()] == expected[:2] + expected[1:]
    assert WebhookSubscription.objects.get(pk=made["id"]).lease_until is None
    assert AuditEntry.objects.count() == rows_before  # nothing was written to get it going
