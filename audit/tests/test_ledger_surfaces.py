"""The ledger through the real stack: sealing after commit behind the API and pages, the ledger API,
the entry page and its proof download, the admin status, /metrics and /ready."""

import json

import threading

import pytest
from django.db import connection

from audit.ledger import verifier
from audit.ledger.checkpoints import make_checkpoint
from audit.ledger.checkpoints import signing_key as configured_key
from audit.ledger.sequencer import seal_pending
from audit.ledger.signer import LedgerDiverged
from audit.models import AuditEntry, AuditEventType, LedgerCheckpoint, LedgerLeaf, LedgerQueue
from audit.tests.tampering import as_database_admin
from core.recording import record_event
from core.transitions import perform_transition
from projects.models import Project

KEY = "PRIVATE+KEY+ledger.test/audit+a0ca1b43+AVhLrkDgy2r7iipmhdJz5DCiZics3Cqzf/dvrvLVna/T"


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.AUDIT_SIGNING_KEY = KEY


def _key():
    return configured_key().verifier


def _checkpoint():
    """What the maintenance task does every few seconds: seal what is pending, sign and store a checkpoint."""
    seal_pending()
    return make_checkpoint()


# --- Sealing after commit, through the middleware ---------------------------------------------------


def test_api_writes_are_sealed_right_after_they_commit(api_client, owner, django_capture_on_commit_callbacks):
    api_client.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = api_client.post("/api/v1/projects/", {"name": "Sealed after commit"}, format="json")
    assert created.status_code == 201
    assert len(callbacks) == 1  # one seal for the request's transaction, however many rows it wrote
    project_rows = list(AuditEntry.objects.filter(project_id=created.data["id"]).values_list("id", "event_type"))
    assert [kind for _, kind in project_rows] == [AuditEventType.ENTITY_CREATED] * len(project_rows) and project_rows
    assert not LedgerQueue.objects.exists()  # every row of the change was sealed, none left behind
    assert set(LedgerLeaf.objects.values_list("entry_id", flat=True)) == set(AuditEntry.objects.values_list("id", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        moved = api_client.post(f"/api/v1/projects/{created.data['id']}/activate/", {"rationale": "Go"}, format="json")
    assert moved.status_code == 200 and moved.data["project"]["state"] == "active"
    transition = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_SUCCESS, project_id=created.data["id"])
    assert (transition.from_state, transition.to_state, transition.rationale) == ("proposed", "active", "Go")
    assert LedgerLeaf.objects.filter(entry=transition).exists() and not LedgerQueue.objects.exists()


def test_a_refused_transition_row_is_sealed_when_its_transaction_commits(api_client, project, viewer):
    api_client.force_authenticate(viewer)
    refused = api_client.post(f"/api/v1/projects/{project.pk}/activate/", {"rationale": "Mine now"}, format="json")
    assert refused.status_code == 403
    row = AuditEntry.objects.get(success=False, project=project)
    assert row.event_type == AuditEventType.PERMISSION_DENIED and not LedgerLeaf.objects.filter(entry=row).exists()
    # The refusal row is written outside the refused change, in the test's own transaction here: its
    # seal waits for that transaction's commit, which the test plays by running the pending callbacks.
    pending = [func for _, func, _ in connection.run_on_commit if getattr(func, "ledger_alias", None)]
    assert pending
    for func in pending:
        func()
    assert LedgerLeaf.objects.filter(entry=row).exists() and not LedgerQueue.objects.exists()
    assert Project.objects.get(pk=project.pk).state == "proposed"


def test_page_transitions_are_sealed_after_commit(client, owner, project, django_capture_on_commit_callbacks):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/projects/{project.pk}/transitions/activate/", {"rationale": "From the page"})
    assert response.status_code in (200, 302)
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_SUCCESS, project=project)
    assert row.rationale == "From the page" and LedgerLeaf.objects.filter(entry=row).exists()


def test_with_sealing_on_commit_off_rows_wait_for_the_sweep(api_client, owner, settings, django_capture_on_commit_callbacks):
    settings.AUDIT_SEAL_ON_COMMIT = False
    api_client.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert api_client.post("/api/v1/projects/", {"name": "Left to the sweep"}, format="json").status_code == 201
    assert callbacks == [] and LedgerQueue.objects.exists() and not LedgerLeaf.objects.exists()
    seal_pending()
    assert not LedgerQueue.objects.exists() and LedgerLeaf.objects.count() == AuditEntry.objects.count()


# --- The ledger API ----------------------------------------------------------------------------------


def test_key_and_checkpoint_are_public_text_and_verify(api_client, project):
    key = api_client.get("/api/v1/ledger/key/")
    assert key.status_code == 200 and key["Content-Type"] == "text/plain; charset=utf-8"
    parsed = verifier.parse_verifier_key(key.content.decode())
    assert parsed == _key() and str(parsed) == key.content.decode().strip()

    none_yet = api_client.get("/api/v1/ledger/checkpoint/")
    assert none_yet.status_code == 404 and int(none_yet["Retry-After"]) >= 1 and "No checkpoint" in none_yet.content.decode()
    assert not LedgerCheckpoint.objects.exists() and LedgerQueue.objects.exists()  # reading signed and sealed nothing
    _checkpoint()
    note = api_client.get("/api/v1/ledger/checkpoint/")
    assert note.status_code == 200 and note["Content-Type"].startswith("text/plain")
    checkpoint = verifier.verify_checkpoint(note.content.decode(), parsed)
    assert checkpoint.size == AuditEntry.objects.count() == LedgerLeaf.objects.count()
    assert LedgerCheckpoint.objects.get().note == note.content.decode()  # signed and stored once
    record_event(event_type="auth_login", event_name="auth.login")
    seal_pending()
    assert api_client.get("/api/v1/ledger/checkpoint/").content == note.content  # reads never sign a newer one
    assert LedgerCheckpoint.objects.count() == 1


def test_an_inclusion_proof_verifies_and_a_tampered_one_does_not(api_client, owner, project):
    perform_transition(project, "activate", actor=owner, rationale="Go")
    row = AuditEntry.objects.get(event_type=AuditEventType.TRANSITION_SUCCESS)
    api_client.force_authenticate(owner)
    unsealed = api_client.get(f"/api/v1/events/{row.pk}/proof/")
    assert unsealed.status_code == 409 and "not sealed" in unsealed.json()["detail"] and unsealed["Retry-After"] == "5"
    seal_pending()
    uncovered = api_client.get(f"/api/v1/events/{row.pk}/proof/")
    assert uncovered.status_code == 409 and "does not cover yet" in uncovered.json()["detail"] and uncovered["Retry-After"] == "5"
    assert not LedgerCheckpoint.objects.exists()
    _checkpoint()
    response = api_client.get(f"/api/v1/events/{row.pk}/proof/")
    assert response.status_code == 200
    proof = response.json()
    assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "inclusion_path", "canonical", "checkpoint"}
    assert proof["leaf_index"] == LedgerLeaf.objects.get(entry=row).leaf_index
    assert json.loads(verifier.b64decode(proof["canonical"], "canonical"))["id"] == row.pk
    assert verifier.verify_inclusion_document(proof, _key()).size == proof["tree_size"] == AuditEntry.objects.count()
    for tampered in ({"leaf_index": proof["leaf_index"] + 1}, {"canonical": verifier.b64encode(b'{"id":1}')},
                     {"inclusion_path": proof["inclusion_path"][::-1]} if len(proof["inclusion_path"]) > 1 else {"tree_size": 1}):
        with pytest.raises(verifier.VerificationError):
            verifier.verify_inclusion_document({**proof, **tampered}, _key())


def test_a_proof_in_an_older_signed_tree_serves_that_stored_checkpoint(api_client, owner, project):
    older = _checkpoint().tree_size
    for n in range(5):
        record_event(event_type="auth_login", event_name="auth.login", actor=owner, extra={"n": n})
    newer = _checkpoint().tree_size
    first = AuditEntry.objects.order_by("id").filter(project=project).first()
    api_client.force_authenticate(owner)
    proof = api_client.get(f"/api/v1/events/{first.pk}/proof/?tree_size={older}").json()
    assert proof["tree_size"] == older and proof["checkpoint"] == LedgerCheckpoint.objects.get(tree_size=older).note
    assert verifier.verify_inclusion_document(proof, _key()).size == older
    assert api_client.get(f"/api/v1/events/{first.pk}/proof/").json()["tree_size"] == newer
    unsigned = api_client.get(f"/api/v1/events/{first.pk}/proof/?tree_size={older + 2}")
    assert unsigned.status_code == 409 and "no checkpoint of tree size" in unsigned.json()["detail"]
    assert LedgerCheckpoint.objects.count() == 2  # nothing was signed for the reads


def test_proofs_follow_the_events_visibility_and_refuse_what_cannot_be_proven(api_client, owner, outsider, project):
    row = AuditEntry.objects.filter(project=project).first()
    assert api_client.get(f"/api/v1/events/{row.pk}/proof/").status_code == 401
    api_client.force_authenticate(outsider)
    assert api_client.get(f"/api/v1/events/{row.pk}/proof/").status_code == 404  # as events/{id}/
    assert api_client.get(f"/api/v1/events/{row.pk}/").status_code == 404
    api_client.force_authenticate(owner)
    assert api_client.get("/api/v1/events/not-a-number/proof/").status_code == 404
    assert api_client.get("/api/v1/events/99999999/proof/").status_code == 404
    size = _checkpoint().tree_size
    index = LedgerLeaf.objects.get(entry=row).leaf_index
    beyond = api_client.get(f"/api/v1/events/{row.pk}/proof/?tree_size={size + 1}")
    assert beyond.status_code == 409 and "beyond the newest signed checkpoint" in beyond.json()["detail"] and beyond["Retry-After"]
    before = api_client.get(f"/api/v1/events/{row.pk}/proof/?tree_size={index}") if index else None
    assert before is None or (before.status_code == 409 and "does not hold it yet" in before.json()["detail"])
    for bad in ("abc", "0", "-3", "1e3"):
        response = api_client.get(f"/api/v1/events/{row.pk}/proof/?tree_size={bad}")
        assert response.status_code == 400 and "tree_size" in response.json()["errors"], bad


def test_a_consistency_proof_between_checkpoints_verifies(api_client, owner):
    for n in range(3):
        record_event(event_type="auth_login", event_name="auth.login", actor=owner, extra={"n": n})
    _checkpoint()
    old_note = api_client.get("/api/v1/ledger/checkpoint/").content.decode()
    for n in range(7):
        record_event(event_type="auth_logout", event_name="auth.logout", actor=owner, extra={"n": n})
    _checkpoint()
    new_note = api_client.get("/api/v1/ledger/checkpoint/").content.decode()
    old, new = verifier.verify_checkpoint(old_note, _key()), verifier.verify_checkpoint(new_note, _key())
    response = api_client.get(f"/api/v1/ledger/consistency/?first={old.size}&second={new.size}")
    assert response.status_code == 200 and response.json()["first"] == old.size
    verifier.verify_consistency_document(response.json(), old, new)
    with pytest.raises(verifier.VerificationError):
        verifier.verify_consistency_document(response.json(), new, old)


def test_consistency_refuses_bad_and_impossible_sizes(api_client, owner):
    record_event(event_type="auth_login", event_name="auth.login", actor=owner)
    seal_pending()
    size = LedgerLeaf.objects.count()
    for query in ("", "?first=1", "?first=a&second=2", "?first=-1&second=1", f"?first={size}&second={size - 1}"):
        assert api_client.get(f"/api/v1/ledger/consistency/{query}").status_code == 400, query
    beyond = api_client.get(f"/api/v1/ledger/consistency/?first=0&second={size + 1}")
    assert beyond.status_code == 409
    assert api_client.get(f"/api/v1/ledger/consistency/?first={size}&second={size}").json()["consistency_path"] == []


def test_status_is_for_operators(api_client, operator, member, project):
    assert api_client.get("/api/v1/ledger/status/").status_code == 401
    api_client.force_authenticate(member)
    assert api_client.get("/api/v1/ledger/status/").status_code == 403
    api_client.force_authenticate(operator)
    body = api_client.get("/api/v1/ledger/status/").json()
    assert body["unsealed_rows"] == AuditEntry.objects.count() > 0 and body["tree_size"] == 0
    assert body["key_source"] == "environment" and body["verifier_key"] == str(_key()) and body["last_checkpoint"] is None
    assert body["diverged"] == "" and body["signer"] is None and body["witnesses"] == [] and body["unqueued_rows"] == 0
    _checkpoint()
    body = api_client.get("/api/v1/ledger/status/").json()
    assert body["unsealed_rows"] == 0 and body["tree_size"] == AuditEntry.objects.count()
    assert body["last_checkpoint"]["tree_size"] == body["tree_size"] == body["signer"]["tree_size"]
    assert body["signer"]["root_hash"] == body["last_checkpoint"]["root_hash"]


@pytest.mark.audit_tamper
def test_the_verify_endpoint_reports_an_intact_ledger_and_a_break(api_client, operator, member, project):
    api_client.force_authenticate(member)
    assert api_client.get("/api/v1/events/verify/").status_code == 403
    api_client.force_authenticate(operator)
    seal_pending()
    body = api_client.get("/api/v1/events/verify/").json()
    assert body["ok"] is True and body["leaves_checked"] == AuditEntry.objects.count() and body["break"] is None
    victim = AuditEntry.objects.order_by("id").first()
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET object_repr = 'rewritten' WHERE id = %s", [victim.pk])
    body = api_client.get("/api/v1/events/verify/").json()
    assert body["ok"] is False and body["break"]["kind"] == "changed_content" and body["break"]["row_id"] == victim.pk


# --- The entry page, the admin, /metrics and /ready ------------------------------------------------


def test_the_entry_page_shows_the_leaf_and_offers_the_proof(client, owner, outsider, project):
    row = AuditEntry.objects.filter(project=project).first()
    client.force_login(owner)
    listing = client.get("/audit/")
    assert f'href="/audit/{row.pk}/"' in listing.content.decode()
    page = client.get(f"/audit/{row.pk}/")
    assert page.status_code == 200 and "Not sealed into the ledger yet" in page.content.decode()
    assert not LedgerLeaf.objects.filter(entry=row).exists()  # opening the page writes nothing
    seal_pending()
    html = client.get(f"/audit/{row.pk}/").content.decode()
    leaf = LedgerLeaf.objects.get(entry=row)
    assert f"Sealed as <strong>leaf {leaf.leaf_index}</strong> of the ledger" in html and "No signed checkpoint covers it yet" in html
    assert f'href="/audit/{row.pk}/proof.json"' not in html
    waiting = client.get(f"/audit/{row.pk}/proof.json")
    assert waiting.status_code == 409 and waiting["Retry-After"] == "5"
    _checkpoint()
    assert f'href="/audit/{row.pk}/proof.json"' in client.get(f"/audit/{row.pk}/").content.decode()
    download = client.get(f"/audit/{row.pk}/proof.json")
    assert download.status_code == 200 and download["Content-Disposition"] == f'attachment; filename="audit-{row.pk}-proof.json"'
    proof = json.loads(download.content)
    assert verifier.verify_inclusion_document(proof, _key()).size == proof["tree_size"]
    page = client.get(f"/audit/{row.pk}/")
    assert f"in the signed checkpoint of tree size <strong>{proof['tree_size']}</strong>" in page.content.decode()
    client.force_login(outsider)
    assert client.get(f"/audit/{row.pk}/").status_code == 404
    assert client.get(f"/audit/{row.pk}/proof.json").status_code == 404


@pytest.mark.audit_tamper
def test_the_admin_ledger_status_verifies_on_request_and_shows_a_break(client, operator, member, project):
    client.force_login(member)
    assert client.get("/admin/audit/auditentry/ledger-status/").status_code in (302, 403)
    client.force_login(operator)
    seal_pending()
    page = client.get("/admin/audit/auditentry/ledger-status/").content.decode()
    assert "Verify every leaf against its row" in page and str(_key()) in page
    page = client.get("/admin/audit/auditentry/ledger-status/?verify=full").content.decode()
    assert f"Intact: {AuditEntry.objects.count()} leaves recomputed" in page
    victim = AuditEntry.objects.order_by("id").first()
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET rationale = 'admin lie' WHERE id = %s", [victim.pk])
    page = client.get("/admin/audit/auditentry/ledger-status/?verify=1").content.decode()  # no checkpoint: every leaf
    assert f"Broken (changed_content) at row #{victim.pk}" in page
    assert 'href="/admin/audit/auditentry/ledger-status/"' in client.get("/admin/audit/auditentry/").content.decode()


def test_metrics_export_the_unsealed_rows_and_the_lag(client, project):
    body = client.get("/metrics").content.decode()
    unsealed = AuditEntry.objects.count()
    assert f"commandcentral_audit_unsealed_rows {float(unsealed)}" in body
    assert "commandcentral_audit_seal_lag_seconds" in body and "commandcentral_audit_ledger_tree_size 0.0" in body
    seal_pending()
    body = client.get("/metrics").content.decode()
    assert "commandcentral_audit_unsealed_rows 0.0" in body and f"commandcentral_audit_ledger_tree_size {float(unsealed)}" in body


def test_ready_reports_a_seal_lag_over_the_bound(client, project, settings):
    settings.AUDIT_SEAL_LAG_BOUND = 30
    assert client.get("/ready").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_ledgerqueue SET enqueued_at = %s", [AuditEntry.objects.first().timestamp.replace(year=2020)])
    response = client.get("/ready")
    assert response.status_code == 503 and response.json()["checks"]["ledger"] == "failed: LedgerLagging"
    seal_pending()
    assert client.get("/ready").status_code == 200


@pytest.mark.audit_tamper
def test_the_verify_endpoint_checks_only_the_leaves_after_the_last_checkpoint_unless_full(api_client, operator, owner, project):
    api_client.force_authenticate(operator)
    signed = _checkpoint().tree_size
    for n in range(3):
        record_event(event_type="auth_login", event_name="auth.login", actor=owner, extra={"n": n})
    seal_pending()
    body = api_client.get("/api/v1/events/verify/").json()
    assert (body["ok"], body["scope"], body["anchor_size"], body["leaves_checked"]) == (True, "since_checkpoint", signed, 3)
    early, late = AuditEntry.objects.order_by("id")[0], AuditEntry.objects.order_by("-id")[0]
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET object_repr = 'before the checkpoint' WHERE id = %s", [early.pk])
    assert api_client.get("/api/v1/events/verify/").json()["ok"] is True  # bounded: the command and ?full see it
    full = api_client.get("/api/v1/events/verify/?full=true").json()
    assert full["scope"] == "full" and full["break"]["kind"] == "changed_content" and full["break"]["row_id"] == early.pk
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET object_repr = 'after the checkpoint' WHERE id = %s", [late.pk])
    body = api_client.get("/api/v1/events/verify/").json()
    assert body["break"]["kind"] == "changed_content" and body["break"]["row_id"] == late.pk
    with as_database_admin() as cursor:  # the stored frontier no longer gives the signed root
        cursor.execute("UPDATE audit_ledgerleaf SET leaf_hash = %s WHERE leaf_index = %s", [b"\x01" * 32, signed - 1])
    body = api_client.get("/api/v1/events/verify/").json()
    assert body["break"]["kind"] == "checkpoint_mismatch" and "stored subtrees no longer give the signed root" in body["break"]["message"]
    assert api_client.get("/api/v1/events/verify/?full=maybe").status_code == 400


def test_a_minimum_interval_lets_one_seal_cover_many_commits_and_defers_one_seal(api_client, owner, settings, monkeypatch,
                                                                                 django_capture_on_commit_callbacks):
    """Within the interval a commit leaves its rows to this process's one deferred seal (a timer), which
    seals them when the interval is up even if no request follows."""
    from audit.ledger import sequencer

    timers = []

    class RecordedTimer:  # the real one is a thread; here the test fires it, in the test's transaction
        def __init__(self, wait, function, args):
            self.wait, self.function, self.args, self.daemon = wait, function, args, False
            timers.append(self)

        def start(self):
            pass

        def cancel(self):
            pass

    monkeypatch.setattr(sequencer.threading, "Timer", RecordedTimer)
    monkeypatch.setattr(sequencer, "_last_after_commit_seal", {})
    monkeypatch.setattr(sequencer, "_deferred", {})
    monkeypatch.setattr(sequencer.atexit, "register", lambda func: None)  # nothing of the test's outlives it
    settings.AUDIT_SEAL_MIN_INTERVAL = 60
    api_client.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post("/api/v1/projects/", {"name": "Sealed at once"}, format="json")
    assert first.status_code == 201 and not LedgerQueue.objects.exists() and timers == []  # the first commit seals
    for name in ("Left to the deferred seal", "And this one too"):
        with django_capture_on_commit_callbacks(execute=True):
            assert api_client.post("/api/v1/projects/", {"name": name}, format="json").status_code == 201
    # One deferred seal per process, set for the interval and the grace after the last seal.
    assert len(timers) == 1 and timers[0].daemon and 59 < timers[0].wait <= 60 + sequencer.DEFER_GRACE
    assert LedgerQueue.objects.count() == AuditEntry.objects.count() - LedgerLeaf.objects.count() > 0
    assert api_client.get("/api/v1/auth/me/").status_code == 200
    assert LedgerQueue.objects.exists()  # the end of a request does not seal: the timer does
    timers[0].function(*timers[0].args)  # the interval is up
    assert not LedgerQueue.objects.exists() and sequencer._deferred == {}
    assert LedgerLeaf.objects.count() == AuditEntry.objects.count()


def test_under_steady_traffic_the_due_commit_seals_and_the_timer_only_sets_itself_again(
        api_client, owner, settings, monkeypatch, django_capture_on_commit_callbacks):
    """A commit after the interval seals on its own thread; the timer set before it must not seal as
    well (on SQLite that request would wait for the write lock in the busy handler's sleeps)."""
    from audit.ledger import sequencer

    timers, seals = [], []

    class RecordedTimer:
        def __init__(self, wait, function, args):
            self.wait, self.function, self.args, self.daemon = wait, function, args, False
            timers.append(self)

        def start(self):
            pass

    real_seal = sequencer.seal_pending

    def counted_seal(*args, **kwargs):
        seals.append(threading.current_thread())
        return real_seal(*args, **kwargs)

    monkeypatch.setattr(sequencer.threading, "Timer", RecordedTimer)
    monkeypatch.setattr(sequencer, "seal_pending", counted_seal)
    monkeypatch.setattr(sequencer, "_last_after_commit_seal", {})
    monkeypatch.setattr(sequencer, "_deferred", {})
    monkeypatch.setattr(sequencer.atexit, "register", lambda func: None)
    settings.AUDIT_SEAL_MIN_INTERVAL = 60
    api_client.force_authenticate(owner)

    def create(name):
        with django_capture_on_commit_callbacks(execute=True):
            assert api_client.post("/api/v1/projects/", {"name": name}, format="json").status_code == 201

    create("First: sealed at once")
    create("Second: left to the timer")
    assert len(seals) == 1 and len(timers) == 1 and LedgerQueue.objects.count() > 0
    sequencer._last_after_commit_seal["default"] -= 61  # the interval is up, and a commit comes first
    create("Third: due, seals the second's rows and its own")
    assert len(seals) == 2 and not LedgerQueue.objects.exists()
    timers[0].function(*timers[0].args)  # the timer set before that seal
    assert len(seals) == 2 and len(timers) == 2  # it did not seal: it set itself for after that seal
    assert 59 < timers[1].wait <= 60 + sequencer.DEFER_GRACE and sequencer._deferred == {"default": timers[1]}
    create("Fourth: not due, left to that timer")
    assert len(timers) == 2 and LedgerQueue.objects.exists()
    timers[1].function(*timers[1].args)  # nothing sealed since it was set: it seals
    assert len(seals) == 3 and not LedgerQueue.objects.exists() and sequencer._deferred == {}
    assert LedgerLeaf.objects.count() == AuditEntry.objects.count()


@pytest.mark.audit_tamper
def test_a_consistency_proof_across_a_thousand_rows_verifies_and_fails_after_a_row_is_edited(api_client, owner):
    """Two checkpoints 1,000 rows apart; after an edit (and the tree rebuilt from the edited
    rows, as someone hiding it would) the new head no longer extends the old checkpoint."""
    from django.core.management import CommandError, call_command

    from audit.tests.test_ledger import _rebuild_tree_from_rows

    record_event(event_type="auth_login", event_name="auth.login", actor=owner)
    _checkpoint()
    old = verifier.verify_checkpoint(api_client.get("/api/v1/ledger/checkpoint/").content.decode(), _key())
    for n in range(1000):
        record_event(event_type="auth_login", event_name="auth.login", actor=owner, extra={"n": n})
    _checkpoint()
    new = verifier.verify_checkpoint(api_client.get("/api/v1/ledger/checkpoint/").content.decode(), _key())
    assert new.size - old.size == 1000
    proof = api_client.get(f"/api/v1/ledger/consistency/?first={old.size}&second={new.size}").json()
    verifier.verify_consistency_document(proof, old, new)

    victim = AuditEntry.objects.order_by("id").first()  # inside the old checkpoint
    with as_database_admin() as cursor:
        cursor.execute("UPDATE audit_auditentry SET object_repr = 'edited' WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match="changed_content"):
        call_command("verify_audit", stdout=__import__("io").StringIO())
    _rebuild_tree_from_rows()  # also drops the stored checkpoints, as a thorough rewrite would
    with pytest.raises(LedgerDiverged, match="was signed for that size"):
        make_checkpoint()  # the signer's record (outside the database) still knows what it signed
    assert api_client.get("/api/v1/ledger/checkpoint/").status_code == 404  # nothing new was signed
    from audit.ledger.sequencer import root_at

    assert root_at(new.size) != new.root_hash  # the rebuilt tree is another tree of the signed size
    with pytest.raises(CommandError, match=r"\(diverged\).*ledger diverged"):
        call_command("verify_audit", stdout=__import__("io").StringIO())


def test_the_verifier_reports_a_saved_error_body_as_the_servers_answer(api_client, owner, outsider, project, tmp_path):
    """The docs' recipe saves what the server answers; a 404 (a row you cannot see) or a 409 (not yet
    covered) body is then reported with the server's words, not as a KeyError of a malformed proof."""
    import subprocess
    import sys

    row = AuditEntry.objects.filter(project=project).first()
    api_client.force_authenticate(outsider)
    answer = api_client.get(f"/api/v1/events/{row.pk}/proof/")
    assert answer.status_code == 404
    (tmp_path / "proof.json").write_bytes(answer.content)
    (tmp_path / "key.txt").write_text(api_client.get("/api/v1/ledger/key/").content.decode())
    verifier_file = verifier.__file__
    run = subprocess.run([sys.executable, verifier_file, "key.txt", "inclusion", "proof.json"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == f"FAILED: the server answered an error, not a proof: {answer.json()['detail']}"
    assert "KeyError" not in run.stderr
