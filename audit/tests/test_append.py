"""An audit row goes in with SQL built once (core/plain_insert.py); `AUDIT_FAST_APPEND = False` takes `save()`.
Both must store the same bytes, on whichever database the suite runs (SQLite, and PostgreSQL in its pass)."""

from datetime import datetime, timezone

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework.test import APIClient

from audit.ledger.sequencer import seal_pending
from audit.models import AuditEntry, LedgerLeaf, LedgerQueue
from audit.tests.verify import assert_trail_verifies
from projects.models import Project

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 12, 7, 12, 30, 15, 123456, tzinfo=timezone.utc)


def _stored(entry_id) -> tuple:
    """The row as the database holds it, every column but the key."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    columns = [field.column for field in AuditEntry._meta.concrete_fields if not field.primary_key]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(connection.ops.quote_name(c) for c in columns)} FROM {table} WHERE id = %s",
                       [entry_id])
        return tuple(cursor.fetchone())


def _rows(owner, project):
    """What the application writes: an auditlog change row, a transition, a refusal, a system row."""
    project_type = ContentType.objects.get_for_model(Project)
    return [
        dict(action=AuditEntry.Action.CREATE, content_type=project_type, object_pk=str(project.pk),
             object_repr="Apollo ✓", changes={"name": [None, "Apollo ✓"], "settings": [None, '{"a": [1, 2]}']},
             additional_data={"project_id": str(project.pk)}, actor=owner, remote_addr="203.0.113.9"),
        dict(action=AuditEntry.Action.UPDATE, event_type="transition_success", event_name="project.pause", actor=owner, actor_email=owner.email,
             actor_type="user", project=project, entity_type="project", entity_id=str(project.pk),
             transition="pause", from_state="active", to_state="paused", rationale="Budget\nreview — next week",
             changes={"state": ["active", "paused"]}, extra={"nested": {"list": [1, None, "ü"]}}, cid="req-1"),
        dict(action=AuditEntry.Action.ACCESS, event_type="transition_denied", event_name="project.kill", actor=owner, success=False,
             failure_reason="Only the owner or an operator can do this.", remote_addr="2001:db8::1"),
        dict(action=AuditEntry.Action.ACCESS, event_type="auth_failed", event_name="auth.login_failed", success=False, actor_type="system",
             extra={"email": "alice@example.com"}),
        # Values of other types than the text and integer fields keep as they are: a lazy translation,
        # a number in a text column, a text number in an integer column; each converted by the field.
        dict(action=AuditEntry.Action.ACCESS, event_type="permission_denied", event_name="project.change",
             failure_reason=gettext_lazy("Permission denied."), object_repr=42, remote_port="8443", object_id=7,
             success=True, remote_addr=None),
    ]


def test_the_plain_sql_append_stores_the_row_save_stores(settings, owner, project):
    seen = []
    pre_save.connect(lambda sender, instance, **kw: seen.append(("pre", instance.pk)), sender=AuditEntry,
                     weak=False, dispatch_uid="test_append_pre")
    try:
        for fields in _rows(owner, project):
            written = {}
            for fast in (True, False):
                settings.AUDIT_FAST_APPEND = fast
                entry = AuditEntry(timestamp=WHEN, **fields)
                entry.save()
                assert entry.pk is not None and not entry._state.adding and entry._state.db == "default"
                written[fast] = entry.pk
            assert _stored(written[True]) == _stored(written[False])
            assert set(LedgerQueue.objects.filter(entry_id__in=written.values()).values_list("entry_id", flat=True)) == \
                set(written.values())
            # Read back through the ORM, the two are the same row too.
            fast_row, plain_row = (AuditEntry.objects.filter(pk=written[f]).values().get() for f in (True, False))
            assert {k: v for k, v in fast_row.items() if k != "id"} == {k: v for k, v in plain_row.items() if k != "id"}
    finally:
        pre_save.disconnect(sender=AuditEntry, dispatch_uid="test_append_pre")
    # The signals save() sends are sent to whoever listens, before the INSERT (no key yet) as save() does.
    assert seen == [("pre", None)] * 10


def test_an_audit_row_is_still_immutable_after_the_plain_sql_append(owner):
    from audit.models import AuditImmutable

    entry = AuditEntry(action=AuditEntry.Action.ACCESS, event_type="auth_login", event_name="auth.login", actor=owner)
    entry.save()
    entry.rationale = "rewritten"
    with pytest.raises(AuditImmutable):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).rationale == ""


@pytest.mark.parametrize("fast", [True, False])
def test_a_create_over_the_api_writes_one_row_and_its_queue_entry_either_way(settings, owner, fast):
    """Through the middleware, DRF and the service: the response, the project, its audit row and queue entry."""
    settings.AUDIT_FAST_APPEND = fast
    created = []
    post_save.connect(lambda sender, instance, created_=None, **kw: created.append(instance.pk), sender=AuditEntry,
                      weak=False, dispatch_uid="test_append_post")
    client = APIClient()
    client.force_authenticate(owner)
    try:
        before = AuditEntry.objects.count()
        response = client.post("/api/v1/projects/", {"name": "Apollo ✓", "metadata": {"k": [1]}}, format="json",
                               REMOTE_ADDR="198.51.100.7")
    finally:
        post_save.disconnect(sender=AuditEntry, dispatch_uid="test_append_post")
    assert response.status_code == 201, response.content
    project = Project.objects.get(pk=response.json()["id"])
    assert AuditEntry.objects.count() == before + 1
    row = AuditEntry.objects.latest()
    assert created == [row.pk]
    assert (row.event_type, row.event_name, row.actor_id, row.actor_email, row.actor_type, row.project_id,
            row.entity_type, row.entity_id, row.remote_addr) == (
        "entity_created", "project.created", owner.pk, owner.email, "user", project.pk, "project", str(project.pk),
        "198.51.100.7")
    assert row.changes["name"] == [None, "Apollo ✓"]
    assert LedgerQueue.objects.filter(entry_id=row.pk).exists()
    assert_trail_verifies()  # the row appended either way seals into a leaf that recomputes from it


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's rowid tables")
@pytest.mark.django_db(transaction=True)
def test_the_queue_is_keyed_by_the_rowid_so_an_audited_write_writes_no_index_of_it(api_client, owner, settings):
    """A `bigint` primary key is not SQLite's rowid: the queue had a separate index, written by every
    audited write and every seal. Declared INTEGER, the key is the rowid itself."""
    settings.AUDIT_SEAL_ON_COMMIT = False  # the queue row stays for the test to look at
    api_client.force_authenticate(owner)
    response = api_client.post(reverse("api:project-list"), {"name": "Queued"}, format="json")
    assert response.status_code == 201, response.content
    entry = AuditEntry.objects.get(entity_id=response.json()["id"], event_name="project.created")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA index_list(audit_ledgerqueue)")
        assert cursor.fetchall() == []
        cursor.execute("SELECT rowid, entry_id FROM audit_ledgerqueue WHERE entry_id = %s", [entry.id])
        assert cursor.fetchall() == [(entry.id, entry.id)]
    assert LedgerQueue.objects.filter(entry_id__in=[entry.id, entry.id + 10**12]).count() == 1
    assert seal_pending() >= 1 and not LedgerQueue.objects.exists()
    assert LedgerLeaf.objects.filter(entry_id=entry.id).exists()
