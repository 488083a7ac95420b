"""What search does on PostgreSQL only: ranking, stems and prefixes, web-search syntax, the stored
documents (search/migrations/0002) following every write, and queries their GIN indexes and the
leaf-hash index of search/migrations/0001 answer (EXPLAIN)."""

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from audit.ledger.sequencer import seal_pending
from audit.models import AuditEntry, LedgerLeaf
from decisions.models import Decision
from decisions.tests.factories import DecisionFactory
from projects.models import Project
from projects.tests.factories import ProjectFactory
from search import engine
from search.documents import decision_document, project_document

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): full-text search and its indexes"),
]

API = "/api/v1/search/"


def titles(client, q, kind=None):
    response = client.get(API, {"q": q})
    assert response.status_code == 200, response.content
    return [r["title"] for r in response.json()["results"] if kind is None or r["type"] == kind]


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def test_ranking_puts_the_better_match_first(signed_in, project):
    # The weaker matches are newer: without ranking they would come first.
    DecisionFactory(project=project, title="Heron", context="Where the heron nests.")
    DecisionFactory(project=project, title="Wetlands", question="And the heron?", context="Birds.")
    DecisionFactory(project=project, title="Bird list", rationale="One heron was seen.")
    assert titles(signed_in, "heron", "decision") == ["Heron", "Wetlands", "Bird list"]

    ProjectFactory(owner=project.owner, name="Egret survey", description="Counts.")
    ProjectFactory(owner=project.owner, name="Counting", description="The egret survey of the year.")
    assert titles(signed_in, "egret", "project") == ["Egret survey", "Counting"]


def test_stems_prefixes_and_web_search_syntax(signed_in, project):
    DecisionFactory(project=project, title="Migrations", context="We are migrating the ledger database.")
    DecisionFactory(project=project, title="Backups", context="The database backup schedule.")

    assert titles(signed_in, "migration") == ["Migrations"]  # stemmed: migration ~ migrations ~ migrating
    assert titles(signed_in, "migrat") == ["Migrations"]  # the word being typed, as a prefix
    assert titles(signed_in, "ledger databa") == ["Migrations"]  # earlier words whole, the last a prefix
    assert sorted(titles(signed_in, "database")) == ["Backups", "Migrations"]
    assert titles(signed_in, "database -ledger") == ["Backups"]
    assert titles(signed_in, '"backup schedule"') == ["Backups"]
    assert titles(signed_in, '"schedule backup"') == []
    assert sorted(titles(signed_in, "ledger or backup")) == ["Backups", "Migrations"]


def test_the_queries_use_the_indexes(project, owner):
    """With sequential and plain index scans priced out (a tiny test table would be read whole
    otherwise), the planner can answer the text condition only with a bitmap scan of the GIN index
    over the stored document column. Without the visibility filter, whose own indexes would be as
    good a choice here. (Searches themselves change no planner setting.)"""
    DecisionFactory(project=project, title="Planner check")
    AuditEntry.objects.exists() or pytest.fail("the factories wrote no audit row")
    seal_pending()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
    for rows, document, values, index in [
        (Decision.objects.all(), decision_document(), engine.DECISION_VALUES, "search_decision_vector_idx"),
        (Project.objects.all(), project_document(), engine.PROJECT_VALUES, "search_project_vector_idx"),
    ]:
        for q in ["planner", "plan check", "planne"]:
            plan = engine._ranked(rows, document, q, 20, values).explain()
            assert index in plan, (q, plan)
    low, high = bytes(16) + bytes.fromhex("00" * 16), bytes.fromhex("ff" * 32)
    plan = LedgerLeaf.objects.filter(leaf_hash__gte=low, leaf_hash__lte=high).values("entry_id").explain()
    assert "search_ledger_leaf_hash_idx" in plan, plan


def test_a_hash_prefix_shared_by_no_other_leaf_finds_one_row(signed_in, project, owner):
    from projects.services import project_update

    for n in range(20):
        project_update(project=project, actor=owner, description=f"change {n}")
    seal_pending()
    leaves = list(LedgerLeaf.objects.filter(entry__project=project).values_list("entry_id", "leaf_hash"))
    assert len(leaves) >= 20
    for entry_id, leaf_hash in leaves[:5]:
        response = signed_in.get(API, {"q": bytes(leaf_hash).hex()[:16], "type": "event"})
        assert [r["id"] for r in response.json()["results"]] == [str(entry_id)]


def test_an_outsiders_prefix_search_reveals_nothing(client, project):
    DecisionFactory(project=project, title="Secret salamander scheme")
    client.force_login(UserFactory(email="prefix.outsider@example.com"))
    for q in ["salam", "salamander", "secret salam", "scheme"]:
        assert titles(client, q) == [], q


def test_the_stored_documents_follow_every_write(signed_in, project, owner):
    """The stored document is kept by a trigger: an edit through the services is searchable at once,
    the words it removed are not; the JSON options and tags count, their keys do not."""
    from decisions.services import decision_update
    from projects.services import project_update

    decision = DecisionFactory(project=project, title="Walrus plan", context="Tusks first.",
                               options=[{"id": "a", "label": "Narwhal"}], tags=["arctic"])
    assert titles(signed_in, "walrus", "decision") == ["Walrus plan"]
    assert titles(signed_in, "narwhal", "decision") == titles(signed_in, "arctic", "decision") == ["Walrus plan"]
    assert titles(signed_in, "label", "decision") == []
    decision_update(decision=decision, actor=owner, title="Seal plan", context="Flippers first.")
    assert titles(signed_in, "walrus") == [] and titles(signed_in, "tusks") == []
    assert titles(signed_in, "flippers", "decision") == ["Seal plan"]
    project_update(project=project, actor=owner, description="Home of the puffin")
    assert titles(signed_in, "puffin", "project") == [project.name]
    with connection.cursor() as cursor:  # the queries leave the planner as they found it
        cursor.execute("SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')")
        assert cursor.fetchone() == ("on", "on")


def test_a_searched_column_can_still_change_type(project, owner):
    """Why a trigger and not a generated column: PostgreSQL refuses to change the type of a column a
    generated column reads; a later migration of the decisions app (a longer title) must still run.
    The document written after the change is still found. (Inside the test's transaction: undone.)"""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixtures' foreign keys checked now, not at the end
        cursor.execute("ALTER TABLE decisions_decision ALTER COLUMN title TYPE varchar(300)")
        cursor.execute("ALTER TABLE projects_project ALTER COLUMN name TYPE varchar(300)")
    decision = DecisionFactory(project=project, title="Albatross " + "x" * 250)
    rows = Decision.objects.all()
    assert [d["pk"] for d in engine._ranked(rows, decision_document(), "albatross", 20, engine.DECISION_VALUES)] == [decision.pk]
