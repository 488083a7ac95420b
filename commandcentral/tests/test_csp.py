"""The Content-Security-Policy header on every kind of page, through the real middleware stack.

settings.CONTENT_SECURITY_POLICY is the policy; the API docs add what they need (api/urls.py). The HTML
checks keep the policy honest: nothing we render relies on an inline script, event handler or style
that the browser would refuse. test_browser.py drives the same pages in Chromium.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from decisions.tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db

# The policy as a browser receives it on our pages (the directive order is django-csp's).
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "object-src": ["'none'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# <script> types a browser does not run, so CSP does not apply (DRF's CSRF settings block).
DATA_BLOCK_TYPES = {"application/json", "application/ld+json"}


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.wsgi_request.path}: no Content-Security-Policy header"
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses: inline scripts, event handlers, <style> and style=""."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []  # inline scripts: their attributes and body
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [f"<{tag} {name}=…>" for name in attributes if name.startswith("on")]
        if "style" in attributes:
            self.styles.append(f'<{tag} style="{attributes["style"]}">')
        if tag == "style":
            self.styles.append("<style>")
        if tag == "script" and not attributes.get("src") and attributes.get("type") not in DATA_BLOCK_TYPES:
            self._script = {"attributes": attributes, "body": ""}
            self.scripts.append(self._script)

    def handle_data(self, data):
        if self._script is not None:
            self._script["body"] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def assert_strict(response, policy=POLICY):
    """The response carries `policy`, and its HTML needs nothing that the policy refuses."""
    assert response.status_code == 200, response.wsgi_request.path
    assert policy_of(response) == policy
    html = InlineCode()
    html.feed(response.content.decode())
    # A nonce would allow one inline script; we use none, so none may appear (the check stays right if one is added).
    nonces = {source[len("'nonce-"):-1] for source in policy.get("script-src", []) if source.startswith("'nonce-")}
    unnonced = [script for script in html.scripts if script["attributes"].get("nonce") not in nonces]
    assert unnonced == [], f"inline <script> without the response's nonce: {unnonced}"
    assert html.handlers == [], f"inline event handlers: {html.handlers}"
    assert html.styles == [], f"inline styles: {html.styles}"


def test_the_policy_is_strict(client):
    policy = policy_of(client.get("/login"))
    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"} & set(policy[directive])
    assert policy["object-src"] == policy["frame-ancestors"] == ["'none'"]


def test_pages_carry_the_policy_and_need_nothing_inline(client, owner, project):
    assert_strict(client.get("/login"))
    client.force_login(owner)
    decision = DecisionFactory(project=project)
    for url in (
        reverse("dashboard"),
        reverse("project_list"),
        project.get_absolute_url(),
        reverse("decision_create", args=[project.pk]),  # the page with a script of its own
        decision.get_absolute_url(),
        reverse("audit_list"),
    ):
        assert_strict(client.get(url))


def test_htmx_is_configured_to_need_no_inline_style_or_eval(client, owner):
    client.force_login(owner)
    body = client.get(reverse("dashboard")).content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", body)[1]
    assert json.loads(config) == {
        "includeIndicatorStyles": False, "allowEval": False, "attributesToSettle": ["class", "width", "height"]
    }


def test_error_pages_carry_the_policy(client, owner):
    client.force_login(owner)
    response = client.get("/projects/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert policy_of(response) == POLICY


def test_admin_carries_the_policy_and_needs_nothing_inline(client, operator, project):
    assert_strict(client.get("/admin/login/"))
    client.force_login(operator)
    for url in ("/admin/", "/admin/projects/project/", "/admin/projects/project/add/", "/admin/audit/auditentry/"):
        assert_strict(client.get(url))
    assert_strict(client.get("/admin/audit/auditentry/ledger-status/?verify=1"))


def test_browsable_api_carries_the_policy_and_needs_nothing_inline(client, owner, project):
    client.force_login(owner)
    for url in ("/api/v1/", "/api/v1/projects/?ordering=name", f"/api/v1/projects/{project.pk}/"):
        response = client.get(url, headers={"Accept": "text/html"})
        assert response["Content-Type"].startswith("text/html")
        assert_strict(response)


# The API docs' own additions (api/urls.py): data: images, and ReDoc's two style hashes and blob: worker.
DOCS_POLICY = {**POLICY, "img-src": ["'self'", "data:"]}


def test_swagger_ui_loads_its_init_script_from_a_url_of_its_own(client):
    response = client.get("/api/v1/docs/")
    assert_strict(response, policy=DOCS_POLICY)
    script_url = re.search(r'<script src="([^"]*\?[^"]*\bscript\b[^"]*)"', response.content.decode())[1]
    script = client.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode() and "/api/v1/schema/" in script.content.decode()


def test_redoc_adds_only_its_two_style_hashes_and_a_blob_worker(client):
    response = client.get("/api/v1/redoc/")
    styles = POLICY["style-src"] + [
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    ]
    assert_strict(response, policy={**DOCS_POLICY, "style-src": styles, "worker-src": ["blob:"]})
    body = response.content.decode()
    assert "fonts.googleapis.com" not in body and "/static/drf_spectacular_sidecar/redoc/" in body
