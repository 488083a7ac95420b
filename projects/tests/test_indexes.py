"""The project table's indexes: the ones every write pays for are the ones something reads."""

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.urls import reverse

from audit.models import AuditEntry
from projects.models import Project

DROPPED = {"projects_project_deleted_at_2809bd26", "projects_project_state_changed_by_id_9a2f695f",
           "projects_project_deleted_by_id_5f6f80e8", "projects_project_state_a329c658_like",
           "projects_project_slug_2d50067a", "projects_project_slug_2d50067a_like",
           "projects_project_created_at_b0d9c9b8"}


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Project._meta.db_table)
    return {name for name, about in constraints.items() if about["index"]}


def test_the_unread_indexes_are_gone_and_the_read_ones_stay(db):
    names = _indexes()
    assert not names & DROPPED
    assert {"project_live_created_idx", "project_slug_unique_live", "projects_project_state_a329c658",
            "projects_project_owner_id_b940de39"} <= names


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's query plan; PostgreSQL's depends on its statistics")
def test_the_live_list_reads_the_live_created_index(project):
    plan = Project.objects.live()[:50].explain()
    assert "project_live_created_idx" in plan, plan


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's query plan; PostgreSQL's depends on its statistics")
def test_a_live_slug_lookup_reads_the_partial_unique_index_and_lists_keep_their_order(api_client, owner, project):
    """Without the plain slug and created_at indexes: a slug is looked up in the live-slug unique index,
    and the lists, newest or oldest first, still walk the live index in order."""
    plan = Project.objects.live().filter(slug=project.slug).explain()
    assert "project_slug_unique_live" in plan, plan
    assert "project_live_created_idx" in Project.objects.live().order_by("created_at")[:50].explain()
    newer = Project.objects.create(name="Newer", slug="newer", owner=owner)
    api_client.force_authenticate(owner)
    response = api_client.get(reverse("api:project-list") + "?limit=50")
    assert response.status_code == 200, response.content
    ids = [row["id"] for row in response.json()["results"]]
    assert ids[:2] == [str(newer.pk), str(project.pk)]
    clash = api_client.post(reverse("api:project-list"), {"name": "Again", "slug": "newer"}, format="json")
    assert clash.status_code == 201 and clash.json()["slug"] == "newer-2"  # the unique index still refuses


def test_a_user_who_changed_or_deleted_a_project_is_still_protected(api_client, owner, project):
    """Through the API: the delete of a proposed project stamps deleted_by, the activate of another
    state_changed_by, each with its audit row; the foreign keys, now without their indexes, still
    refuse to delete the user they name."""
    other = Project.objects.create(name="Other", slug="other", owner=owner)
    api_client.force_authenticate(owner)
    response = api_client.delete(reverse("api:project-detail", args=[other.pk]))
    assert response.status_code == 204, response.content
    other.refresh_from_db()
    assert other.deleted_by == owner and other.deleted_at is not None
    deleted = AuditEntry.objects.get(entity_id=str(other.pk), event_name="project.updated")
    assert deleted.actor == owner and deleted.changes["deleted_by"][1] == str(owner.pk)

    response = api_client.post(reverse("api:project-detail", args=[project.pk]) + "activate/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["project"]["state"] == "active"
    project.refresh_from_db()
    assert project.state_changed_by == owner
    assert AuditEntry.objects.filter(event_name="project.activate", entity_id=str(project.pk), actor=owner).count() == 1

    with pytest.raises(ProtectedError) as refused:
        owner.delete()
    assert {project, other} <= set(refused.value.protected_objects)
    assert Project.objects.filter(state_changed_by=owner).get() == project
    assert Project.objects.filter(deleted_by=owner).get() == other
