"""Global search through the real stack (Django's test client: session, middleware, DRF), on whichever
database the suite runs (SQLite by default; PostgreSQL with DATABASE_URL). What only PostgreSQL does
(ranking, prefixes, the indexes) is in test_search_postgres.py."""

import pytest
from django.urls import reverse

from audit.ledger.sequencer import seal_pending
from audit.models import AuditEntry, LedgerLeaf
from decisions.services import decision_soft_delete
from decisions.tests.factories import DecisionFactory
from projects.models import MembershipRole
from projects.services import project_soft_delete
from projects.tests.factories import MembershipFactory, ProjectFactory
from accounts.tests.factories import UserFactory
from states.tests.factories import EntityStateFactory

API = "/api/v1/search/"


@pytest.fixture
def hidden(db):
    """A project nobody of `roles` is on, with one of each thing search finds, all holding 'quokka'."""
    stranger = UserFactory(email="quokka.stranger@example.com", name="Quentin Quokka", handle="quokka-q")
    project = ProjectFactory(owner=stranger, name="Quokka hideout", slug="quokka-hideout", description="quokka")
    decision = DecisionFactory(project=project, title="Quokka budget", context="The quokka colony needs funds.")
    entity = EntityStateFactory(project=project, service="quokka-svc", entity_type="burrow", entity_id="QK-1")
    return {"owner": stranger, "project": project, "decision": decision, "entity": entity}


def get(client, user, q, **params):
    login(client, user)
    return client.get(API, {"q": q, **params})


def login(client, user):
    """Signs in once per client and user: signing in is audited (a row), searching is not."""
    if client.session.get("_auth_user_id") != str(user.pk):
        client.force_login(user)


def found(response, kind=None) -> list[dict]:
    assert response.status_code == 200, response.content
    return [r for r in response.json()["results"] if kind is None or r["type"] == kind]


def audit_rows() -> int:
    return AuditEntry.objects.count()


def test_finds_a_decision_by_a_word_of_its_context(client, project, member):
    decision = DecisionFactory(project=project, title="Storage", context="We weigh the marmalade migration plan.")
    DecisionFactory(project=project, title="Other", context="Nothing to see.")
    login(client, member)
    before = audit_rows()

    results = found(get(client, member, "marmalade"))

    assert [(r["type"], r["id"], r["title"]) for r in results] == [("decision", str(decision.pk), "Storage")]
    assert results[0]["url"] == reverse("decision_detail", args=[decision.pk])
    assert "marmalade migration" in results[0]["snippet"]
    assert audit_rows() == before  # a search is a read: no audit row


def test_every_kind_has_its_shape_and_page(client, project, owner, member):
    project.name, project.description = "Pelican platform", "Ships the pelican"
    project.save()
    decision = DecisionFactory(project=project, title="Pelican feed", options=[
        {"id": "a", "label": "Herring"}, {"id": "b", "label": "Sardines"}])
    entity = EntityStateFactory(project=project, service="billing", entity_type="invoice", entity_id="INV-77")
    client.force_login(owner)

    by_type = {r["type"]: r for r in found(client.get(API, {"q": "pelican"}))}
    assert by_type["project"] == {"type": "project", "id": str(project.pk), "title": "Pelican platform",
                                  "url": reverse("project_detail", args=[project.pk]), "snippet": "Ships the pelican"}
    assert by_type["decision"]["url"] == reverse("decision_detail", args=[decision.pk])

    [option_match] = found(client.get(API, {"q": "sardines"}))
    assert option_match["id"] == str(decision.pk) and "Sardines" in option_match["snippet"]

    [entity_match] = found(client.get(API, {"q": "inv-77"}), "entity")
    assert entity_match == {"type": "entity", "id": str(entity.pk), "title": "billing/invoice/INV-77",
                            "url": reverse("entity_detail", args=[entity.pk]),
                            "snippet": f"state backlog · {project.name}"}
    [by_key] = found(client.get(API, {"q": "billing/invoice/INV-77"}), "entity")
    assert by_key["id"] == str(entity.pk)

    [person] = found(client.get(API, {"q": member.email}), "person")
    assert person == {"type": "person", "id": str(member.pk), "title": member.name,
                      "url": f"{reverse('audit_list')}?actor={member.pk}", "snippet": f"@{member.handle} · {member.email}"}
    # A page's own page answers for each: every url is a page of this site the caller may open.
    for result in [*by_type.values(), entity_match, person]:
        assert client.get(result["url"]).status_code == 200, result


def test_type_and_limit(client, project, owner):
    for n in range(5):
        DecisionFactory(project=project, title=f"Walrus {n}")
    project.name = "Walrus works"
    project.save()
    client.force_login(owner)

    assert len(found(client.get(API, {"q": "walrus", "limit": 3}))) == 3
    only = found(client.get(API, {"q": "walrus", "type": "project"}))
    assert [r["type"] for r in only] == ["project"]
    assert len(found(client.get(API, {"q": "walrus"}))) == 6


def test_an_outsider_finds_nothing_of_a_hidden_project(client, outsider, hidden):
    login(client, outsider)
    audit_rows_before = audit_rows()
    entry = AuditEntry.objects.filter(project=hidden["project"]).order_by("pk").first()
    seal_pending()
    leaf = LedgerLeaf.objects.get(entry_id=entry.pk)

    for q in ["quokka", "Quokka hideout", "quokka-hideout", "colony", "QK-1", "quokka-svc", "quokka.stranger",
              "@quokka-q", f"#{entry.pk}", str(entry.pk), f"leaf {leaf.leaf_index}", bytes(leaf.leaf_hash).hex(),
              bytes(leaf.leaf_hash).hex()[:8]]:
        assert found(get(client, outsider, q)) == [], q
    assert audit_rows() == audit_rows_before


def test_an_operator_finds_everything(client, operator, hidden):
    entry = AuditEntry.objects.filter(project=hidden["project"]).order_by("pk").first()
    seal_pending()
    leaf = LedgerLeaf.objects.get(entry_id=entry.pk)

    results = found(get(client, operator, "quokka"))
    ids = {(r["type"], r["id"]) for r in results}
    assert {("project", str(hidden["project"].pk)), ("decision", str(hidden["decision"].pk)),
            ("person", str(hidden["owner"].pk))} <= ids
    assert [r["id"] for r in found(get(client, operator, "QK-1"), "entity")] == [str(hidden["entity"].pk)]
    for q in [f"#{entry.pk}", f"leaf:{leaf.leaf_index}", bytes(leaf.leaf_hash).hex()]:
        assert [r["id"] for r in found(get(client, operator, q), "event")] == [str(entry.pk)], q


@pytest.mark.parametrize("role", ["owner", "member", "viewer"])
def test_the_team_finds_its_project(client, roles, role, project):
    project.name = "Narwhal nexus"
    project.save()
    assert [r["id"] for r in found(get(client, roles[role], "narwhal"), "project")] == [str(project.pk)]


def test_people_only_when_sharing_a_project(client, project, owner, member, viewer, outsider):
    colleague = UserFactory(email="ibis.colleague@example.com", name="Ibis Colleague")
    MembershipFactory(project=project, user=colleague, role=MembershipRole.MEMBER)
    elsewhere = UserFactory(email="ibis.elsewhere@example.com", name="Ibis Elsewhere")
    ProjectFactory(owner=elsewhere)  # a project none of them is on

    for user in (owner, member, viewer):
        assert [r["id"] for r in found(get(client, user, "ibis"), "person")] == [str(colleague.pk)]
    # The team's owner is found by the team too, by handle.
    assert [r["id"] for r in found(get(client, member, f"@{owner.handle}"), "person")] == [str(owner.pk)]
    assert found(get(client, outsider, "ibis"), "person") == []
    # Sharing a project later makes them findable; nothing else does.
    MembershipFactory(project=ProjectFactory(owner=elsewhere), user=outsider, role=MembershipRole.VIEWER)
    assert [r["id"] for r in found(get(client, outsider, "ibis"), "person")] == [str(elsewhere.pk)]


def test_audit_rows_by_id_leaf_index_and_leaf_hash(client, project, owner, outsider):
    entry = AuditEntry.objects.filter(project=project).order_by("pk").first() or None
    if entry is None:  # the factory wrote no row: one through a service
        from projects.services import project_update

        project_update(project=project, actor=owner, description="audited")
        entry = AuditEntry.objects.filter(project=project).latest()
    seal_pending()
    leaf = LedgerLeaf.objects.get(entry_id=entry.pk)
    hexed = bytes(leaf.leaf_hash).hex()
    login(client, owner)
    before = audit_rows()

    for q in [f"#{entry.pk}", str(entry.pk), f"leaf {leaf.leaf_index}", f"leaf:{leaf.leaf_index}",
              f"LEAF #{leaf.leaf_index}", hexed, hexed.upper(), hexed[:8], hexed[:13]]:
        results = found(get(client, owner, q), "event")
        assert [r["id"] for r in results] == [str(entry.pk)], q
        assert results[0]["url"] == reverse("audit_entry", args=[entry.pk])
        assert results[0]["title"].startswith(f"#{entry.pk} ")
        assert f"leaf {leaf.leaf_index}" in results[0]["snippet"]
        assert found(get(client, outsider, q), "event") == [], q
        login(client, owner)
    # An identifier ranks above any text that happens to hold the same digits.
    assert found(get(client, owner, str(entry.pk)))[0]["type"] == "event"
    assert found(get(client, owner, "#999999999"), "event") == []
    assert found(get(client, owner, "leaf 999999999"), "event") == []
    assert found(get(client, owner, "1234567"), "event") == []  # 7 hex digits: not a hash prefix
    assert audit_rows() == before + 2 * 9  # the sign-ins of the loop above, nothing else


def test_soft_deleted_things_are_not_found(client, project, owner, operator):
    gone_decision = DecisionFactory(project=project, title="Ocelot plan")
    kept = ProjectFactory(owner=owner, name="Ocelot archive")
    decision_soft_delete(decision=gone_decision, actor=owner)
    assert [r["id"] for r in found(get(client, owner, "ocelot"))] == [str(kept.pk)]

    project_soft_delete(project=kept, actor=owner)
    assert found(get(client, owner, "ocelot")) == []
    # Operators neither: a deleted project and its decisions are the admin's business, not search's.
    still_live = DecisionFactory(project=project, title="Ocelot again")
    assert [r["id"] for r in found(get(client, operator, "ocelot"))] == [str(still_live.pk)]


@pytest.mark.parametrize("params,field", [
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"q": "a\x00b"}, "q"),
    ({"q": "ok", "limit": "0"}, "limit"),
    ({"q": "ok", "limit": "51"}, "limit"),
    ({"q": "ok", "limit": "ten"}, "limit"),
    ({"q": "ok", "type": "comment"}, "type"),
    ({"q": "ok", "page": "2"}, "detail"),
])
def test_bad_inputs_are_400_in_the_house_shape(client, member, params, field):
    login(client, member)
    before = audit_rows()
    response = client.get(API, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["detail"], body
    if field == "detail":
        assert body["detail"] == "Unknown query parameter: page." and "q" in body["accepted"]
    else:
        assert isinstance(body["errors"][field], list) and body["errors"][field]
    assert audit_rows() == before


def test_unauthenticated_is_401(client, db):
    response = client.get(API, {"q": "anything"})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_hostile_text_is_searched_as_text(client, project, owner):
    project.name = "<b>Tapir</b> & 'quotes' \"too\""
    project.save()
    client.force_login(owner)
    for q in ["tapir", "<b>", "'quotes'", "\"too\"", "a & b | !c", "(", ":*", "-", "tapir:*", "\\", "%", "_"]:
        response = client.get(API, {"q": q})
        assert response.status_code == 200, (q, response.content)
    [result] = found(client.get(API, {"q": "tapir"}))
    assert result["title"] == "<b>Tapir</b> & 'quotes' \"too\""  # as written: JSON, the palette writes text


# --- The /search/ page -----------------------------------------------------------------------------


def test_the_search_page_lists_results_without_javascript(client, project, member, hidden):
    decision = DecisionFactory(project=project, title="Lynx review", context="The lynx pipeline <script>.")
    login(client, member)
    before = audit_rows()

    empty = client.get("/search/")
    assert empty.status_code == 200 and b'name="q"' in empty.content and b"search-count" not in empty.content

    page = client.get("/search/", {"q": "lynx"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{decision.get_absolute_url()}"' in html and "Lynx review" in html
    assert "&lt;script&gt;" in html and "<script>." not in html
    assert "1 result" in html

    none = client.get("/search/", {"q": "quokka"}).content.decode()  # the hidden project's word
    assert "0 results" in none and "Quokka" not in none
    assert audit_rows() == before


def test_the_search_page_refuses_bad_input_with_400(client, member):
    client.force_login(member)
    response = client.get("/search/", {"q": "x" * 201})
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert client.get("/search/", {"q": "ok", "type": "nope"}).status_code == 400


def test_the_search_page_needs_a_login(client, db):
    response = client.get("/search/", {"q": "x"})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_palette_is_on_every_page_for_signed_in_people(client, member, project):
    client.force_login(member)
    for path in ["/", "/projects/", project.get_absolute_url(), "/search/"]:
        html = client.get(path).content.decode()
        assert 'data-palette data-endpoint="/api/v1/search/"' in html, path
        assert 'role="combobox"' in html and "js/palette.js" in html
    client.logout()
    assert "data-palette" not in client.get("/login").content.decode()


def test_snippets_are_the_words_of_the_markdown(client, project, member):
    DecisionFactory(project=project, title="Runbook", context=(
        "## Background\n\nThe [wombat runbook](https://example.com/runbook) needs **new limits**;\n"
        "> see `max_connections`\n- first item"))
    [result] = found(get(client, member, "wombat"))
    assert result["snippet"] == "Background The wombat runbook needs new limits; see max_connections first item"
