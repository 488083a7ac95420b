"""The audit hash chain: sealing at insert, verify_audit, signed checkpoints, the API and admin status.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL (tampering then disables the append-only trigger
the way a database administrator could).
"""

import contextlib
import hashlib
import hmac
import io
import ipaddress
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone as dt_timezone

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from audit import integrity
from audit.tests.tampering import as_database_admin as _as_database_admin
from audit.models import AuditCheckpoint, AuditEntry, AuditEventType, AuditImmutable
from commandcentral.core.recording import record_event
from commandcentral.core.transitions import TransitionForbidden, perform_transition
from projects.services import project_create, project_update

KEY = "first-signing-key-0123456789abcdef"
OTHER_KEY = "another-signing-key-fedcba9876543210"

# The field list exactly as README "Tamper-evident audit trail" documents it.
DOCUMENTED_FIELDS = [
    "action", "actor_email", "actor_id", "actor_type", "additional_data", "changes", "changes_text", "cid",
    "content_type_id", "entity_id", "entity_type", "event_name", "event_type", "extra", "failure_reason",
    "from_state", "object_id", "object_pk", "object_repr", "project_id", "rationale", "remote_addr",
    "remote_port", "serialized_data", "success", "timestamp", "to_state", "transition",
]


@pytest.fixture
def signing_key(settings):
    settings.AUDIT_SIGNING_KEY = KEY
    return KEY


@pytest.fixture
def trail(owner, viewer, project):
    """A realistic trail: auditlog rows, a transition, a refusal, and hand-written events."""
    project_update(project=project, actor=owner, description="Now with a plan", metadata={"b": 1, "a": 2.0, "big": 1e16})
    perform_transition(project, "activate", actor=owner, rationale="Go")
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "pause", actor=viewer, rationale="Stop")
    record_event(
        event_type=AuditEventType.AUTH_FAILED, event_name="auth.failed", success=False, remote_addr="2001:DB8::1",
        extra={"zeta": [1, 2.5, {"y": None, "x": "é"}], "alpha": True},
    )
    project_create(actor=owner, name="Second project")
    return list(AuditEntry.objects.order_by("id"))


def _verify(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=err)
    return out.getvalue()


def _verify_fails(*args) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", *args, stdout=out, stderr=io.StringIO())
    return str(caught.value), out.getvalue()


def _checkpoint(tmp_path, name="checkpoint.json"):
    path = tmp_path / name
    call_command("audit_checkpoint", "--output", str(path), stdout=io.StringIO())
    return path


def _swap(first_id: int, second_id: int, columns: list[str]) -> None:
    listed = ", ".join(columns)
    with _as_database_admin() as cursor:
        cursor.execute(f"CREATE TEMP TABLE audit_swap AS SELECT id, {listed} FROM audit_auditentry WHERE id IN ({first_id}, {second_id})")
        if "seq" in columns:  # seq is UNIQUE: park one row out of the way first
            cursor.execute(f"UPDATE audit_auditentry SET seq = 999999999 WHERE id = {second_id}")
        for target, source in ((first_id, second_id), (second_id, first_id)):
            cursor.execute(f"UPDATE audit_auditentry SET ({listed}) = (SELECT {listed} FROM audit_swap WHERE id = {source}) WHERE id = {target}")
        cursor.execute("DROP TABLE audit_swap")


def _rehash_from(row_id: int) -> None:
    """An attacker who knows the algorithm recomputes the chain from a row onwards."""
    prev = integrity.anchor_before(row_id)
    rows = list(AuditEntry.objects.filter(id__gte=row_id).order_by("id").values(*integrity.CHAIN_FIELDS, *integrity.HASHED_FIELDS))
    with _as_database_admin() as cursor:
        seq, prev_hash = prev.seq, prev.entry_hash
        for row in rows:
            seq += 1
            entry_hash = integrity.entry_hash_of(row, seq=seq, prev_hash=prev_hash)
            cursor.execute(
                "UPDATE audit_auditentry SET seq = %s, prev_hash = %s, entry_hash = %s WHERE id = %s",
                [seq, prev_hash, entry_hash, row["id"]],
            )
            prev_hash = entry_hash


# --- Sealing -------------------------------------------------------------------------------------------


def test_every_row_is_chained_from_genesis_in_id_order(trail):
    rows = list(AuditEntry.objects.order_by("id").values("id", "seq", "prev_hash", "entry_hash"))
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["prev_hash"] == integrity.GENESIS_HASH
    for previous, row in zip(rows, rows[1:]):
        assert row["prev_hash"] == previous["entry_hash"]
    assert len({row["entry_hash"] for row in rows}) == len(rows)


def test_the_documented_canonical_form_recomputes_every_hash(trail):
    """An outside tool following README's rules, with nothing but hashlib and json."""
    assert list(integrity.HASHED_FIELDS) == DOCUMENTED_FIELDS

    def number(value):  # integral numbers as integers, on every level of a JSON value
        if isinstance(value, dict):
            return {key: number(item) for key, item in value.items()}
        if isinstance(value, list):
            return [number(item) for item in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value

    prev_hash = "0" * 64
    for row in AuditEntry.objects.order_by("id").values(*DOCUMENTED_FIELDS, "seq", "entry_hash"):
        fields = {}
        for name in DOCUMENTED_FIELDS:
            value = row[name]
            if isinstance(value, uuid.UUID):
                value = str(value)
            elif name == "timestamp":
                value = value.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")
            elif name == "remote_addr" and value and ":" in value:
                value = ipaddress.ip_address(value).exploded
            elif name in ("additional_data", "changes", "extra", "serialized_data"):
                value = number(value)
            fields[name] = value
        document = {"fields": fields, "prev_hash": prev_hash, "seq": row["seq"], "version": 1}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == row["entry_hash"]
        prev_hash = row["entry_hash"]


def test_json_values_hash_the_same_whatever_the_key_order_or_number_spelling():
    loaded = {"big": 10_000_000_000_000_000, "a": 1, "b": [1.5, {"y": 2, "x": 1}]}
    written = {"b": [1.5, {"x": 1.0, "y": 2}], "a": 1.0, "big": 1e16}
    assert integrity._normalise("json", loaded) == integrity._normalise("json", written)
    assert integrity._normalise("ip", "::FFFF:1.2.3.4") == integrity._normalise("ip", "::ffff:102:304")


def test_bulk_create_is_refused_because_it_would_skip_the_chain(db):
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.bulk_create([AuditEntry(event_type="auth_login", event_name="auth.login")])
    assert not AuditEntry.objects.exists()


def test_a_rolled_back_append_leaves_no_gap(owner):
    first = record_event(event_type="auth_login", event_name="auth.login", actor=owner)
    with contextlib.suppress(RuntimeError), transaction.atomic():
        record_event(event_type="auth_login", event_name="auth.login", actor=owner)
        raise RuntimeError("the change being audited failed")
    second = record_event(event_type="auth_logout", event_name="auth.logout", actor=owner)
    assert second.seq == first.seq + 1 and second.prev_hash == first.entry_hash
    assert f"OK: {second.seq} rows checked" in _verify()


# --- verify_audit ----------------------------------------------------------------------------------


def test_a_clean_chain_verifies(trail):
    out = _verify()
    assert out.startswith(f"OK: {len(trail)} rows checked (ids {trail[0].pk}..{trail[-1].pk})")
    assert trail[-1].entry_hash in out


def test_an_empty_trail_verifies(db):
    assert _verify().startswith("OK: 0 rows checked")


@pytest.mark.audit_tamper
def test_changing_one_rows_content_is_named_as_changed_content(trail):
    victim = trail[2]
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'nothing to see' WHERE id = %s", [victim.pk])
    message, out = _verify_fails()
    assert f"(changed_content) at row #{victim.pk}" in message
    assert f"BROKEN: changed_content at row #{victim.pk} (seq {victim.seq})" in out
    assert "2 rows verified before the break" in out


@pytest.mark.audit_tamper
def test_changing_a_json_value_is_caught_too(trail):
    victim = trail[1]
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET extra = %s WHERE id = %s", ['{"hidden": true}', victim.pk])
    message, _ = _verify_fails()
    assert f"(changed_content) at row #{victim.pk}" in message


@pytest.mark.audit_tamper
def test_a_rewritten_and_rehashed_row_breaks_the_link_from_the_next_one(trail):
    victim = trail[1]
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET actor_email = 'someone@else.example' WHERE id = %s", [victim.pk])
    row = AuditEntry.objects.filter(pk=victim.pk).values(*integrity.CHAIN_FIELDS, *integrity.HASHED_FIELDS).get()
    with _as_database_admin() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET entry_hash = %s WHERE id = %s",
            [integrity.entry_hash_of(row, seq=row["seq"], prev_hash=row["prev_hash"]), victim.pk],
        )
    message, _ = _verify_fails()
    assert f"(changed_content) at row #{victim.pk}" in message and "was rewritten" in message


@pytest.mark.audit_tamper
def test_deleting_a_row_is_named_as_a_missing_row(trail):
    victim = trail[3]
    with _as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    message, out = _verify_fails()
    assert f"(missing_row) at row #{trail[4].pk}" in message
    assert f"seq {victim.seq} missing" in message and f"between row #{trail[2].pk} and row #{trail[4].pk}" in message


@pytest.mark.audit_tamper
def test_deleting_the_first_rows_is_a_missing_row_too(trail):
    with _as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id IN (%s, %s)", [trail[0].pk, trail[1].pk])
    message, _ = _verify_fails()
    assert f"(missing_row) at row #{trail[2].pk}" in message and "seq 1..2 missing" in message


@pytest.mark.audit_tamper
def test_swapping_two_rows_contents_is_named_as_a_reordered_row(trail):
    first, second = trail[1], trail[3]
    _swap(first.pk, second.pk, list(integrity.HASHED_FIELDS))
    message, out = _verify_fails()
    assert f"(reordered_row) at row #{first.pk}" in message
    assert f"holds the content of chain position seq {second.seq} (row #{second.pk})" in message


@pytest.mark.audit_tamper
def test_the_bounded_search_for_moved_content_falls_back_to_changed_content(trail):
    first, second = trail[1], trail[3]
    _swap(first.pk, second.pk, list(integrity.HASHED_FIELDS))
    assert integrity.verify_chain(search_window=1).failure.kind == "changed_content"
    assert integrity.verify_chain(search_window=2).failure.kind == "reordered_row"


@pytest.mark.audit_tamper
def test_swapping_two_whole_rows_chain_columns_included_is_a_reordered_row(trail):
    first, second = trail[1], trail[3]
    _swap(first.pk, second.pk, [*integrity.HASHED_FIELDS, "seq", "prev_hash", "entry_hash"])
    message, _ = _verify_fails()
    assert f"(reordered_row) at row #{first.pk}" in message
    assert f"seq {first.seq} is row #{second.pk}" in message


@pytest.mark.audit_tamper
def test_from_checks_only_rows_from_that_id_and_links_them_to_the_row_before(trail):
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'old lie' WHERE id = %s", [trail[0].pk])
    out = _verify("--from", str(trail[2].pk))
    assert out.startswith(f"OK: {len(trail) - 2} rows checked (ids {trail[2].pk}..{trail[-1].pk})")
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'new lie' WHERE id = %s", [trail[4].pk])
    message, _ = _verify_fails("--from", str(trail[2].pk))
    assert f"(changed_content) at row #{trail[4].pk}" in message


def test_progress_goes_to_stderr(trail):
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", "--progress", "--batch-size", "2", stdout=out, stderr=err)
    assert f"verify_audit: 2/{len(trail)} rows checked" in err.getvalue()
    assert "verify_audit:" not in out.getvalue()


def test_json_report(trail):
    report = json.loads(_verify("--json"))
    assert report["ok"] is True and report["rows_checked"] == len(trail) and report["break"] is None


# --- Signed checkpoints ----------------------------------------------------------------------------


def test_checkpoint_needs_a_signing_key(trail, settings):
    settings.AUDIT_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_SIGNING_KEY is empty"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert not AuditCheckpoint.objects.exists()


def test_checkpoint_is_signed_stored_and_verifies(trail, signing_key, tmp_path):
    path = _checkpoint(tmp_path)
    document = json.loads(path.read_text())
    assert document["seq"] == len(trail) and document["last_id"] == trail[-1].pk
    assert document["head_hash"] == trail[-1].entry_hash
    body = {key: value for key, value in document.items() if key != "signature"}
    expected = hmac.new(
        KEY.encode(), json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256
    ).hexdigest()
    assert document["signature"] == expected
    stored = AuditCheckpoint.objects.get()
    assert (stored.seq, stored.head_hash, json.loads(stored.document)) == (len(trail), trail[-1].entry_hash, document)
    record_event(event_type="auth_login", event_name="auth.login")
    out = _verify("--checkpoint", str(path))
    assert f"OK: {len(trail) + 1} rows checked" in out and "extends the checkpoint" in out


def test_checkpoint_printed_on_stdout_when_no_output_file(trail, signing_key):
    out = io.StringIO()
    call_command("audit_checkpoint", "--no-store", stdout=out)
    assert json.loads(out.getvalue())["head_hash"] == trail[-1].entry_hash
    assert not AuditCheckpoint.objects.exists()


def test_a_checkpoint_signed_with_another_key_does_not_verify(trail, signing_key, settings, tmp_path):
    path = _checkpoint(tmp_path)
    settings.AUDIT_SIGNING_KEY = OTHER_KEY
    message, _ = _verify_fails("--checkpoint", str(path))
    assert "(checkpoint_mismatch)" in message and "another key" in message


def test_an_edited_checkpoint_does_not_verify(trail, signing_key, tmp_path):
    path = _checkpoint(tmp_path)
    document = json.loads(path.read_text())
    document["seq"] -= 1
    path.write_text(json.dumps(document))
    message, _ = _verify_fails("--checkpoint", str(path))
    assert "(checkpoint_mismatch)" in message


def test_a_chain_rewritten_from_scratch_verifies_alone_but_not_against_an_older_checkpoint(trail, signing_key, tmp_path):
    path = _checkpoint(tmp_path)
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'rewritten' WHERE id = %s", [trail[2].pk])
    _rehash_from(trail[2].pk)
    assert _verify().startswith("OK:")  # self-consistent: only the checkpoint kept elsewhere shows it
    message, _ = _verify_fails("--checkpoint", str(path))
    assert f"(checkpoint_mismatch) at row #{trail[-1].pk}" in message and "rewritten" in message


def test_a_truncated_tail_fails_against_an_older_checkpoint(trail, signing_key, tmp_path):
    path = _checkpoint(tmp_path)
    with _as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [trail[-1].pk])
    assert _verify().startswith("OK:")
    message, _ = _verify_fails("--checkpoint", str(path))
    assert "(missing_row)" in message and "truncated" in message


def test_a_checkpoint_of_an_empty_trail_is_extended_by_any_intact_chain(db, signing_key, tmp_path):
    path = _checkpoint(tmp_path)
    assert json.loads(path.read_text())["head_hash"] == integrity.GENESIS_HASH
    record_event(event_type="auth_login", event_name="auth.login")
    assert _verify("--checkpoint", str(path)).startswith("OK: 1 rows checked")


@pytest.mark.audit_tamper
def test_a_broken_chain_is_not_signed(trail, signing_key):
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET event_name = 'x' WHERE id = %s", [trail[-1].pk])
    with pytest.raises(CommandError, match=r"refusing to sign a broken chain \(changed_content\)"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert not AuditCheckpoint.objects.exists()


def test_checkpoints_are_append_only(trail, signing_key, tmp_path):
    _checkpoint(tmp_path)
    stored = AuditCheckpoint.objects.get()
    with pytest.raises(AuditImmutable):
        stored.save()
    with pytest.raises(AuditImmutable):
        stored.delete()
    with pytest.raises(AuditImmutable):
        AuditCheckpoint.objects.all().delete()


def test_verify_with_a_missing_or_garbled_checkpoint_file_is_a_clear_error(trail, signing_key, tmp_path):
    with pytest.raises(CommandError, match="cannot read checkpoint"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "nope.json"), stdout=io.StringIO())
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CommandError, match="not JSON"):
        call_command("verify_audit", "--checkpoint", str(tmp_path / "bad.json"), stdout=io.StringIO())


# --- Status: API and admin -------------------------------------------------------------------------


def test_verify_endpoint_needs_credentials_and_an_operator(api_client, trail, member):
    url = reverse("api:event-verify")
    assert api_client.get(url).status_code == 401
    api_client.force_authenticate(member)
    assert api_client.get(url).status_code == 403


def test_verify_endpoint_reports_an_intact_chain(api_client, operator, trail):
    api_client.force_authenticate(operator)
    body = api_client.get(reverse("api:event-verify")).json()
    assert body["ok"] is True and body["break"] is None and body["checkpoint"] is None
    assert body["scope"] == "full" and body["rows_checked"] == len(trail)
    assert body["head_hash"] == trail[-1].entry_hash


def test_verify_endpoint_checks_only_the_tail_after_the_last_checkpoint(api_client, operator, trail, signing_key, tmp_path):
    _checkpoint(tmp_path)
    record_event(event_type="auth_login", event_name="auth.login")
    api_client.force_authenticate(operator)
    body = api_client.get(reverse("api:event-verify")).json()
    assert body["scope"] == "since_checkpoint" and body["rows_checked"] == 1 and body["anchor_seq"] == len(trail)
    assert body["checkpoint"]["seq"] == len(trail) and body["checkpoint"]["signature_valid"] is True
    full = api_client.get(reverse("api:event-verify"), {"full": "true"}).json()
    assert full["scope"] == "full" and full["rows_checked"] == len(trail) + 1


@pytest.mark.audit_tamper
def test_verify_endpoint_reports_a_break(api_client, operator, trail):
    with _as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [trail[2].pk])
    api_client.force_authenticate(operator)
    response = api_client.get(reverse("api:event-verify"))
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["break"] == {
        "kind": "missing_row", "row_id": trail[3].pk, "seq": trail[3].seq,
        "message": f"seq {trail[2].seq} missing: deleted between row #{trail[1].pk} and row #{trail[3].pk}.",
    }


def test_verify_endpoint_rejects_a_bad_parameter(api_client, operator, trail):
    api_client.force_authenticate(operator)
    assert api_client.get(reverse("api:event-verify"), {"full": "maybe"}).status_code == 400


def test_status_is_bounded_to_the_newest_rows_without_a_checkpoint(trail, settings):
    settings.AUDIT_VERIFY_TAIL_LIMIT = 3
    report = integrity.chain_status()
    assert report.ok and report.scope == "tail" and report.rows_checked == 3
    assert report.last_id == trail[-1].pk and report.anchor_seq == len(trail) - 3


def test_a_stored_checkpoint_signed_with_another_key_fails_the_status(trail, signing_key, settings, tmp_path):
    _checkpoint(tmp_path)
    settings.AUDIT_SIGNING_KEY = OTHER_KEY
    report = integrity.chain_status()
    assert not report.ok and report.failure.kind == "checkpoint_mismatch"
    assert report.checkpoint["signature_valid"] is False


def test_admin_shows_the_chain_status_and_stays_read_only(client, operator, trail, signing_key, tmp_path):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    changelist = client.get(reverse("admin:audit_auditentry_changelist"))
    status_url = reverse("admin:audit_auditentry_chain_status")
    assert changelist.status_code == 200 and status_url.encode() in changelist.content
    assert reverse("admin:audit_auditentry_add").encode() not in changelist.content
    page = client.get(status_url)
    assert page.status_code == 200
    head = AuditEntry.objects.order_by("-seq").first()  # saving the operator above appended a row
    assert b"Intact" in page.content and head.entry_hash.encode() in page.content
    assert b"none stored" in page.content
    _checkpoint(tmp_path)
    page = client.get(status_url)
    assert b"signature valid" in page.content and b"rows after the last checkpoint" in page.content


@pytest.mark.audit_tamper
def test_admin_status_shows_a_break(client, operator, trail):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    with _as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET object_repr = 'forged' WHERE id = %s", [trail[0].pk])
    page = client.get(reverse("admin:audit_auditentry_chain_status"))
    assert f"Broken (changed_content) at row #{trail[0].pk}".encode() in page.content


def test_admin_status_is_for_staff_only(client, member, trail):
    client.force_login(member)
    response = client.get(reverse("admin:audit_auditentry_chain_status"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Concurrency (SQLite here; the 8 × 100 PostgreSQL run is in test_integrity_postgres.py) ---------


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_never_fork_the_chain():
    threads, per_thread = 4, 25
    barrier = threading.Barrier(threads)

    def append(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                record_event(event_type="auth_login", event_name="auth.login", extra={"worker": worker, "n": n})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(append, worker) for worker in range(threads)]:
            done.result()  # re-raises a worker's error here
    report = integrity.verify_chain()
    assert report.ok and report.rows_checked == threads * per_thread == report.head_seq


# --- The data migration ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_chain_are_hashed_by_the_migration():
    executor = MigrationExecutor(connection)
    before = [("audit", "0002_append_only_trigger")]
    executor.migrate(before)
    try:
        legacy = executor.loader.project_state(before).apps.get_model("audit", "AuditEntry")
        for n in range(5):
            legacy._base_manager.create(
                action=3, event_type="auth_login", event_name="auth.login", object_repr=f"row {n}",
                extra={"z": n, "a": [1.0, "é"]}, remote_addr="::ffff:10.0.0.1",
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    rows = list(AuditEntry.objects.order_by("id"))
    assert [row.seq for row in rows] == [1, 2, 3, 4, 5] and rows[0].prev_hash == integrity.GENESIS_HASH
    new = record_event(event_type="auth_logout", event_name="auth.logout")
    assert new.seq == 6 and new.prev_hash == rows[-1].entry_hash
    assert _verify().startswith("OK: 6 rows checked")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_auditentry_append_only'")
            assert cursor.fetchone() == ("O",)  # re-enabled after hashing


def test_each_filter_column_is_indexed_once_with_the_id(db):
    """Appends write every index: the (column, -id) composites cover single-column ones (migration 0006)."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditEntry._meta.db_table)
    indexed = [tuple(info["columns"]) for info in constraints.values() if info["index"] and not info["primary_key"]]
    for column in ("project_id", "event_type", "actor_id", "success"):
        assert (column,) not in indexed, column
        assert (column, "id") in indexed, column
