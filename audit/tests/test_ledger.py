"""The audit ledger: sealing, the documented canonical form, verify_audit and each kind of break,
signed checkpoints, the commands, and the data migration from the hash chain.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL (tampering then disables the append-only
triggers the way the table owner could). The API, pages and admin are in test_ledger_surfaces.py.
"""

import base64
import contextlib
import hashlib
import io
import ipaddress
import json
import re
import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.ledger import merkle, verifier
from audit.ledger.canonical import HASHED_FIELDS, _normalise, canonical_bytes
from audit.ledger.checkpoints import signing_key as configured_key
from audit.ledger.sequencer import seal_pending, unqueued_rows
from audit.ledger.verification import verify_ledger
from audit.models import AuditEntry, AuditEventType, AuditImmutable, LedgerCheckpoint, LedgerLeaf, LedgerNode, LedgerQueue
from audit.tests.tampering import as_database_admin
from core.recording import record_event
from core.transitions import TransitionForbidden, perform_transition
from projects.services import project_create, project_update

KEY = "PRIVATE+KEY+ledger.test/audit+a0ca1b43+AVhLrkDgy2r7iipmhdJz5DCiZics3Cqzf/dvrvLVna/T"
OTHER_KEY = "PRIVATE+KEY+other.test/audit+0c962cb4+AYqzCAyqvj2ljU9H2F2OomFLALeB9gwY0HCZKSqe4aUE"

# The field list exactly as README "The audit ledger" documents it.
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
def trail(owner, viewer, project, signing_key):
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
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _verify_fails(*args) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", *args, stdout=out, stderr=io.StringIO())
    return str(caught.value), out.getvalue()


def _checkpoint(tmp_path, name="checkpoint.txt"):
    path = tmp_path / name
    call_command("audit_checkpoint", "--output", str(path), stdout=io.StringIO())
    return path


def _leaves() -> list[tuple[int, int, bytes]]:
    return [(index, entry, bytes(value)) for index, entry, value in LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", "entry_id", "leaf_hash")]


def _rebuild_tree_from_rows() -> None:
    """An attacker who knows the algorithm recomputes every leaf and subtree from the rows as they are now."""
    rows = list(AuditEntry.objects.order_by("id").values("id", *HASHED_FIELDS))
    hashes = [verifier.leaf_hash(canonical_bytes(row)) for row in rows]
    made = merkle.new_subtrees(0, hashes, {})
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_ledgernode")
        cursor.execute("DELETE FROM audit_ledgerleaf")
        cursor.execute("DELETE FROM audit_ledgercheckpoint")
        for index, (row, value) in enumerate(zip(rows, hashes)):
            cursor.execute("INSERT INTO audit_ledgerleaf (leaf_index, entry_id, leaf_hash, sealed_at) VALUES (%s, %s, %s, %s)",
                           [index, row["id"], value, timezone.now()])
        for (level, index), value in made.items():
            cursor.execute("INSERT INTO audit_ledgernode (key, hash) VALUES (%s, %s)", [LedgerNode.key_of(level, index), value])


# --- Sealing ---------------------------------------------------------------------------------------------


def test_rows_wait_in_the_queue_then_become_leaves_in_id_order(trail):
    # Inside the test's transaction nothing has committed, so nothing was sealed after commit.
    assert sorted(LedgerQueue.objects.values_list("entry_id", flat=True)) == [row.pk for row in trail]
    assert seal_pending() == len(trail)
    assert not LedgerQueue.objects.exists()
    assert [(index, entry) for index, entry, _ in _leaves()] == [(n, row.pk) for n, row in enumerate(trail)]
    n = len(trail)
    assert LedgerNode.objects.count() == n - bin(n).count("1")  # one per complete subtree of level ≥ 1
    assert seal_pending() == 0  # idempotent


def test_the_documented_canonical_form_recomputes_every_leaf_and_the_root(trail):
    """An outside tool following README's rules, with nothing but hashlib, json and base64."""
    assert list(HASHED_FIELDS) == DOCUMENTED_FIELDS
    seal_pending()

    def number(value):  # integral numbers as integers, on every level of a JSON value
        if isinstance(value, dict):
            return {key: number(item) for key, item in value.items()}
        if isinstance(value, list):
            return [number(item) for item in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value

    leaves = dict(LedgerLeaf.objects.values_list("entry_id", "leaf_hash"))
    hashes = []
    for row in AuditEntry.objects.order_by("id").values("id", *DOCUMENTED_FIELDS):
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
        text = json.dumps({"fields": fields, "id": row["id"], "version": 2}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        leaf = hashlib.sha256(b"\x00" + text.encode("utf-8")).digest()
        assert leaf == bytes(leaves[row["id"]]), row["id"]
        hashes.append(leaf)
    note = call_command_output("audit_checkpoint")
    body = note.split("\n\n")[0].split("\n")
    assert body[0] == "ledger.test/audit" and int(body[1]) == len(hashes)
    assert base64.b64decode(body[2]) == verifier.root_from_leaves(hashes)


def call_command_output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_json_values_hash_the_same_whatever_the_key_order_or_number_spelling():
    loaded = {"big": 10_000_000_000_000_000, "a": 1, "b": [1.5, {"y": 2, "x": 1}]}
    written = {"b": [1.5, {"x": 1.0, "y": 2}], "a": 1.0, "big": 1e16}
    assert _normalise("json", loaded) == _normalise("json", written)
    assert _normalise("ip", "::FFFF:1.2.3.4") == _normalise("ip", "::ffff:102:304")


def test_bulk_create_is_refused_because_it_would_skip_the_queue(db):
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.bulk_create([AuditEntry(event_type="auth_login", event_name="auth.login")])
    assert not AuditEntry.objects.exists() and not LedgerQueue.objects.exists()


def test_a_rolled_back_write_leaves_neither_row_nor_queue_entry(owner, signing_key):
    first = record_event(event_type="auth_login", event_name="auth.login", actor=owner)
    with contextlib.suppress(RuntimeError), transaction.atomic():
        ghost = record_event(event_type="auth_login", event_name="auth.login", actor=owner)
        raise RuntimeError("the change being audited failed")
    second = record_event(event_type="auth_logout", event_name="auth.logout", actor=owner)
    # SQLite may give ghost's id to `second`: count by content.
    assert AuditEntry.objects.filter(event_name="auth.login").count() == 1 and ghost.event_name == "auth.login"
    rows = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    assert list(LedgerQueue.objects.order_by("entry_id").values_list("entry_id", flat=True)) == rows
    assert {first.pk, second.pk} <= set(rows)
    assert f"OK: {len(rows)} leaves recomputed" in _verify()
    assert [entry for _, entry, _ in _leaves()] == rows


def test_leaves_nodes_and_checkpoints_are_append_only_in_the_orm(trail):
    seal_pending()
    call_command_output("audit_checkpoint")
    leaf, node, checkpoint = LedgerLeaf.objects.first(), LedgerNode.objects.first(), LedgerCheckpoint.objects.first()
    for obj in (leaf, node, checkpoint):
        with pytest.raises(AuditImmutable):
            obj.save()
        with pytest.raises(AuditImmutable):
            obj.delete()
        with pytest.raises(AuditImmutable):
            type(obj).objects.all().delete()
        with pytest.raises(AuditImmutable):
            type(obj).objects.update(pk=obj.pk)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only triggers exist on PostgreSQL only")
def test_the_database_refuses_changes_to_the_ledger_tables(trail):
    from django.db import DatabaseError

    seal_pending()
    call_command_output("audit_checkpoint")
    for statement in ("UPDATE audit_ledgerleaf SET leaf_hash = leaf_hash", "DELETE FROM audit_ledgernode",
                      "UPDATE audit_ledgercheckpoint SET note = ''"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    # TRUNCATE: test_ledger_postgres.py::test_truncate_is_refused_outside_test_databases


# --- verify_audit and each kind of break ---------------------------------------------------------


def test_a_clean_ledger_verifies(trail):
    out = _verify()
    assert out.startswith(f"OK: {len(trail)} leaves recomputed from their rows; tree size {len(trail)}")


def test_an_empty_trail_verifies(db, signing_key):
    assert _verify().startswith("OK: 0 leaves recomputed")


@pytest.mark.audit_tamper
def test_changing_one_rows_content_is_named_as_changed_content(trail):
    seal_pending()
    victim = trail[2]
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'nothing to see' WHERE id = %s", [victim.pk])
    message, out = _verify_fails()
    assert f"(changed_content) at row #{victim.pk}" in message
    assert f"BROKEN: changed_content at row #{victim.pk} (leaf 2)" in out
    assert "2 leaves verified before the break" in out


@pytest.mark.audit_tamper
def test_changing_a_json_value_is_caught_too(trail):
    seal_pending()
    victim = trail[1]
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET extra = %s WHERE id = %s", ['{"hidden": true}', victim.pk])
    message, _ = _verify_fails()
    assert f"(changed_content) at row #{victim.pk}" in message


@pytest.mark.audit_tamper
def test_swapping_two_rows_contents_is_caught_at_the_first(trail):
    seal_pending()
    first, second = trail[1], trail[3]
    listed = ", ".join(HASHED_FIELDS)
    with as_database_admin() as cursor:
        cursor.execute(f"CREATE TEMP TABLE audit_swap AS SELECT id, {listed} FROM audit_auditentry WHERE id IN ({first.pk}, {second.pk})")
        for target, source in ((first.pk, second.pk), (second.pk, first.pk)):
            cursor.execute(f"UPDATE audit_auditentry SET ({listed}) = (SELECT {listed} FROM audit_swap WHERE id = {source}) WHERE id = {target}")
        cursor.execute("DROP TABLE audit_swap")
    message, _ = _verify_fails()
    assert f"(changed_content) at row #{first.pk}" in message


@pytest.mark.audit_tamper
def test_deleting_a_row_and_its_leaf_is_a_missing_row(trail):
    seal_pending()
    victim = trail[3]
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_ledgerleaf WHERE entry_id = %s", [victim.pk])
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    message, out = _verify_fails()
    assert "(missing_row)" in message and "leaf 3 is missing" in message
    assert "3 leaves verified before the break" in out


@pytest.mark.audit_tamper
def test_a_stored_subtree_that_does_not_match_its_leaves_is_a_tree_mismatch(trail):
    seal_pending()
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_ledgernode SET hash = %s WHERE key = %s", [b"\x00" * 32, LedgerNode.key_of(1, 0)])
    message, _ = _verify_fails()
    assert "(tree_mismatch)" in message and "level 1, index 0" in message


@pytest.mark.audit_tamper
def test_a_row_taken_out_of_the_queue_is_an_unqueued_row_whatever_its_age(trail, settings):
    """A row written a moment ago and taken out of the queue is flagged at once: every committed row is a
    leaf or queued, so no grace period is needed (a fresh timestamp is no hiding place)."""
    seal_pending()
    late = record_event(event_type="auth_login", event_name="auth.login")
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_ledgerqueue WHERE entry_id = %s", [late.pk])
    assert unqueued_rows() == 1
    message, _ = _verify_fails()
    assert f"(unqueued_row) at row #{late.pk}" in message and "never sealed" in message


class _Undo(Exception):
    pass


@pytest.mark.audit_tamper
@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL's foreign key refuses to delete a sealed row at once; SQLite defers the check to the commit")
def test_a_leaf_whose_row_is_gone_is_a_leaf_without_row(trail):
    seal_pending()
    victim = trail[-1]
    with contextlib.suppress(_Undo), transaction.atomic():  # undone before the test's constraint check
        with as_database_admin() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
        message, _ = _verify_fails()
        raise _Undo
    assert f"(leaf_without_row) at row #{victim.pk}" in message


def test_progress_goes_to_stderr(trail):
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", "--progress", "--batch-size", "2", stdout=out, stderr=err)
    assert f"verify_audit: 2/{len(trail)} leaves checked" in err.getvalue()
    assert "verify_audit:" not in out.getvalue()


def test_json_report(trail):
    report = json.loads(_verify("--json"))
    assert report["ok"] is True and report["leaves_checked"] == len(trail) and report["break"] is None


# --- Checkpoints and the commands ------------------------------------------------------------------


def test_checkpoint_is_signed_stored_printed_and_verifies_with_the_public_key(trail, tmp_path):
    path = _checkpoint(tmp_path)
    note = path.read_text()
    checkpoint = verifier.verify_checkpoint(note, configured_key().verifier)
    assert (checkpoint.origin, checkpoint.size) == ("ledger.test/audit", len(trail))
    stored = LedgerCheckpoint.objects.get()
    assert (stored.tree_size, bytes(stored.root_hash), stored.note) == (len(trail), checkpoint.root_hash, note)
    assert call_command_output("audit_checkpoint") == note  # same tree, same (deterministic) note
    assert LedgerCheckpoint.objects.count() == 1


def test_periodic_checkpoint_signs_only_when_the_tree_has_grown(trail):
    first = call_command_output("audit_checkpoint", "--if-grown")
    assert first and call_command_output("audit_checkpoint", "--if-grown") == ""
    record_event(event_type="auth_login", event_name="auth.login")
    second = call_command_output("audit_checkpoint", "--if-grown")
    assert f"\n{len(trail) + 1}\n" in second
    assert list(LedgerCheckpoint.objects.order_by("tree_size").values_list("tree_size", flat=True)) == [len(trail), len(trail) + 1]


def test_a_checkpoint_extends_and_verify_checks_it(trail, tmp_path):
    path = _checkpoint(tmp_path)
    record_event(event_type="auth_login", event_name="auth.login")
    out = _verify("--checkpoint", str(path))
    assert "OK:" in out and f"extends the given checkpoint of size {len(trail)}" in out


def test_a_note_signed_with_another_key_is_refused(trail, tmp_path, settings):
    settings.AUDIT_SIGNING_KEY = OTHER_KEY
    path = _checkpoint(tmp_path)
    settings.AUDIT_SIGNING_KEY = KEY
    with pytest.raises(CommandError, match="no signature by ledger.test/audit"):
        _verify("--checkpoint", str(path))
    # The same name with another key: the key hash differs, so it is not taken for ours either.
    forged = path.read_text().replace("other.test/audit", "ledger.test/audit")
    path.write_text(forged)
    with pytest.raises(CommandError, match="checkpoint.txt"):
        _verify("--checkpoint", str(path))


def test_an_edited_note_is_refused(trail, tmp_path):
    path = _checkpoint(tmp_path)
    path.write_text(path.read_text().replace(f"\n{len(trail)}\n", f"\n{len(trail) - 1}\n"))
    with pytest.raises(CommandError, match="does not verify"):
        _verify("--checkpoint", str(path))


@pytest.mark.audit_tamper
def test_a_trail_rewritten_from_scratch_is_caught_by_the_signers_record_and_an_older_checkpoint(trail, tmp_path, settings):
    path = _checkpoint(tmp_path)
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'it was always like this' WHERE id = %s", [trail[1].pk])
    _rebuild_tree_from_rows()  # rows, leaves and subtrees agree again, and the stored checkpoints are gone
    message, _ = _verify_fails()
    assert "(diverged)" in message and "ledger diverged:" in message and "was signed for that size" in message
    Path(settings.AUDIT_SIGNER_STATE).unlink()  # whoever also runs the signer's host wipes its record
    assert _verify().startswith("OK:")  # self-consistent: only a checkpoint kept elsewhere (or a witness) tells
    message, _ = _verify_fails("--checkpoint", str(path))
    assert "(checkpoint_mismatch)" in message and "the trail was rewritten" in message


@pytest.mark.audit_tamper
def test_a_truncated_tail_fails_against_an_older_checkpoint(trail, tmp_path):
    path = _checkpoint(tmp_path)
    keep = trail[:3]
    with as_database_admin() as cursor:
        cursor.execute("DELETE FROM audit_ledgerleaf WHERE leaf_index >= 3")
        cursor.execute("DELETE FROM audit_ledgernode")
        cursor.execute("DELETE FROM audit_ledgercheckpoint")
        cursor.execute("DELETE FROM audit_auditentry WHERE id > %s", [keep[-1].pk])
    _rebuild_tree_from_rows()
    message, _ = _verify_fails("--checkpoint", str(path))
    assert "(missing_row)" in message and f"covers {len(trail)} leaves but the ledger holds 3" in message


@pytest.mark.audit_tamper
def test_a_stored_checkpoint_catches_a_rewrite_without_any_file(trail):
    call_command_output("audit_checkpoint")
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'quietly' WHERE id = %s", [trail[0].pk])
        rows = list(AuditEntry.objects.order_by("id").values("id", *HASHED_FIELDS))
    hashes = [verifier.leaf_hash(canonical_bytes(row)) for row in rows]
    with as_database_admin() as cursor:  # leaves and subtrees recomputed, the stored checkpoint left alone
        for index, value in enumerate(hashes):
            cursor.execute("UPDATE audit_ledgerleaf SET leaf_hash = %s WHERE leaf_index = %s", [value, index])
        for (level, index), value in merkle.new_subtrees(0, hashes, {}).items():
            cursor.execute("UPDATE audit_ledgernode SET hash = %s WHERE key = %s", [value, LedgerNode.key_of(level, index)])
    message, _ = _verify_fails()
    assert "(checkpoint_mismatch)" in message


def test_missing_or_garbled_checkpoint_file_is_a_clear_error(trail, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        _verify("--checkpoint", str(tmp_path / "absent.txt"))
    garbled = tmp_path / "garbled.txt"
    garbled.write_text("not a note")
    with pytest.raises(CommandError, match="garbled.txt: note is malformed"):
        _verify("--checkpoint", str(garbled))


def test_keygen_prints_a_pair_that_signs_and_verifies(db):
    out = call_command_output("audit_keygen", "--name", "example.org/audit")
    private = out.splitlines()[0].removeprefix("AUDIT_SIGNING_KEY=")
    public = out.splitlines()[1].removeprefix("# verifier key (public): ")
    from audit.ledger.notes import checkpoint_body, parse_signing_key

    key = parse_signing_key(private)
    note = key.sign(checkpoint_body("example.org/audit", 0, verifier.EMPTY_ROOT))
    assert verifier.verify_checkpoint(note, verifier.parse_verifier_key(public)).size == 0
    with pytest.raises(CommandError, match="--name"):
        call_command("audit_keygen", "--name", "has space", stdout=io.StringIO())


def test_keys_whose_base64_holds_a_plus_sign_parse(db):
    from audit.ledger.notes import SigningKey, parse_signing_key

    key = SigningKey("plus.test/audit", bytes([0xFB] * 32))  # base64 of 0x01 ‖ 0xFB… is full of '+'
    assert "+" in str(key).split("+", 4)[4]
    assert parse_signing_key(str(key)) == key
    key = next(k for k in (SigningKey("plus.test/audit", bytes([n]) * 32) for n in range(256)) if "+" in str(k.verifier).split("+", 2)[2])
    assert parse_signing_key(str(key)) == key
    assert verifier.parse_verifier_key(str(key.verifier)) == key.verifier


def test_keygen_shows_the_configured_verifier_key(signing_key, db):
    assert call_command_output("audit_keygen", "--show-configured").strip() == str(configured_key().verifier)
    assert call_command_output("audit_keygen", "--show-configured").startswith("ledger.test/audit+a0ca1b43+")


def test_an_hmac_era_key_is_a_clear_configuration_error(settings, db):
    from django.core.management import call_command as run

    settings.AUDIT_SIGNING_KEY = "first-signing-key-0123456789abcdef"
    with pytest.raises(CommandError, match="not a signed-note private key"):
        run("audit_checkpoint", stdout=io.StringIO())
    from audit.checks import signing_key_configured

    assert [error.id for error in signing_key_configured()] == ["audit.E001"]


def test_the_key_can_come_from_a_file(settings, tmp_path, db):
    path = tmp_path / "ledger.key"
    path.write_text(KEY + "\n")
    settings.AUDIT_SIGNING_KEY, settings.AUDIT_SIGNING_KEY_FILE = "", str(path)
    assert str(configured_key().verifier).startswith("ledger.test/audit+a0ca1b43+")
    settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "missing.key")
    with pytest.raises(CommandError, match="missing.key"):
        call_command("audit_checkpoint", stdout=io.StringIO())


def test_the_sweep_seals_what_is_pending(trail):
    assert LedgerQueue.objects.count() == len(trail)
    assert call_command_output("audit_seal").startswith(f"sealed {len(trail)} rows; 0 pending")
    assert LedgerLeaf.objects.count() == len(trail) and not LedgerQueue.objects.exists()


# --- The data migration from the hash chain --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_hash_chained_rows_become_leaves_in_seq_order_and_a_broken_chain_stops_the_migration(settings):
    settings.AUDIT_SIGNING_KEY = KEY
    executor = MigrationExecutor(connection)
    before_chain, chained = [("audit", "0002_append_only_trigger")], [("audit", "0007_audit_maintenance_event_type")]
    executor.migrate(before_chain)
    try:
        legacy = executor.loader.project_state(before_chain).apps.get_model("audit", "AuditEntry")
        for n in range(5):
            legacy._base_manager.create(
                action=3, event_type="auth_login", event_name="auth.login", object_repr=f"row {n}",
                extra={"z": n, "a": [1.0, "é"]}, remote_addr="::ffff:10.0.0.1",
            )
        executor = MigrationExecutor(connection)
        executor.migrate(chained)  # 0004 hashes them into the chain
        with as_database_admin() as cursor:
            cursor.execute("UPDATE audit_auditentry SET object_repr = 'edited' WHERE object_repr = 'row 2'")
        executor = MigrationExecutor(connection)
        with pytest.raises(RuntimeError, match=r"does not verify in the hash chain"):
            executor.migrate(executor.loader.graph.leaf_nodes())
        with as_database_admin() as cursor:  # the operator repairs it (restored from a backup)
            cursor.execute("UPDATE audit_auditentry SET object_repr = 'row 2' WHERE object_repr = 'edited'")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    rows = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    assert [(index, entry) for index, entry, _ in _leaves()] == list(enumerate(rows))
    assert not hasattr(AuditEntry, "seq") and "seq" not in [f.name for f in AuditEntry._meta.fields]
    new = record_event(event_type="auth_logout", event_name="auth.logout")
    assert LedgerLeaf.objects.get(entry=new).leaf_index == 5  # sealed after its commit
    assert _verify().startswith("OK: 6 leaves recomputed")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'audit_%%' ORDER BY tgname")
            triggers = dict(cursor.fetchall())
        assert triggers["audit_auditentry_append_only"] == "O" and triggers["audit_ledgerleaf_append_only"] == "O"
        assert "audit_auditentry_no_truncate" in triggers


def test_each_filter_column_is_indexed_once_with_the_id(db):
    """Appends write every index: the (column, -id) composites cover single-column ones (migration 0006)."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditEntry._meta.db_table)
    indexed = [tuple(info["columns"]) for info in constraints.values() if info["index"] and not info["primary_key"]]
    for column in ("project_id", "event_type", "actor_id", "success"):
        assert (column,) not in indexed, column
        assert (column, "id") in indexed, column


def test_a_command_seals_the_rows_it_left_for_later_on_its_way_out(tmp_path):
    """Grouped sealing leaves most of a command's rows for later; the process seals them as it exits."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings as django_settings

    env = {**os.environ, "DEBUG": "1", "ENV_FILE": os.devnull, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "AUDIT_SIGNER_STATE": str(tmp_path / "audit-signer.state"),
           "DJANGO_SETTINGS_MODULE": "commandcentral.settings", "AUDIT_SEAL_MIN_INTERVAL": "3600", "LOG_LEVEL": "WARNING"}
    base = Path(django_settings.BASE_DIR)

    def manage(*args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=base, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    manage("seed_demo")
    counts = manage("shell", "-c", "from audit.models import AuditEntry, LedgerLeaf, LedgerQueue; "
                    "print(AuditEntry.objects.count(), LedgerLeaf.objects.count(), LedgerQueue.objects.count())").split()[-3:]
    rows, leaves, queued = map(int, counts)
    assert rows > 10 and (leaves, queued) == (rows, 0)


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's executemany append (PostgreSQL's has its own test)")
def test_sqlite_the_fast_append_and_the_orm_fallback_store_the_same_tree(settings, api_client, owner):
    """DELETE … RETURNING and executemany against bulk_create: the same leaves, nodes and stored text, in
    batches of either path; rows written through the API."""
    api_client.force_authenticate(owner)
    settings.AUDIT_SEAL_ON_COMMIT = False
    for n in range(5):
        assert api_client.post("/api/v1/projects/", {"name": f"Plain {n}"}, format="json").status_code == 201
    settings.AUDIT_LEDGER_FAST_APPEND = False
    assert seal_pending(batch_size=2) >= 5  # the plain ORM path, in batches
    plain_count = LedgerLeaf.objects.count()
    for n in range(6):
        assert api_client.post("/api/v1/projects/", {"name": f"Fast {n}"}, format="json").status_code == 201
    settings.AUDIT_LEDGER_FAST_APPEND = True
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql.split()[0], "RETURNING" in sql, many))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert seal_pending(batch_size=4) >= 6 and not LedgerQueue.objects.exists()
    assert ("DELETE", True, False) in statements and ("INSERT", False, True) in statements  # the fast path ran
    leaves = list(LedgerLeaf.objects.order_by("leaf_index").values_list("leaf_index", "entry_id"))
    assert [index for index, _ in leaves] == list(range(len(leaves))) and len(leaves) > plain_count
    assert [entry for _, entry in leaves] == sorted(AuditEntry.objects.values_list("id", flat=True))
    with connection.cursor() as cursor:  # as stored: BLOB hashes and the ORM's datetime text, both ways
        cursor.execute("SELECT leaf_index, typeof(leaf_hash), length(leaf_hash), sealed_at || '' FROM audit_ledgerleaf "
                       "ORDER BY leaf_index")
        stored = cursor.fetchall()
        cursor.execute("SELECT DISTINCT typeof(hash), length(hash) FROM audit_ledgernode")
        assert cursor.fetchall() == [("blob", 32)]
    assert {(kind, size) for _, kind, size, _ in stored} == {("blob", 32)}
    naive_utc = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?")  # Django's SQLite datetime text
    assert all(naive_utc.fullmatch(sealed_at) for *_, sealed_at in stored), stored
    assert LedgerNode.objects.exists()
    report = verify_ledger()
    assert report.ok and report.leaves_checked == len(leaves)
