import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.db.utils import DatabaseError
from django.urls import reverse

from audit.models import AuditEntry, AuditImmutable
from core.recording import record_event
from accounts.tests.factories import UserFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL); the trigger exists only there"
)


@pytest.fixture
def entry(db):
    return record_event(event_type="auth_login", event_name="auth.login", actor=UserFactory())


def test_saving_an_existing_row_is_refused(entry):
    entry.event_name = "rewritten"
    with pytest.raises(AuditImmutable):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).event_name == "auth.login"


def test_deleting_a_row_is_refused(entry):
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(event_name="x")
    assert AuditEntry.objects.filter(pk=entry.pk, event_name="auth.login").exists()


def test_deleting_a_user_never_rewrites_their_audit_rows(entry):
    with pytest.raises(ProtectedError):
        entry.actor.delete()
    assert AuditEntry.objects.get(pk=entry.pk).actor_id == entry.actor_id


def test_admin_offers_no_add_change_or_delete(client, operator, entry):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    view = client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
    assert view.status_code == 200 and b'name="_save"' not in view.content
    delete = client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_user_delete_of_an_audited_user_shows_a_message_not_a_500(client, operator, entry):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    page = client.post(reverse("admin:accounts_user_delete", args=[entry.actor_id]), {"post": "yes"})
    assert page.status_code == 200
    assert b"cannot delete user" in page.content.lower()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@postgres_only
@pytest.mark.integration
@pytest.mark.postgres
def test_postgres_trigger_refuses_raw_update_and_delete(entry):
    for sql in ("UPDATE audit_auditentry SET event_name = 'x' WHERE id = %s", "DELETE FROM audit_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).event_name == "auth.login"
