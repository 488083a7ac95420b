"""A new project goes in with its INSERT built once (core/plain_insert.py); `PROJECT_FAST_INSERT = False`
takes `save()`. Both must leave the same row, the same audit row and the same state machine, on whichever
database the suite runs (SQLite, and PostgreSQL in its pass)."""

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AuditEntry
from audit.tests.verify import assert_trail_verifies
from core.transitions import perform_transition
from projects.models import Project
from projects.services import project_create

pytestmark = pytest.mark.django_db

# What differs between two creates by design: the key, the name and slug asked for, the clock.
OWN = {"id", "name", "slug", "created_at", "updated_at"}


def _stored(project_id) -> dict:
    """The row as the database holds it, by column."""
    columns = [field.column for field in Project._meta.concrete_fields]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(Project._meta.db_table)} "
                       f"WHERE {quote('id')} = %s", [Project._meta.pk.get_db_prep_value(project_id, connection)])
        return dict(zip(columns, cursor.fetchone()))


def _create(api_client, settings, fast: bool, name: str):
    settings.PROJECT_FAST_INSERT = fast
    body = {"name": name, "description": "Ünïcode\nlines", "settings": {"flags": {"x": True}, "n": [1, None]},
            "metadata": {"team": "core"}, "repo_path": "src/apollo", "repo_url": "https://example.com/apollo.git"}
    response = api_client.post(reverse("api:project-list"), body, format="json")
    assert response.status_code == 201, response.content
    return response


def test_an_api_create_stores_the_row_and_audit_row_save_stores(api_client, settings, member):
    api_client.force_authenticate(member)
    responses = {fast: _create(api_client, settings, fast, f"Apollo {fast}") for fast in (True, False)}
    ids = {fast: response.json()["id"] for fast, response in responses.items()}
    rows = {fast: _stored(ids[fast]) for fast in ids}
    assert {k: v for k, v in rows[True].items() if k not in OWN} == {k: v for k, v in rows[False].items() if k not in OWN}
    assert rows[True]["slug"] == "apollo-true" and rows[False]["slug"] == "apollo-false"
    assert rows[True]["created_at"] is not None and rows[True]["updated_at"] is not None
    # The responses differ only where the rows do.
    bodies = {fast: {k: v for k, v in response.json().items() if k not in OWN} for fast, response in responses.items()}
    assert bodies[True] == bodies[False] and bodies[True]["state"] == "proposed"

    # django-auditlog's create row (from post_save) and the application's fields on it, the same both ways.
    audit = {fast: AuditEntry.objects.get(entity_id=ids[fast], event_name="project.created") for fast in ids}
    for fast, entry in audit.items():
        assert entry.actor == member and entry.project_id is not None and str(entry.project_id) == ids[fast]
    same = ("action", "event_type", "actor_id", "actor_email", "actor_type", "success", "entity_type", "content_type_id")
    assert {f: getattr(audit[True], f) for f in same} == {f: getattr(audit[False], f) for f in same}
    changes = {fast: {k: v for k, v in entry.changes.items() if k not in OWN} for fast, entry in audit.items()}
    assert changes[True] == changes[False] and set(audit[True].changes) == set(audit[False].changes)
    assert changes[True]["settings"] == [None, {"flags": {"x": True}, "n": [1, None]}]
    assert AuditEntry.objects.filter(entity_id__in=ids.values()).count() == 2
    assert_trail_verifies()


def test_a_taken_slug_moves_on_either_way(api_client, settings, member):
    api_client.force_authenticate(member)
    for fast in (True, False):
        first, second = (_create(api_client, settings, fast, f"Gemini {fast}").json() for _ in range(2))
        assert (first["slug"], second["slug"]) == (f"gemini-{str(fast).lower()}", f"gemini-{str(fast).lower()}-2")
        for project in (first, second):  # one row and one audit row each, nothing from the refused INSERT
            assert AuditEntry.objects.filter(entity_id=project["id"]).count() == 1
    assert Project.objects.filter(name__startswith="Gemini").count() == 4
    assert_trail_verifies()


@pytest.mark.parametrize("fast", [True, False])
def test_the_created_object_transitions_at_once(settings, member, fast):
    """The instance project_create returns carries django-fsm-2's remembered state: its first transition
    is checked against `proposed` and succeeds, a second one on a stale copy is refused."""
    settings.PROJECT_FAST_INSERT = fast
    project = project_create(actor=member, name="Mercury")
    assert not project._state.adding and project._state.db == "default"
    entry = perform_transition(project, "activate", actor=member)
    assert (entry.from_state, entry.to_state) == ("proposed", "active")
    assert Project.objects.get(pk=project.pk).state == "active"
    assert_trail_verifies()
