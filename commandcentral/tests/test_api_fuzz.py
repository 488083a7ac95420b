"""Schemathesis against our own OpenAPI document, in-process (WSGI), authenticated with a real JWT.

It checks every operation for 5xx, undocumented status codes and bodies that break their schema.
Bounded: FUZZ_EXAMPLES examples per operation (default 8), fixed seed for repeatability.
A 401 or 403 is a documented answer, so a fuzz whose credentials stopped working would pass while
testing nothing past authentication: each operation's test checks, after its last example, that it did
not (got_past_authentication), so the check holds however the suite is split between processes.
"""

import os
import re
from collections import Counter, defaultdict

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, positive_data_acceptance
from hypothesis import HealthCheck, settings

from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from core.transitions import perform_transition
from decisions.tests.factories import DecisionFactory
from projects.tests.factories import MembershipFactory, ProjectFactory

pytestmark = [pytest.mark.integration]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
# The ledger's key, checkpoint and consistency proofs are public: anyone may check the log. So is the
# witness protocol, whose only credential is the log's signature on the checkpoint it submits.
PUBLIC = {
    "/api/v1/auth/register/", "/api/v1/auth/login/", "/api/v1/auth/refresh/", "/api/v1/schema/",
    "/api/v1/ledger/key/", "/api/v1/ledger/checkpoint/", "/api/v1/ledger/consistency/",
    "/api/v1/witness/add-checkpoint", "/api/v1/witness/key/",
}
# C2SP tlog-witness defines its own answers (409 with the witnessed size as text/x.tlog.size…): a log
# that talks to witnesses reads those, not our error body.
PROTOCOL_BODIES = {"/api/v1/witness/add-checkpoint"}
# Operations only staff may call (IsAdminUser); the fuzz calls them as an operator, the rest as a member.
STAFF_ONLY = {"/api/v1/events/verify/", "/api/v1/ledger/status/"}
# Operations whose body carries a credential of its own: a fuzzed one is refused with a 401 too.
CREDENTIAL_IN_BODY = {"/api/v1/auth/logout/"}
# Operations that end the very token they are called with: the examples after the first one are 401s.
ENDS_ITS_CREDENTIALS = {"/api/v1/auth/logout/everywhere/"}
# Status codes of the responses to each operation's own method, by operation label ("GET /api/v1/...").
# Each schemathesis test fills its operation's; got_past_authentication reads it after the last example.
STATUSES: dict[str, Counter] = defaultdict(Counter)


from commandcentral.wsgi import application  # noqa: E402

# Reading the schema needs no database; it is loaded once at collection.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture
def keep_test_connection(db):
    """Calling the WSGI app directly would close the test transaction's connection after each
    request; Django's test Client disconnects these handlers the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _bearer(user) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.fixture
def auth_headers(keep_test_connection):
    """Headers of a project owner ("member") and of a staff user ("operator")."""
    user = UserFactory(email="fuzzer@example.com")
    project = ProjectFactory(owner=user)
    MembershipFactory(project=project)
    perform_transition(project, "activate", actor=user)
    DecisionFactory(project=project)
    operator = UserFactory(email="fuzz-operator@example.com", is_staff=True)
    # Not through Django's test Client: it reconnects the handlers keep_test_connection removed.
    return {"member": _bearer(user), "operator": _bearer(operator)}


@pytest.fixture
def got_past_authentication(request):
    """After all of an operation's examples (a function fixture is set up once per operation, not per
    example): the operation ran, with credentials that worked. No operation that needs them ever
    answered 401, and each one answered something other than 401/403 at least once. With a broken token
    the schemathesis checks still pass (nearly every answer a documented 401); this one fails. So it does
    when an operation is only ever refused, as the staff-only chain verification was before the fuzz
    called it as an operator."""
    yield
    label = request.node.operation_label
    statuses = STATUSES[label]
    assert statuses, f"{label}: fuzzed without a single case"
    if label.split(" ", 1)[1] not in PUBLIC | CREDENTIAL_IN_BODY | ENDS_ITS_CREDENTIALS:
        assert not statuses[401], f"{label}: 401 with valid credentials ({statuses[401]} times)"
    assert set(statuses) - {401, 403}, f"{label}: never got past authentication and permissions: {dict(statuses)}"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth_headers, got_past_authentication):
    # ignored_auth: our explicit valid Authorization header survives its credential mutation, so
    # it reports false positives; test_every_operation_needs_credentials covers 401s instead.
    # positive_data_acceptance: schema-valid bodies can still break domain rules (weak password,
    # ids that must exist, decision requirements) and those 400s are documented responses.
    excluded = [ignored_auth, positive_data_acceptance]
    if case.method == "GET":
        # List filters treat an empty value (?project=) as "no filter", as every Django form does
        # (the pages submit empty filter fields); the schema cannot say "uuid or empty".
        excluded.append(negative_data_rejection)
    headers = auth_headers["operator" if case.operation.path in STAFF_ONLY else "member"]
    response = case.call_and_validate(headers=headers, excluded_checks=excluded)
    if case.method.upper() == case.operation.method.upper():  # not one of the coverage phase's other methods
        STATUSES[case.operation.label][response.status_code] += 1
    assert_one_error_shape(case, response)


def assert_one_error_shape(case, response) -> None:
    """Every error the fuzz provokes has the one error body: `detail` (a sentence) and `code` (a word),
    plus `errors` ({field: messages}) when fields were wrong. Never a bare field dict, a list, or HTML."""
    if response.status_code < 400 or case.operation.path in PROTOCOL_BODIES:
        return
    label = f"{case.method} {case.formatted_path} -> {response.status_code}"
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: lower-case names, lists
    assert content_type.startswith("application/json"), (label, content_type, response.text[:200], case.query)
    body = response.json()
    assert isinstance(body, dict), (label, body)
    assert isinstance(body.get("detail"), str) and body["detail"], (label, body)
    assert isinstance(body.get("code"), str) and re.fullmatch(r"[a-z_]+", body["code"]), (label, body)
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"], (label, body)
        assert all(isinstance(messages, (list, dict)) for messages in body["errors"].values()), (label, body)


def test_the_schema_the_fuzz_reads_lists_the_whole_api():
    """A schema that lost its operations would leave the fuzz little to test (each operation's own
    test checks that it got past authentication: got_past_authentication)."""
    operations = [f"{method.upper()} {path}" for path, methods in schema.raw_schema["paths"].items()
                  for method in methods if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) >= 40, f"the schema lists only {len(operations)} operations"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic Zm9vOmJhcg=="])
def test_every_operation_needs_credentials(client, db, authorization):
    """Without valid credentials every operation answers 401 with a Bearer challenge, never data."""
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    for path, methods in schema.raw_schema["paths"].items():
        if path in PUBLIC:
            continue
        concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000")
        for name in ("{service}", "{entity_type}", "{entity_id}", "{user_id}"):
            concrete = concrete.replace(name, "x")
        for method in methods:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            response = getattr(client, method)(concrete, content_type="application/json", **headers)
            assert response.status_code == 401, (method, concrete, response.status_code)
            assert response["WWW-Authenticate"].startswith("Bearer"), (method, concrete)
