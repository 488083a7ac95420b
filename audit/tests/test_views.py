"""The audit page: visibility, filters, cursor pagination and the CSV export of the filtered rows."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry, AuditEventType
from core.recording import record_event
from audit.views import PAGE_SIZE
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def ids_on_page(response) -> list[int]:
    return [entry.id for entry in response.context["rows"]]


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def other_project_row(outsider):
    other = ProjectFactory(owner=outsider)
    return record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="project.updated", actor=outsider,
                        obj=other)


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_team_sees_their_project_rows_only(client, roles, project, other_project_row, role):
    client.force_login(roles[role])
    response = client.get(reverse("audit_list"))
    shown = AuditEntry.objects.filter(pk__in=ids_on_page(response))
    assert shown.exists()
    assert set(shown.values_list("project_id", flat=True)) == {project.pk}
    assert other_project_row.pk not in ids_on_page(response)


def test_operator_sees_every_row(client, operator, project, other_project_row):
    client.force_login(operator)
    response = client.get(reverse("audit_list"))
    assert set(ids_on_page(response)) == set(AuditEntry.objects.values_list("pk", flat=True))


def test_outsider_sees_only_their_own_project(client, outsider, project, other_project_row):
    client.force_login(outsider)
    assert AuditEntry.objects.filter(project=project, pk__in=ids_on_page(client.get(reverse("audit_list")))).count() == 0


def test_anonymous_is_sent_to_login(client):
    assert client.get(reverse("audit_list"))["Location"].startswith("/login?next=")
    assert client.get(reverse("audit_export"))["Location"].startswith("/login?next=")


def test_filters_by_project_event_type_actor_and_success(client, operator, owner, member, project,
                                                         other_project_row):
    ok = record_event(event_type=AuditEventType.TRANSITION_SUCCESS, event_name="project.activate", actor=owner,
                      obj=project)
    denied = record_event(event_type=AuditEventType.PERMISSION_DENIED, event_name="project.pause", actor=member,
                          obj=project, success=False)
    client.force_login(operator)
    url = reverse("audit_list")
    assert ids_on_page(client.get(url, {"event_type": "transition_success"})) == [ok.pk]
    assert ids_on_page(client.get(url, {"success": "false"})) == [denied.pk]
    assert ids_on_page(client.get(url, {"actor": str(member.pk)})) == [denied.pk]
    assert other_project_row.pk not in ids_on_page(client.get(url, {"project": str(project.pk)}))
    body = client.get(url, {"success": "false", "actor": str(member.pk)}).content.decode()
    assert '<option value="false" selected>' in body and f'<option value="{member.pk}" selected>' in body


def test_date_range_is_inclusive_of_the_last_day(client, operator, project):
    entry = record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="project.updated", obj=project)
    today = timezone.localdate()
    client.force_login(operator)
    url = reverse("audit_list")
    assert entry.pk in ids_on_page(client.get(url, {"since": today.isoformat(), "until": today.isoformat()}))
    assert entry.pk not in ids_on_page(client.get(url, {"until": (today - timedelta(days=1)).isoformat()}))
    assert entry.pk not in ids_on_page(client.get(url, {"since": (today + timedelta(days=1)).isoformat()}))


def test_invalid_filters_are_reported_not_a_500(client, operator):
    client.force_login(operator)
    response = client.get(reverse("audit_list"), {"project": "nope", "until": "2026-02-31", "before": "x"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid date/time." in body  # project: an id or a slug; "nope" is a slug nobody has


def test_cursor_pagination_walks_older_and_newer(client, operator, project):
    created = [
        record_event(event_type=AuditEventType.ENTITY_UPDATED, event_name="project.updated", obj=project).pk
        for _ in range(PAGE_SIZE + 5)
    ]
    newest_first = sorted(AuditEntry.objects.filter(project=project).values_list("pk", flat=True), reverse=True)
    client.force_login(operator)
    url = reverse("audit_list")
    first = client.get(url, {"project": str(project.pk)})
    assert ids_on_page(first) == newest_first[:PAGE_SIZE]
    assert first.context["newer"] is None
    older = first.context["older"]
    assert older == newest_first[PAGE_SIZE - 1]
    assert f"project={project.pk}&amp;before={older}" in first.content.decode()

    second = client.get(url, {"project": str(project.pk), "before": older})
    assert ids_on_page(second) == newest_first[PAGE_SIZE:]
    assert second.context["older"] is None and second.context["newer"] == newest_first[PAGE_SIZE]

    back = client.get(url, {"project": str(project.pk), "after": second.context["newer"]})
    assert ids_on_page(back) == newest_first[:PAGE_SIZE]
    assert back.context["newer"] is None and back.context["older"] == older
    assert created[-1] == newest_first[0]


def test_empty_result_has_no_cursors(client, operator):
    client.force_login(operator)
    response = client.get(reverse("audit_list"), {"event_type": "auth_failed"})
    assert (response.context["rows"], response.context["newer"], response.context["older"]) == ([], None, None)
    assert "No audit rows match these filters." in response.content.decode()


def test_csv_export_has_every_filtered_row_and_nothing_hidden(client, member, owner, project, other_project_row):
    for _ in range(PAGE_SIZE + 3):
        record_event(event_type=AuditEventType.TRANSITION_DENIED, event_name="project.pause", actor=owner,
                     obj=project, success=False, failure_reason="Cannot pause a project that is proposed.")
    client.force_login(member)
    response = client.get(reverse("audit_export"), {"success": "false"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    exported = csv_rows(response)
    assert len(exported) == PAGE_SIZE + 3
    assert {row["event_name"] for row in exported} == {"project.pause"}
    assert {row["project_id"] for row in exported} == {str(project.pk)}
    assert exported[0]["actor_email"] == owner.email and exported[0]["success"] == "false"
    assert int(exported[0]["id"]) < int(exported[-1]["id"])  # oldest first, as every export


def test_the_pages_csv_is_the_same_file_as_the_commands(client, operator, project):
    """One export format: the page, `export_audit` and the API give the same header and the same cells."""
    from django.core.management import call_command

    from audit.export import EXPORT_COLUMNS

    record_event(event_type=AuditEventType.TRANSITION_SUCCESS, event_name="project.activate", obj=project, rationale="go")
    client.force_login(operator)
    page = b"".join(client.get(reverse("audit_export"), {"project": str(project.pk)}).streaming_content).decode()
    out, err = io.StringIO(), io.StringIO()
    call_command("export_audit", "--project", str(project.pk), stdout=out, stderr=err)
    assert page == out.getvalue()
    assert page.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    api = b"".join(client.get("/api/v1/events/export/", {"project": str(project.pk)}).streaming_content).decode()
    assert api == page
    rows = AuditEntry.objects.filter(project=project).count()
    assert f"Exported {rows} audit row{'s' if rows != 1 else ''} as csv" in err.getvalue()


def test_csv_export_defuses_spreadsheet_formulas(client, operator, project):
    record_event(event_type=AuditEventType.TRANSITION_SUCCESS, event_name="project.activate", obj=project,
                 rationale='=HYPERLINK("http://evil.example")')
    client.force_login(operator)
    exported = csv_rows(client.get(reverse("audit_export"), {"event_type": "transition_success"}))
    assert exported[0]["rationale"] == "'=HYPERLINK(\"http://evil.example\")"


def test_export_link_carries_the_filters(client, operator, project):
    client.force_login(operator)
    body = client.get(reverse("audit_list"), {"project": str(project.pk), "before": "99"}).content.decode()
    assert f'href="/audit/export.csv?project={project.pk}"' in body


def test_the_entry_page_shows_changes_field_by_field(client, owner):
    """A created project's row: each of its own fields with before and after, no reverse relations, and
    the recorded JSON one click away."""
    from projects.services import project_create

    project = project_create(actor=owner, name="Readable", description="")
    row = AuditEntry.objects.get(event_name="project.created", project=project)
    client.force_login(owner)
    page = client.get(reverse("audit_entry", args=[row.pk])).content.decode()
    assert '<th scope="row">Name</th><td>—</td><td>Readable</td>' in page
    assert '<th scope="row">Description</th><td>—</td><td>—</td>' in page
    assert '<th scope="row">Settings</th><td>—</td><td>{}</td>' in page
    assert "Entity states" not in page and "states.EntityState.None" not in page
    assert "<summary>As recorded (JSON)</summary>" in page


def test_many_to_many_changes_read_as_added_or_removed():
    from audit.views import readable_changes

    rows = readable_changes({"reviewers": {"type": "m2m", "operation": "add", "objects": ["Mia", "Olive"]},
                             "tags": [["a"], ["a", "b"]], "state": ["draft", "active"]})
    assert rows == [("Reviewers", "", "added: Mia, Olive"), ("Tags", '["a"]', '["a", "b"]'), ("State", "draft", "active")]
