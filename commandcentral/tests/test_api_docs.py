"""API docs a user can read — a summary on every operation, no internal notes, an
authentication section, JSON objects typed as objects; a root that lists where to go; a login link."""

import json

import pytest

from commandcentral.api.docs import SUMMARIES


@pytest.fixture
def schema(client):
    return client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method, path, operation


def test_every_operation_has_a_summary_and_no_internal_notes(schema):
    missing = [f"{m.upper()} {p}" for m, p, op in operations(schema) if not op.get("summary")]
    assert missing == []
    internal = [f"{m.upper()} {p}" for m, p, op in operations(schema)
                if any(word in op.get("description", "") for word in ("values_lookups", "FastOutputMixin", ".values()"))]
    assert internal == []
    known = {(m, p) for m, p, _ in operations(schema)}
    assert set(SUMMARIES) <= known, f"summaries for operations that no longer exist: {set(SUMMARIES) - known}"


def test_the_docs_explain_authentication_and_type_json_objects(schema):
    description = schema["info"]["description"]
    assert "## Authentication" in description and "Authorization: Bearer" in description and "Api-Key" in description
    project = schema["components"]["schemas"]["Project"]["properties"]
    assert project["settings"]["type"] == "object" and project["metadata"]["type"] == "object"


def test_the_root_lists_auth_docs_ledger_and_states_to_anyone(client):
    root = client.get("/api/v1/", HTTP_ACCEPT="application/json")
    assert root.status_code == 200
    links = root.json()
    for name in ("projects", "decisions", "events", "entity-states", "state-machines", "auth-login", "docs",
                 "ledger-checkpoint", "schema"):
        assert name in links, name
    assert links["auth-login"].endswith("/api/v1/auth/login/")


def test_the_browsable_api_offers_a_throttled_login(client, settings):
    page = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert "href='/api/auth/login/?next=/api/v1/'>Log in</a>" in page
    login = client.get("/api/auth/login/")
    assert login.status_code == 200 and "Content-Security-Policy" in login
    assert login.templates[0].name == "registration/login.html"


def test_the_schema_builds_without_a_warning_and_pages_by_hand_are_documented_as_pages():
    """Every choice set has a stable name (several fields are called state or role), and a list an
    APIView pages itself is described as the page it answers, not as a bare array."""
    import io

    from django.core.management import call_command

    err = io.StringIO()
    out = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", "--validate", stdout=out, stderr=err)
    assert "Warning" not in err.getvalue(), err.getvalue()
    schema = json.loads(out.getvalue())
    comments = schema["paths"]["/api/v1/decisions/{decision_id}/comments/"]["get"]["responses"]["200"]
    assert comments["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/CommentPage"
    assert set(schema["components"]["schemas"]["CommentPage"]["properties"]) == {"count", "next", "previous", "results"}
    assert {"ProjectStateEnum", "DecisionStateEnum", "TeamRoleEnum"} <= set(schema["components"]["schemas"])
