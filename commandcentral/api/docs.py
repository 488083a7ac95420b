"""What the API docs say that the code does not: a summary for every operation a user reads first, and
the authentication section. `SUMMARIES` fills any operation that has no @extend_schema(summary=...)
(drf-spectacular POSTPROCESSING_HOOKS); a test fails when an operation has neither."""

DESCRIPTION = """Governance service: projects with a lifecycle, a governed decision log, entity states of other
services, and an append-only, verifiable audit trail of every change and every refused attempt.

## Authentication

**People** get a token pair and send the access token as `Authorization: Bearer <access_token>`:

```sh
curl -s -X POST http://127.0.0.1:8000/api/v1/auth/login/ -H 'Content-Type: application/json' \\
     -d '{"email": "owner@example.com", "password": "…"}'      # → {access_token, refresh_token, …}
curl -s http://127.0.0.1:8000/api/v1/projects/ -H "Authorization: Bearer $ACCESS"
curl -s -X POST http://127.0.0.1:8000/api/v1/auth/refresh/ -H 'Content-Type: application/json' \\
     -d '{"refresh_token": "…"}'                                 # a refresh token works once
```

Access tokens last 15 minutes; logout, a password change or "log out everywhere" end every token of
the account at once. In this browsable site you may also log in with a session (top right).

**Other services** send a service account's key: `Authorization: Api-Key <key>` (an operator makes it
with `manage.py service_key create` or in the admin; it is shown once).

Errors are JSON: `{"detail": "..."}` or `{"field": ["..."]}`; refused transitions also carry
`current_state` and `allowed_transitions` (409) or `missing` (400, the requirements' names).
"""

SUMMARIES = {
    ("post", "/api/v1/auth/login/"): "Log in: get an access and a refresh token",
    ("post", "/api/v1/auth/logout/"): "Log out: end every API token of your account",
    ("post", "/api/v1/auth/logout/everywhere/"): "Log out everywhere: tokens and browser sessions",
    ("get", "/api/v1/auth/me/"): "Who am I",
    ("post", "/api/v1/auth/refresh/"): "Swap a refresh token for a new pair (single use)",
    ("post", "/api/v1/auth/register/"): "Create an account",
    ("get", "/api/v1/decisions/"): "List decisions you can see",
    ("post", "/api/v1/decisions/"): "Create a decision in a project",
    ("get", "/api/v1/decisions/{id}/"): "One decision",
    ("put", "/api/v1/decisions/{id}/"): "Replace a decision's content (draft or active)",
    ("patch", "/api/v1/decisions/{id}/"): "Edit a decision (draft or active)",
    ("delete", "/api/v1/decisions/{id}/"): "Delete a draft decision",
    ("post", "/api/v1/decisions/{id}/activate/"): "Activate a decision (draft → active)",
    ("post", "/api/v1/decisions/{id}/archive/"): "Archive a decision",
    ("get", "/api/v1/decisions/{id}/audit/"): "A decision's audit trail",
    ("post", "/api/v1/decisions/{id}/decide/"): "Decide: choose an option (active → decided)",
    ("get", "/api/v1/decisions/{id}/record.md"): "The decision record as Markdown",
    ("get", "/api/v1/decisions/{id}/transitions/"): "What you can do with this decision now",
    ("get", "/api/v1/events/"): "The audit trail you can see, newest first",
    ("get", "/api/v1/events/{id}/"): "One audit row",
    ("get", "/api/v1/events/export/"): "Export the audit trail (CSV or JSON lines)",
    ("get", "/api/v1/events/failed-transitions/"): "Refused transitions, newest first",
    ("get", "/api/v1/events/stats/"): "Audit counts per type and per day",
    ("get", "/api/v1/projects/"): "List projects you can see",
    ("post", "/api/v1/projects/"): "Create a project (you become its owner)",
    ("get", "/api/v1/projects/{id}/"): "One project",
    ("put", "/api/v1/projects/{id}/"): "Replace a project's details",
    ("patch", "/api/v1/projects/{id}/"): "Edit a project",
    ("delete", "/api/v1/projects/{id}/"): "Delete a proposed project",
    ("post", "/api/v1/projects/{id}/activate/"): "Activate a project (proposed → active)",
    ("get", "/api/v1/projects/{id}/audit/"): "A project's audit trail",
    ("post", "/api/v1/projects/{id}/complete/"): "Complete a project (final)",
    ("post", "/api/v1/projects/{id}/kill/"): "Kill a project (final)",
    ("post", "/api/v1/projects/{id}/pause/"): "Pause a project",
    ("post", "/api/v1/projects/{id}/resume/"): "Resume a paused project",
    ("get", "/api/v1/projects/{id}/team/"): "A project's team",
    ("post", "/api/v1/projects/{id}/team/"): "Add someone to the team, or change their role",
    ("delete", "/api/v1/projects/{id}/team/{user_id}/"): "Remove someone from the team",
    ("get", "/api/v1/projects/{id}/transitions/"): "What you can do with this project now",
}


# Model JSONFields that hold a JSON object: typed as objects in every schema (drf-spectacular leaves a
# model JSONField untyped; the write serializers' JSONObjectField is typed already).
JSON_OBJECT_PROPERTIES = {"settings", "metadata"}


def add_summaries(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation without a summary gets its SUMMARIES line,
    JSON_OBJECT_PROPERTIES are typed as objects, and every operation documents a 400: a null character
    in any query parameter is refused before the view (commandcentral.null_characters)."""
    for component in result.get("components", {}).get("schemas", {}).values():
        for name, prop in component.get("properties", {}).items():
            if name in JSON_OBJECT_PROPERTIES and "type" not in prop and "$ref" not in prop:
                prop.update(type="object", additionalProperties=True)
    operations = [(path, method, operation) for path, methods in result.get("paths", {}).items()
                  for method, operation in methods.items() if isinstance(operation, dict)]
    bad_input = next((operation["responses"]["400"] for _, _, operation in operations if "400" in operation.get("responses", {})), None)
    for path, method, operation in operations:
        if not operation.get("summary"):
            summary = SUMMARIES.get((method, path))
            if summary:
                operation["summary"] = summary
        responses = operation.setdefault("responses", {})
        if bad_input is not None and "400" not in responses:
            responses["400"] = {**bad_input, "description": "A query parameter holds a null character"}
    return result
