"""GET /api/v1/events/stream/ through Django's ASGI stack (AsyncClient, the real middleware), in-process.

The process's watcher reads the ledger on a thread of its own, so these tests commit what they write
(transactional tests): rows are sealed at commit (AUDIT_SEAL_MIN_INTERVAL=0 in the test settings).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient, Client

from accounts.tests.factories import UserFactory
from audit.models import AuditEntry, LedgerLeaf
from audit.serializers import event_data
from live import hub as live_hub
from live.tests.sse import Reader, events_of
from projects.models import MembershipRole
from projects.tests.factories import MembershipFactory, ProjectFactory

URL = "/api/v1/events/stream/"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.LIVE_STREAM_POLL_INTERVAL = 0.02
    settings.LIVE_STREAM_HEARTBEAT = 30


def bearer(user) -> dict:
    from accounts.tokens import SessionRefreshToken

    return {"Authorization": f"Bearer {SessionRefreshToken.for_user(user).access_token}"}


def run(coroutine_function):
    """Runs an async test body; every stream it opened must be closed and the watcher stopped by its end."""

    async def body():
        try:
            await coroutine_function()
        finally:
            current = live_hub.hub()
            for _ in range(500):
                if current.task is None:
                    break
                await asyncio.sleep(0.01)
            assert current.task is None, "the watcher still runs with no stream open"

    async_to_sync(body)()


async def open_stream(path=URL, **headers) -> tuple[object, Reader]:
    response = await AsyncClient().get(path, headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/event-stream")
    return response, Reader(response.streaming_content)


def errors_of(body: dict) -> dict:
    """The fields a 400 names, in the house error shape (under `errors` when it carries them)."""
    return body.get("errors", body)


def leaf_of(entry_id) -> int:
    return LedgerLeaf.objects.get(entry_id=entry_id).leaf_index


def project_rows(project):
    return list(AuditEntry.objects.filter(project=project).order_by("id"))


def test_a_sealed_row_arrives_with_its_leaf_index_name_and_the_webhook_data(operator, owner):
    headers = bearer(operator)
    rows_before = AuditEntry.objects.count()

    async def body():
        response, reader = await open_stream(**headers)
        messages = await reader.until(lambda m: m and m[0].retry is not None)
        assert messages[0].retry == "2000"
        project = await sync_to_async(ProjectFactory)(owner=owner, name="Streamed")
        events = events_of(await reader.until(lambda m: any(e.json.get("project") == str(project.pk) for e in events_of(m))))
        row = await sync_to_async(lambda: AuditEntry.objects.filter(project=project).order_by("id").first())()
        leaf = await sync_to_async(leaf_of)(row.id)
        first = next(e for e in events if e.json["id"] == row.id)
        assert first.id == str(leaf)
        assert first.event == row.event_name == "project.created"
        expected = await sync_to_async(event_data)(row, leaf)
        assert first.json == {**expected, "timestamp": expected["timestamp"]}  # the webhook payload's data
        assert first.json["leaf_index"] == leaf
        await reader.close()

    run(body)
    # Reading the stream writes nothing: only the project's own rows were added.
    assert AuditEntry.objects.count() - rows_before == AuditEntry.objects.filter(project__name="Streamed").count()


def test_without_credentials_401_and_a_bad_token_401_without_an_audit_row(db):
    async def body():
        response = await AsyncClient().get(URL, headers={"Accept": "text/event-stream"})
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()
        response = await AsyncClient().get(URL, headers={"Authorization": "Bearer not-a-token"})
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    rows_before = AuditEntry.objects.count()
    run(body)
    assert AuditEntry.objects.count() == rows_before  # a failed token writes no row (accounts.authentication)


def test_an_outsider_never_receives_a_hidden_projects_row(owner, outsider):
    hidden = ProjectFactory(owner=owner, name="Hidden")
    theirs = ProjectFactory(owner=outsider, name="Theirs")
    headers = bearer(outsider)

    async def body():
        response, reader = await open_stream(**headers)
        await reader.until(lambda m: m)
        await sync_to_async(ProjectFactory)(owner=owner, name="Hidden two")  # hidden as well
        await sync_to_async(MembershipFactory)(project=hidden, role=MembershipRole.MEMBER)
        await sync_to_async(MembershipFactory)(project=theirs, role=MembershipRole.VIEWER)
        events = events_of(await reader.until(lambda m: any(e.json["project"] == str(theirs.pk) for e in events_of(m))))
        await reader.nothing_for(0.3)
        events = reader.events()
        assert events and {e.json["project"] for e in events} == {str(theirs.pk)}
        await reader.close()

    run(body)
    hidden_rows = AuditEntry.objects.exclude(project=theirs).filter(id__gt=AuditEntry.objects.filter(project=theirs).order_by("id").first().id)
    assert hidden_rows.exists()  # rows were written that the outsider's stream left out


def test_project_filter_and_a_hidden_project_is_404(owner, member, project):
    other = ProjectFactory(owner=member, name="Member's own")
    hidden = ProjectFactory(owner=UserFactory(), name="Elsewhere")
    headers = bearer(member)

    async def body():
        response = await AsyncClient().get(f"{URL}?project={hidden.pk}", headers=headers)
        assert response.status_code == 404
        assert response.json()["detail"] == "No such project."
        response, reader = await open_stream(f"{URL}?project={project.slug}", **headers)
        await reader.until(lambda m: m)
        await sync_to_async(MembershipFactory)(project=other, role=MembershipRole.MEMBER)
        await sync_to_async(MembershipFactory)(project=project, role=MembershipRole.VIEWER)
        await reader.until(lambda m: events_of(m))
        await reader.nothing_for(0.3)
        assert {e.json["project"] for e in reader.events()} == {str(project.pk)}
        await reader.close()

    run(body)


@pytest.mark.parametrize("header, query, field", [
    ({"Last-Event-ID": "abc"}, "", "Last-Event-ID"),
    ({"Last-Event-ID": "-1"}, "", "Last-Event-ID"),
    ({}, "?after=1.5", "after"),
    ({}, "?after=99999999999999999999", "after"),
])
def test_a_bad_resume_point_is_400(operator, header, query, field):
    headers = {**bearer(operator), **header}

    async def body():
        response = await AsyncClient().get(URL + query, headers=headers)
        assert response.status_code == 400
        assert field in errors_of(response.json())

    run(body)


def test_unknown_query_parameters_and_a_bad_as_are_400(operator):
    headers = bearer(operator)

    async def body():
        response = await AsyncClient().get(f"{URL}?since=3", headers=headers)
        assert response.status_code == 400
        assert response.json()["detail"] == "Unknown query parameter: since."
        response = await AsyncClient().get(f"{URL}?as=json", headers=headers)
        assert response.status_code == 400
        assert "as" in errors_of(response.json())

    run(body)


def test_resume_without_a_gap_and_as_change(operator, owner):
    projects = [ProjectFactory(owner=owner, name=f"Resume {n}") for n in range(6)]
    leaves = list(LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    middle = leaves[len(leaves) // 2]
    expected = [leaf for leaf in leaves if leaf > middle]
    headers = {**bearer(operator), "Last-Event-ID": str(middle)}

    async def body():
        response, reader = await open_stream(f"{URL}?after=0&as=change", **headers)  # the header wins over ?after
        await reader.until(lambda m: len(events_of(m)) >= len(expected))
        events = reader.events()
        assert [int(e.id) for e in events] == expected
        assert {e.event for e in events} == {"change"}
        await sync_to_async(ProjectFactory)(owner=owner, name="After the resume")
        await reader.until(lambda m: any(e.json["event_name"] == "project.created" and int(e.id) > expected[-1]
                                         for e in events_of(m)))
        ids = [int(e.id) for e in reader.events()]
        assert ids == sorted(ids) and ids == list(range(ids[0], ids[-1] + 1))  # in order, none missing
        await reader.close()

    run(body)
    assert projects


def test_resume_behind_the_ring_reads_the_database(operator, owner, settings):
    settings.LIVE_STREAM_BUFFER = 2
    for n in range(5):
        ProjectFactory(owner=owner, name=f"Old {n}")
    headers = {**bearer(operator), "Last-Event-ID": "0"}
    expected = list(LedgerLeaf.objects.filter(leaf_index__gt=0).order_by("leaf_index").values_list("leaf_index", flat=True))

    async def body():
        response, reader = await open_stream(**headers)
        await reader.until(lambda m: len(events_of(m)) >= len(expected))
        for n in range(3):
            await sync_to_async(ProjectFactory)(owner=owner, name=f"New {n}")
        tip = await sync_to_async(live_hub.current_tip)()
        await reader.until(lambda m: int(events_of(m)[-1].id) >= tip)
        ids = [int(e.id) for e in reader.events()]
        assert ids == list(range(1, tip + 1))
        await reader.close()

    run(body)


def test_after_beyond_the_tree_opens_and_waits(operator, owner):
    headers = bearer(operator)

    async def body():
        tip = await sync_to_async(live_hub.current_tip)()
        response, reader = await open_stream(f"{URL}?after={tip + 1000}", **headers)
        await reader.until(lambda m: m)
        await sync_to_async(ProjectFactory)(owner=owner)
        await reader.nothing_for(0.3)
        assert reader.events() == []
        await reader.close()

    run(body)


def test_heartbeat_comment(operator, settings):
    settings.LIVE_STREAM_HEARTBEAT = 0.1
    headers = bearer(operator)

    async def body():
        response, reader = await open_stream(**headers)
        messages = await reader.until(lambda m: sum(1 for x in m if x.comment) >= 2, timeout=5)
        assert all(m.id is None for m in messages)
        await reader.close()

    run(body)


def test_wsgi_refuses_at_once(operator, settings):
    client = Client()
    client.force_login(operator)
    rows_before = AuditEntry.objects.count()
    response = client.get(URL)
    assert response.status_code == 503
    assert "ASGI" in response.json()["detail"]
    settings.LIVE_STREAM_URL = "http://127.0.0.1:8001/api/v1/events/stream/"
    response = client.get(URL + "?as=change")
    assert response.status_code == 307
    assert response["Location"] == "http://127.0.0.1:8001/api/v1/events/stream/?as=change"
    assert AuditEntry.objects.count() == rows_before  # a refusal of the server, not of the caller: no row


def deactivate(user) -> None:
    """As the admin does it: in one transaction (django-auditlog writes an update's row before the UPDATE)."""
    from django.db import transaction

    with transaction.atomic():
        user.is_active = False
        user.save()


def test_a_removed_member_stops_receiving_and_a_deactivated_users_stream_ends(owner, member, project):
    headers = bearer(member)

    async def body():
        response, reader = await open_stream(**headers)
        await reader.until(lambda m: m)
        await sync_to_async(MembershipFactory)(project=project, role=MembershipRole.VIEWER)
        await reader.until(lambda m: events_of(m))
        await sync_to_async(lambda: project.memberships.get(user=member).delete())()
        await reader.nothing_for(0.3)  # the removal's own row may still come
        seen = len(reader.events())
        await sync_to_async(MembershipFactory)(project=project, role=MembershipRole.VIEWER)
        await reader.nothing_for(0.3)
        assert len(reader.events()) == seen  # no row of the project after the removal
        await reader.close()

        response, reader = await open_stream(**await sync_to_async(bearer)(owner))
        await reader.until(lambda m: m)
        await sync_to_async(deactivate)(owner)
        await reader.end()

    run(body)


def test_a_session_stream_ends_when_its_person_logs_out_everywhere(owner, project):
    from accounts.tokens import end_sessions

    async def body():
        client = AsyncClient()
        await client.aforce_login(owner)  # the pages' way in: the session cookie
        response = await client.get(URL, headers={"Accept": "text/event-stream"})
        assert response.status_code == 200
        reader = Reader(response.streaming_content)
        await sync_to_async(MembershipFactory)(project=project, role=MembershipRole.VIEWER)
        await reader.until(lambda m: events_of(m))
        await sync_to_async(end_sessions)(owner, event_name="auth.logout_everywhere", actor=owner, browsers=True,
                                          reason="Logged out everywhere.", via="session")
        await reader.end()
        response = await client.get(URL)
        assert response.status_code in (401, 403)

    run(body)
    assert AuditEntry.objects.filter(event_name="auth.logout_everywhere", actor=owner).count() == 1


def test_an_api_key_stream_ends_when_the_key_is_revoked(owner, project):
    from accounts.service_accounts import personal_key_create, personal_key_revoke

    key, raw = personal_key_create(user=owner, name="stream", expires_in_days=1)

    async def body():
        response, reader = await open_stream(**{"Authorization": f"Api-Key {raw}"})
        await sync_to_async(MembershipFactory)(project=project, role=MembershipRole.VIEWER)
        await reader.until(lambda m: events_of(m))
        await sync_to_async(personal_key_revoke)(user=owner, prefix=key.prefix)
        await reader.end()

    run(body)
    assert AuditEntry.objects.filter(event_name="personal_key.revoked").count() == 1


def test_unread_notification_counts_arrive_without_an_id(owner, project, settings):
    from notifications.models import Notification
    from notifications.services import mark_read

    settings.LIVE_STREAM_NOTIFICATION_RECHECK = 0.05
    headers = bearer(owner)

    def notify():
        Notification.objects.create(recipient=owner, kind="mentioned", subject_type="project",
                                    subject_id=str(project.pk), url="/", leaf_index=0)

    async def body():
        response, reader = await open_stream(**headers)
        await reader.until(lambda m: m)
        await sync_to_async(notify)()
        messages = await reader.until(lambda m: any(x.event == "notifications" for x in m))
        notice = next(x for x in messages if x.event == "notifications")
        assert notice.id is None and notice.json == {"unread": 1}
        await sync_to_async(mark_read)(user=owner)
        messages = await reader.until(lambda m: [x.json for x in m if x.event == "notifications"][-1] == {"unread": 0})
        await reader.close()

    rows_before = AuditEntry.objects.count()
    run(body)
    assert AuditEntry.objects.count() == rows_before  # notifications and reading them leave no row
