import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from audit.export import EXPORT_COLUMNS, audit_rows_csv, audit_rows_jsonl
from audit.models import AuditEntry, AuditEventType
from core.recording import record_event
from core.transitions import TransitionForbidden, perform_transition
from projects.tests.factories import ProjectFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
AWKWARD_TEXT = 'Comma, "quotes", a\nnewline, ünïcödé and =SUM(A1)'


@pytest.fixture
def trail(owner, member, project):
    """Rows of two projects at known times, with text that CSV must quote."""
    other = ProjectFactory(owner=owner, slug="other-project")
    perform_transition(project, "activate", actor=owner, rationale=AWKWARD_TEXT)
    with pytest.raises(TransitionForbidden):
        perform_transition(project, "pause", actor=member)
    for day in range(4):
        record_event(
            event_type=AuditEventType.TRANSITION_DENIED, event_name="project.pause", actor=member, obj=project,
            success=False, failure_reason="not now", timestamp=T0 + timedelta(days=day), extra={"day": day, "n": [1, 2]},
        )
        record_event(event_type=AuditEventType.AUTH_FAILED, event_name="auth.failed", success=False,
                     timestamp=T0 + timedelta(days=day), extra={"email": "x@example.com"})
    record_event(event_type=AuditEventType.TRANSITION_SUCCESS, event_name="project.activate", actor=owner,
                 obj=other, timestamp=T0 + timedelta(days=1))
    return {"project": project, "other": other}


def run_export(*args, **options):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("export_audit", *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


def parse_csv(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return reader.fieldnames, list(reader)


def assert_row_matches(row: dict, entry: AuditEntry, *, from_csv: bool) -> None:
    """Compare an exported row with the stored one, column by column, independently of the exporter."""
    empty = "" if from_csv else None
    assert int(row["id"]) == entry.pk
    assert datetime.fromisoformat(row["timestamp"]) == entry.timestamp
    assert row["event_type"] == entry.event_type
    assert row["event_name"] == entry.event_name
    assert row["success"] == (("true" if entry.success else "false") if from_csv else entry.success)
    assert row["actor_id"] == (str(entry.actor_id) if entry.actor_id else empty)
    assert row["project_id"] == (str(entry.project_id) if entry.project_id else empty)
    assert row["entity_type"] == entry.entity_type and row["entity_id"] == entry.entity_id
    assert (row["transition"], row["from_state"], row["to_state"]) == (entry.transition, entry.from_state, entry.to_state)
    assert row["rationale"] == entry.rationale
    assert row["failure_reason"] == entry.failure_reason
    assert row["cid"] == (entry.cid or empty)
    extra = json.loads(row["extra"]) if from_csv else row["extra"]
    assert extra == entry.extra
    changes = (json.loads(row["changes"]) if row["changes"] else None) if from_csv else row["changes"]
    assert changes == entry.changes


def test_csv_export_has_the_header_and_every_row_oldest_first(trail):
    out, _ = run_export("--format", "csv")

    header, rows = parse_csv(out)
    entries = list(AuditEntry.objects.order_by("id"))
    assert header == list(EXPORT_COLUMNS)
    assert [int(row["id"]) for row in rows] == [entry.pk for entry in entries]
    for row, entry in zip(rows, entries):
        assert_row_matches(row, entry, from_csv=True)
    assert any(row["rationale"] == AWKWARD_TEXT for row in rows)


def test_jsonl_export_is_one_object_per_line_matching_the_database(trail):
    out, _ = run_export("--format", "jsonl")

    lines = out.splitlines()
    records = [json.loads(line) for line in lines]
    entries = list(AuditEntry.objects.order_by("id"))
    assert all(isinstance(record, dict) and list(record) == list(EXPORT_COLUMNS) for record in records)
    assert [record["id"] for record in records] == [entry.pk for entry in entries]
    for record, entry in zip(records, entries):
        assert_row_matches(record, entry, from_csv=False)


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_export_with_filters_matches_the_filtered_database_rows(trail, tmp_path, export_format):
    target = tmp_path / f"audit.{export_format}"
    project = trail["project"]

    _, err = run_export(
        "--format", export_format, "--project", str(project.pk), "--since", "2026-03-02", "--until", "2026-03-04T00:00:00Z",
        "--event-type", "transition_denied", "--event-type", "permission_denied", "--output", str(target),
    )

    expected = list(
        AuditEntry.objects.filter(
            project=project, timestamp__gte=T0.replace(hour=0) + timedelta(days=1), timestamp__lt=T0.replace(hour=0) + timedelta(days=3),
            event_type__in=["transition_denied", "permission_denied"],
        ).order_by("id")
    )
    text = target.read_text(encoding="utf-8")
    rows = parse_csv(text)[1] if export_format == "csv" else [json.loads(line) for line in text.splitlines()]
    assert len(expected) == 2
    assert [int(row["id"]) for row in rows] == [entry.pk for entry in expected]
    for row, entry in zip(rows, expected):
        assert_row_matches(row, entry, from_csv=export_format == "csv")
    assert f"Exported 2 audit rows as {export_format} to {target}." in err
    assert not (tmp_path / f"audit.{export_format}.partial").exists()


def test_project_filter_accepts_a_slug(trail):
    out, _ = run_export("--format", "jsonl", "--project", "other-project")

    records = [json.loads(line) for line in out.splitlines()]
    assert {record["project_id"] for record in records} == {str(trail["other"].pk)}
    assert len(records) == AuditEntry.objects.filter(project=trail["other"]).count()


def test_progress_goes_to_stderr_and_stdout_stays_pure_data(trail, monkeypatch):
    monkeypatch.setattr("audit.export.ROWS_PER_CHUNK", 2)

    out, err = run_export("--format", "jsonl", "--progress")

    total = AuditEntry.objects.count()
    assert f"{total}/{total} rows (100%)" in err
    assert all(isinstance(json.loads(line), dict) for line in out.splitlines())
    assert len(out.splitlines()) == total


def test_large_exports_report_progress_without_being_asked(trail, monkeypatch):
    monkeypatch.setattr("audit.management.commands.export_audit.PROGRESS_THRESHOLD", 5)

    _, err = run_export("--format", "csv")

    assert "rows (100%)" in err


def test_invalid_filters_are_refused_with_the_option_named(trail):
    with pytest.raises(CommandError, match="--since"):
        run_export("--since", "last tuesday")
    with pytest.raises(CommandError, match="no project"):
        run_export("--project", "no-such-project")


def test_unwritable_output_is_a_command_error_and_leaves_no_file(trail, tmp_path):
    target = tmp_path / "missing-dir" / "audit.csv"
    with pytest.raises(CommandError, match="Cannot write"):
        run_export("--output", str(target))
    assert not target.exists()


def test_generators_are_lazy_and_yield_text_chunks(trail, django_assert_num_queries):
    with django_assert_num_queries(0):
        chunks = audit_rows_jsonl(AuditEntry.objects.all())
    text = "".join(chunks)
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())


FORMULAS = {"rationale": "=cmd|' /C calc'!A0", "failure_reason": '=HYPERLINK("http://evil.example","x")',
            "actor_email": "=1+1@example.com", "object_repr": "@SUM(A1:A9)"}


@pytest.fixture
def formula_row(db):
    from accounts.tests.factories import UserFactory

    actor = UserFactory(email=FORMULAS["actor_email"])  # a self-registered address can start with '='
    fields = {column: value for column, value in FORMULAS.items() if column != "actor_email"}
    return record_event(event_type=AuditEventType.AUTH_FAILED, event_name="auth.failed", success=False, actor=actor, **fields)


def test_every_csv_export_defuses_formula_cells_by_default_and_jsonl_stays_raw(formula_row, api_client, operator, tmp_path):
    """The API export, `manage.py export_audit` and the generator all escape; JSONL is raw."""
    api_client.force_authenticate(operator)
    response = api_client.get("/api/v1/events/export/?format=csv")
    assert response.status_code == 200
    api_rows = [row for row in parse_csv(b"".join(response.streaming_content).decode())[1] if row["id"] == str(formula_row.pk)]
    command_csv, _ = run_export("--format", "csv")
    command_rows = [row for row in parse_csv(command_csv)[1] if row["id"] == str(formula_row.pk)]
    generator_rows = parse_csv("".join(audit_rows_csv(AuditEntry.objects.filter(pk=formula_row.pk))))[1]
    for rows in (api_rows, command_rows, generator_rows):
        assert len(rows) == 1
        assert {column: rows[0][column] for column in FORMULAS} == {column: "'" + value for column, value in FORMULAS.items()}

    jsonl = b"".join(api_client.get("/api/v1/events/export/?format=jsonl").streaming_content).decode()
    raw = [json.loads(line) for line in jsonl.splitlines() if json.loads(line)["id"] == formula_row.pk]
    assert {column: raw[0][column] for column in FORMULAS} == FORMULAS
    exact = parse_csv("".join(audit_rows_csv(AuditEntry.objects.filter(pk=formula_row.pk), spreadsheet_safe=False)))[1]
    assert exact[0]["rationale"] == FORMULAS["rationale"]  # the explicit opt-out, for byte-for-byte comparisons
