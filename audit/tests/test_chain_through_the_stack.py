"""Issue 13: audit rows written by web requests verify and can be signed (API, pages, admin).

Every test goes through the test client with the real middleware (the request's audit context fills
remote_addr and the actor before the row is sealed), then runs `verify_audit` and `audit_checkpoint`.
The gunicorn run on PostgreSQL is test_live_server_chain.py. Also here: a row changed after its seal
is refused at write time, and `audit_relink` for databases written before the fix.
"""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.signals import pre_save
from django.urls import reverse

from audit import integrity
from audit.tests.tampering import as_database_admin
from audit.models import AuditCheckpoint, AuditEntry, AuditEventType, AuditSealBroken
from accounts.tests.factories import PASSWORD, UserFactory
from commandcentral.core.recording import record_event
from projects.models import Project, ProjectState
from projects.services import project_create

KEY = "issue-13-signing-key-0123456789abcdef"
CLIENT = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def signing_key(settings):
    settings.AUDIT_SIGNING_KEY = KEY


def assert_verifies_and_signs() -> dict:
    """verify_audit says OK over every row, and audit_checkpoint signs and stores the head."""
    rows = AuditEntry.objects.count()
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith(f"OK: {rows} rows checked"), out.getvalue()
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    document = json.loads(out.getvalue())
    assert document["seq"] == rows
    assert AuditCheckpoint.objects.latest().seq == rows
    return document


def rows_since(first_id: int, **filters):
    return list(AuditEntry.objects.filter(id__gt=first_id, **filters).order_by("id"))


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- API with JWT --------------------------------------------------------------------------------


def test_api_login_create_transition_and_refusal_verify_and_sign(db, api_client, signing_key):
    user = UserFactory(email="lead@example.com")
    start = last_id()

    login = api_client.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json", **CLIENT)
    assert login.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")
    created = api_client.post("/api/v1/projects/", {"name": "Chained"}, format="json",
                              HTTP_X_CORRELATION_ID="issue-13-create", **CLIENT)
    assert created.status_code == 201
    project_id = created.json()["id"]
    activated = api_client.post(f"/api/v1/projects/{project_id}/activate/", {"rationale": "Go"}, format="json", **CLIENT)
    assert activated.status_code == 200
    refused = api_client.post(f"/api/v1/projects/{project_id}/resume/", {"rationale": "Twice"}, format="json", **CLIENT)
    assert refused.status_code == 409
    failed = api_client.post("/api/v1/auth/login/", {"email": user.email, "password": "wrong"}, format="json", **CLIENT)
    assert failed.status_code == 401

    assert Project.objects.get(pk=project_id).state == ProjectState.ACTIVE
    rows = rows_since(start)
    assert [row.event_type for row in rows] == [
        "auth_login", "entity_created", "transition_success", "transition_denied", "auth_failed",
    ]
    # The columns auditlog's receiver used to set after the hash: now part of what was hashed.
    assert {row.remote_addr for row in rows} == {"203.0.113.7"}
    assert all(row.actor == user and row.actor_type == "user" for row in rows[:4])
    assert rows[1].cid == "issue-13-create" and rows[1].entity_id == project_id
    assert (rows[3].transition, rows[3].from_state, rows[3].success) == ("resume", "active", False)
    assert rows[4].actor is None and rows[4].extra == {"email": user.email}
    assert_verifies_and_signs()


def test_api_permission_refusal_row_verifies(api_client, project, viewer, signing_key):
    api_client.force_authenticate(viewer)
    start = last_id()
    response = api_client.post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "no"}, format="json", **CLIENT)
    assert response.status_code == 403
    (row,) = rows_since(start)
    assert (row.event_type, row.actor, row.remote_addr) == ("permission_denied", viewer, "203.0.113.7")
    assert_verifies_and_signs()


# --- Pages with a session -------------------------------------------------------------------------


def test_page_login_and_transition_verify_and_sign(client, owner, project, signing_key):
    start = last_id()
    login = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD}, **CLIENT)
    assert login.status_code == 302
    response = client.post(reverse("project_transition", args=[project.pk, "activate"]), {"rationale": "Kick-off"}, **CLIENT)
    assert response.status_code == 302
    refused = client.post(reverse("project_transition", args=[project.pk, "resume"]), {"rationale": "again"}, **CLIENT)
    assert refused.status_code in (302, 409)

    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE
    rows = rows_since(start)
    assert [row.event_type for row in rows] == ["auth_login", "transition_success", "transition_denied"]
    assert all(row.actor == owner and row.remote_addr == "203.0.113.7" for row in rows)
    assert_verifies_and_signs()


# --- The admin --------------------------------------------------------------------------------------


def test_admin_login_and_transition_button_verify_and_sign(client, operator, project, signing_key):
    start = last_id()
    login = client.post(
        reverse("admin:login"), {"username": operator.email, "password": PASSWORD, "next": "/admin/"}, **CLIENT
    )
    assert login.status_code == 302
    form_url = reverse("admin:projects_project_transition", args=[project.pk, "activate"])
    assert client.post(form_url, {"rationale": "from the admin"}, **CLIENT).status_code == 302

    project.refresh_from_db()
    assert project.state == ProjectState.ACTIVE
    rows = rows_since(start)
    assert [row.event_type for row in rows] == ["auth_login", "transition_success"]
    assert all(row.actor == operator and row.remote_addr == "203.0.113.7" for row in rows)
    assert_verifies_and_signs()


# --- Whatever changes a row after its seal is refused --------------------------------------------------


def test_a_receiver_that_changes_a_row_after_its_seal_fails_the_write_and_leaves_nothing(owner):
    """What auditlog's context did (issue 13): set a hashed column in pre_save, after the seal."""

    def late_remote_addr(sender, instance, **kwargs):
        instance.remote_addr = "198.51.100.1"

    rows, projects = AuditEntry.objects.count(), Project.objects.count()
    pre_save.connect(late_remote_addr, sender=AuditEntry, dispatch_uid="test_late_remote_addr")
    try:
        with pytest.raises(AuditSealBroken, match="remote_addr"):
            project_create(actor=owner, name="Never stored")
    finally:
        pre_save.disconnect(sender=AuditEntry, dispatch_uid="test_late_remote_addr")
    # The project and its audit row went together: nothing half-written.
    assert (AuditEntry.objects.count(), Project.objects.count()) == (rows, projects)


# --- Databases written before the fix ------------------------------------------------------------------


def _as_written_before_the_fix(entries, *, actor=None) -> None:
    """Store what auditlog's receiver set after the seal: a remote address (and an actor) not in the hash."""
    with as_database_admin() as cursor:
        for entry in entries:
            if actor is not None:
                cursor.execute("UPDATE audit_auditentry SET remote_addr = %s, actor_id = %s, actor_email = %s WHERE id = %s",
                               ["127.0.0.1", actor.pk.hex if connection.vendor == "sqlite" else actor.pk, actor.email, entry.pk])
            else:
                cursor.execute("UPDATE audit_auditentry SET remote_addr = %s WHERE id = %s", ["127.0.0.1", entry.pk])


@pytest.fixture
def legacy_trail(db, owner):
    """Six rows; rows 3 and 5 stored as a pre-fix web request left them (row 5 also got its actor late)."""
    for n in range(3):
        project_create(actor=owner, name=f"Legacy {n}")
    call_command("audit_relink", stdout=io.StringIO())  # nothing to do yet
    rows = list(AuditEntry.objects.order_by("id"))
    system_row = record_event(event_type="auth_failed", event_name="auth.failed", success=False)
    rows.append(system_row)
    _as_written_before_the_fix([rows[2]])
    _as_written_before_the_fix([system_row], actor=owner)
    return list(AuditEntry.objects.order_by("id"))


@pytest.mark.audit_tamper
def test_verify_names_rows_sealed_before_their_request_context(legacy_trail):
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", stdout=io.StringIO())
    assert f"(sealed_before_request_context) at row #{legacy_trail[2].pk}" in str(caught.value)
    assert "audit_relink" in str(caught.value)
    report = integrity.verify_chain()
    assert report.failure.kind == integrity.BreakKind.SEALED_BEFORE_REQUEST_CONTEXT


@pytest.mark.audit_tamper
def test_relink_without_apply_only_reports(legacy_trail):
    out = io.StringIO()
    call_command("audit_relink", stdout=out)
    assert f"2 of {len(legacy_trail)} rows were sealed before their request context (first: row #{legacy_trail[2].pk}" in out.getvalue()
    assert not integrity.verify_chain().ok
    assert not AuditEntry.objects.filter(event_name="audit.relinked").exists()


def test_relink_rehashes_from_the_first_such_row_and_records_why(legacy_trail, operator, signing_key):
    trail = list(AuditEntry.objects.order_by("id"))  # the legacy rows, then the operator's user.created
    before = {row.pk: (row.remote_addr, row.actor_id, row.rationale, row.seq) for row in trail}
    out = io.StringIO()
    call_command("audit_relink", "--apply", "--actor", operator.email, stdout=out)
    # Every row from the first affected one to the head gets a new hash (the links change with it).
    expected = len(trail) - 2
    assert f"Re-hashed {expected} rows from row #{legacy_trail[2].pk}" in out.getvalue()
    after = {row.pk: (row.remote_addr, row.actor_id, row.rationale, row.seq) for row in AuditEntry.objects.filter(pk__in=before)}
    assert after == before  # content untouched
    record = AuditEntry.objects.get(event_name="audit.relinked")
    assert (record.event_type, record.actor, record.seq) == (AuditEventType.AUDIT_MAINTENANCE, operator, len(trail) + 1)
    assert record.extra["rows_rehashed"] == expected and record.extra["rows_sealed_before_request_context"] == 2
    assert "issue 13" in record.rationale
    assert_verifies_and_signs()


@pytest.mark.audit_tamper
def test_relink_refuses_when_a_checkpoint_covers_the_rows(legacy_trail, signing_key):
    # A checkpoint stored over the affected rows (as a database admin could): never rewrite what it vouched for.
    head = AuditEntry.objects.latest()
    AuditCheckpoint.objects.create(last_id=head.pk, seq=head.seq, head_hash=head.entry_hash, signature="0" * 64, document="{}")
    with pytest.raises(CommandError, match="vouched for"):
        call_command("audit_relink", "--apply", stdout=io.StringIO())
    assert not AuditEntry.objects.filter(event_name="audit.relinked").exists()


@pytest.mark.audit_tamper
def test_relink_refuses_a_chain_with_any_other_break(legacy_trail):
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'a lie' WHERE id = %s", [legacy_trail[-1].pk])
    with pytest.raises(CommandError, match="changed_content"):
        call_command("audit_relink", "--apply", stdout=io.StringIO())
    hashes = list(AuditEntry.objects.order_by("id").values_list("entry_hash", flat=True))
    assert hashes == [row.entry_hash for row in legacy_trail]  # nothing re-hashed
