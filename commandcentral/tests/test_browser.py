"""The pages in a real browser: Playwright driving Debian's /usr/bin/chromium against live_server.

Skips when Chromium is absent (`apt-get install chromium`, as .ci/run does). Screenshots are written to
artifacts/browser/ (git-ignored) so a reviewer can look at what the test saw. Every wait is on a condition
(Playwright's expect() or an event), never a fixed time, so a busy machine makes the tests slower, not red.
"""

import json
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

from audit.models import AuditEntry, AuditEventType
from accounts.tests.factories import PASSWORD, UserFactory
from decisions.models import Decision, DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import Project, ProjectState
from projects.tests.factories import ProjectFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
# Any URL that is not on 127.0.0.1 (live_server's address, see base_url), for page.route(). Matched by
# Playwright itself, so the requests that stay here never go through Python.
OFF_MACHINE = re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1(:\d+)?/)(?!blob:|data:)")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
# expect() waits up to 5 s by default; on a busy machine a page can take longer than that to settle.
# The same bound as every other Playwright call here (open_page): how long to wait, not how fast to be.
sync_api.expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM calls
    # from the test body as "async unsafe". Only this module needs it, so it is undone afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Every page reports each Content-Security-Policy violation to the test as it happens. Playwright runs
# this before the page's own scripts and outside its CSP (a DevTools binding, not an inline script).
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile || event.documentURI}:${event.lineNumber}`;
  window.reportCspViolation(`${event.effectiveDirective} refused ${event.blockedURI || "inline"} at ${where}`);
});
"""


def is_csp_violation(text: str) -> bool:
    """Chromium's console line for a refused script, style, image, frame or form target."""
    return "Content Security Policy" in text or text.startswith("Refused to")


class Watched:
    """A page plus every request it made, every console error it logged and every CSP violation."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        # Kept apart from `errors`, which a test may filter (an expected 404): no test may expect these.
        self.csp_violations: list[str] = []
        # Refusals a test announced with expect_csp_refusal(), kept apart whenever their report arrives
        # (the console line and the page's event come separately, the latter possibly later).
        self.expected_refusals: list[str] = []
        self._refusable: list[str] = []
        # Requests the browser refused for the page's policy: they never reached the network.
        self.refused_by_policy: set[str] = set()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", self._request_failed)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.expose_function("reportCspViolation", self._csp_violation)
        page.add_init_script(REPORT_CSP_VIOLATIONS)

    def _request_failed(self, request):
        if request.failure == "csp":
            self.refused_by_policy.add(request.url)

    def _csp_violation(self, violation: str):
        if any(url in violation for url in self._refusable):
            self.expected_refusals.append(violation)
        else:
            self.csp_violations.append(violation)

    def _console(self, message):
        if is_csp_violation(message.text):
            self._csp_violation(message.text)
        elif message.type == "error":
            self.errors.append(message.text)

    def expect_csp_refusal(self, url: str):
        """The policy will refuse `url` on this page, and that is right: its reports are not violations."""
        self._refusable.append(url)

    def assert_no_csp_violation(self):
        assert self.csp_violations == [], f"Content-Security-Policy violations: {self.csp_violations}"

    def assert_clean(self):
        self.assert_no_csp_violation()
        # A blob: URL (ReDoc's search worker) names the origin that made it: blob:http://127.0.0.1:…/uuid.
        # An announced refusal is still reported as a request; it passes only if the policy stopped it.
        foreign = [
            url for url in self.requests
            if urlparse(url.removeprefix("blob:")).hostname != "127.0.0.1"
            and not (url in self._refusable and url in self.refused_by_policy)
        ]
        assert foreign == [], f"requests left 127.0.0.1: {foreign}"
        assert self.errors == [], f"console errors: {self.errors}"

    def shot(self, name: str, full_page: bool = True):
        # Into a file of its own first, then renamed over the old one: another run in this checkout that
        # writes the same screenshot at the same time never leaves a half-written or mixed file.
        image = self.page.screenshot(full_page=full_page)
        with tempfile.NamedTemporaryFile(dir=ARTIFACTS, prefix=f".{name}.", suffix=".partial", delete=False) as partial:
            partial.write(image)
        os.replace(partial.name, ARTIFACTS / f"{name}.png")


@pytest.fixture
def base_url(live_server):
    # live_server listens on localhost (IPv4); use the address so that "nothing leaves 127.0.0.1" is exact.
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def open_page(browser):
    """Opens watched pages; any CSP violation on any of them fails the test, assert_clean() or not."""
    contexts, pages = [], []

    def _open(viewport=None):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        pages.append(Watched(context.new_page()))
        return pages[-1]

    yield _open
    for context in contexts:
        context.close()
    violations = [violation for watched in pages for violation in watched.csp_violations]
    if violations:
        pytest.fail(f"Content-Security-Policy violations: {violations}", pytrace=False)


def loaded(page):
    """Waits for the page that a click led to to finish loading. Its elements can be on screen before
    its deferred scripts (htmx, site.js, option-rows.js) have run: typing or clicking then would reach
    no handler. page.goto() and page.reload() already wait for this."""
    page.wait_for_load_state("load")


def log_in(watched: Watched, base_url: str, email: str, next_path: str = "/"):
    page = watched.page
    page.goto(f"{base_url}{next_path}")
    sync_api.expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page).to_have_url(f"{base_url}{next_path}")
    loaded(page)


def run_transition(page, name: str, rationale: str, option_label: str | None = None):
    loaded(page)  # the confirmation goes through htmx
    panel = page.locator("#state-panel")
    panel.locator(f"details.transition-{name} summary").click()
    form = panel.locator(f"details.transition-{name} form")
    if option_label:
        form.get_by_label(option_label).check()
    form.get_by_label(re.compile("^Rationale")).fill(rationale)
    form.get_by_role("button", name=f"Confirm {name}").click()


@pytest.mark.django_db(transaction=True)
def test_owner_runs_a_project_and_a_decision_through_their_lifecycles(open_page, base_url):
    UserFactory(email="lead@example.com", name="Lea Lead")
    watched = open_page()
    page = watched.page
    expect = sync_api.expect

    log_in(watched, base_url, "lead@example.com")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    watched.shot("01-dashboard")

    page.get_by_role("link", name="New project").first.click()
    page.get_by_label("Name").fill("Browser rollout")
    page.get_by_label("Description").fill("Roll the new pages out to every team.")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("h1")).to_contain_text("Browser rollout")
    expect(page.locator("#state-panel .badge")).to_have_text("proposed")
    watched.shot("02-project-proposed")

    # A full page load would drop this marker: its survival proves htmx swapped the page in place.
    page.evaluate("window.notReloaded = true")
    run_transition(page, "activate", "Kick-off approved by the steering group.")
    expect(page.locator("#state-panel .badge")).to_have_text("active")
    assert page.evaluate("window.notReloaded === true")
    expect(page.locator("#messages")).to_contain_text("Activate done")
    expect(page.locator("#timeline")).to_contain_text("Kick-off approved by the steering group.")
    expect(page.locator('svg.machine g.state-current[data-state="active"]')).to_have_count(1)
    expect(page.locator('svg.machine g.state-reachable[data-state="paused"]')).to_have_count(1)
    watched.shot("03-project-active")

    ProjectFactory(owner=Project.objects.get(name="Browser rollout").owner, name="Unrelated work")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page.locator("#project-results .item")).to_have_count(2)
    loaded(page)  # the search box is wired by htmx
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Search").fill("rollout")
    expect(page.locator("#project-results .item")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"search=rollout"))
    assert page.evaluate("window.notReloaded === true")
    page.get_by_role("link", name="Browser rollout").click()

    page.get_by_role("link", name="New decision").click()
    page.get_by_label("Title").fill("Which database?")
    page.get_by_label("Question").fill("Which database do we run in production?")
    rows = page.locator("#option-rows .option-row")
    expect(rows).to_have_count(2)
    loaded(page)  # "Add option" is wired by option-rows.js
    page.get_by_role("button", name="Add option").click()
    page.get_by_role("button", name="Add option").click()
    expect(rows).to_have_count(4)
    rows.nth(3).get_by_role("button", name="Remove this option").click()
    expect(rows).to_have_count(3)
    for index, (label, pro, con) in enumerate([
        ("PostgreSQL", "mature", "needs a server"),
        ("SQLite", "no server", "one writer at a time"),
        ("MySQL", "familiar", "different SQL dialect"),
    ]):
        row = rows.nth(index)
        row.get_by_label("Label").fill(label)
        row.get_by_label("Pros").fill(pro)
        row.get_by_label("Cons").fill(con)
    rows.nth(0).get_by_label("Id").fill("pg")
    page.get_by_label("Tags").fill("infra, storage")
    watched.shot("04-decision-form")
    page.get_by_role("button", name="Create decision").click()
    expect(page.locator("#state-panel .badge")).to_have_text("draft")
    expect(page.locator("#options li.option")).to_have_count(3)

    run_transition(page, "activate", "Options are complete.")
    expect(page.locator("#state-panel .badge")).to_have_text("active")
    run_transition(page, "decide", "Concurrent writers and JSON containment.", option_label="PostgreSQL")
    expect(page.locator("#state-panel .badge")).to_have_text("decided")
    expect(page.locator(".outcome")).to_contain_text("PostgreSQL")
    watched.shot("05-decision-decided")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    rows = page.locator("#audit-rows .entry")
    expect(rows.filter(has_text="decision.decide")).to_contain_text("Concurrent writers and JSON containment.")
    expect(rows.filter(has_text="decision.activate")).to_have_count(1)
    expect(rows.filter(has_text="project.activate")).to_contain_text("Kick-off approved")
    watched.shot("06-audit")

    decision = Decision.objects.get(title="Which database?")
    assert decision.state == DecisionState.DECIDED and decision.selected_option == "pg"
    assert [o["id"] for o in decision.options] == ["pg", "sqlite", "mysql"]
    assert Project.objects.get(name="Browser rollout").state == ProjectState.ACTIVE
    names = set(
        AuditEntry.objects.filter(event_type=AuditEventType.TRANSITION_SUCCESS, actor__email="lead@example.com")
        .values_list("event_name", flat=True)
    )
    assert names == {"project.activate", "decision.activate", "decision.decide"}
    watched.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_requirements_are_shown_before_acting_and_the_button_waits_for_them(open_page, base_url):
    """The checklist in plain words, the button disabled with its reason until they hold."""
    from decisions.services import decision_update

    owner = UserFactory(email="lead@example.com")
    decision = DecisionFactory(
        project=ProjectFactory(owner=owner), title="Half-baked", options=[{"id": "only", "label": "The only one"}]
    )
    watched = open_page()
    page = watched.page
    log_in(watched, base_url, "lead@example.com", next_path=decision.get_absolute_url())

    panel = page.locator("#state-panel")
    panel.locator("details.transition-activate summary").click()
    form = panel.locator("details.transition-activate form")
    sync_api.expect(form.locator(".check-met", has_text="A question")).to_be_visible()
    sync_api.expect(form.locator(".check-missing")).to_contain_text("At least two options")
    sync_api.expect(form.get_by_role("button", name="Confirm activate")).to_be_disabled()
    sync_api.expect(form.locator(".blocked-reason")).to_have_text("It needs at least two options first.")
    watched.shot("07-requirements-checklist")

    # Someone adds the second option: after a reload the button works.
    decision_update(decision=decision, actor=owner, options=[{"id": "a", "label": "A"}, {"id": "b", "label": "B"}])
    page.reload()
    run_transition(page, "activate", "Let's go.")
    sync_api.expect(page.locator("#state-panel .badge")).to_have_text("active")
    decision.refresh_from_db()
    assert decision.state == DecisionState.ACTIVE
    assert AuditEntry.objects.get(event_name="decision.activate").event_type == AuditEventType.TRANSITION_SUCCESS
    watched.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_phone_width_renders_every_page_without_horizontal_scrolling(open_page, base_url):
    owner = UserFactory(email="a-rather-long-address-for-a-phone@subdomain.example.com")
    project = ProjectFactory(owner=owner, name="A project with a fairly long name to wrap on phones")
    decision = DecisionFactory(project=project, title="Decision with options and pros and cons")
    watched = open_page(viewport=PHONE)
    page = watched.page
    log_in(watched, base_url, owner.email)
    pages = {
        "dashboard": "/",
        "projects": "/projects/",
        "project": project.get_absolute_url(),
        "project-form": "/projects/new/",
        "decision": decision.get_absolute_url(),
        "decision-form": f"/decisions/{decision.pk}/edit/",
        "decisions": "/decisions/",
        "audit": "/audit/",
        "not-found": "/projects/00000000-0000-0000-0000-000000000000/",
    }
    for name, path in pages.items():
        page.goto(f"{base_url}{path}")
        if name == "project":
            page.locator("details.transition-activate summary").click()
            page.locator("details.usermenu summary").click()
        width = page.evaluate("document.documentElement.scrollWidth")
        watched.shot(f"phone-{name}")
        assert width <= PHONE["width"], f"{name} is {width}px wide at a 390px viewport"
    # The 404 page's own document load is the one expected console error; nothing else.
    watched.errors = [error for error in watched.errors if "404" not in error]
    watched.assert_clean()


PHONE_NARROW = {"width": 375, "height": 812}


@pytest.mark.django_db(transaction=True)
def test_audit_row_page_shows_its_ledger_leaf_and_its_downloaded_proof_verifies(open_page, base_url):
    from audit.ledger.checkpoints import make_checkpoint
    from audit.ledger.verifier import parse_verifier_key, verify_inclusion_document
    from audit.models import LedgerLeaf

    owner = UserFactory(email="lead@example.com")
    UserFactory(email="outsider@example.com")
    project = ProjectFactory(owner=owner, name="Ledger rollout")
    watched = open_page()
    page = watched.page
    expect = sync_api.expect

    # The audited action, done by the owner in the page; live_server commits it, so the app seals it.
    log_in(watched, base_url, owner.email, next_path=project.get_absolute_url())
    run_transition(page, "activate", "Ledger kick-off.")
    expect(page.locator("#state-panel .badge")).to_have_text("active")
    entry = AuditEntry.objects.get(event_name="project.activate", project=project)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    row = page.locator('#audit-rows .entry[data-event="project.activate"]')
    expect(row).to_contain_text("Ledger kick-off.")
    row.get_by_role("link", name=f"#{entry.pk}", exact=True).click()
    entry_path = f"/audit/{entry.pk}/"
    expect(page).to_have_url(f"{base_url}{entry_path}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Audit row #{entry.pk}")

    # No checkpoint is stored yet in a fresh ledger: the page names the leaf and the tree it is in, and
    # offers no proof until the maintenance task signs a checkpoint covering it.
    ledger = page.get_by_role("region", name="In the ledger")
    sealed = ledger.locator("p", has_text="Sealed as leaf ")
    expect(sealed).to_contain_text("No signed checkpoint covers it yet")
    expect(ledger.get_by_role("link", name="Download its proof")).to_have_count(0)
    make_checkpoint()  # what the maintenance task does every few seconds
    page.reload()
    expect(sealed).to_contain_text(re.compile(r"Sealed as leaf \d+ of the ledger\s+in the signed checkpoint of tree size \d+"))
    match = re.search(r"Sealed as leaf (\d+) of the ledger in the signed checkpoint of tree size (\d+)", " ".join(sealed.inner_text().split()))
    assert match, sealed.inner_text()
    shown_index, shown_size = int(match[1]), int(match[2])
    assert shown_index == LedgerLeaf.objects.get(entry_id=entry.pk).leaf_index
    assert shown_size > shown_index
    watched.shot("08-audit-entry")

    with page.expect_download() as download_info:
        ledger.get_by_role("link", name="Download its proof").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"audit-{entry.pk}-proof.json"
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    key_response = page.request.get(f"{base_url}/api/v1/ledger/key/")
    assert key_response.ok
    checkpoint = verify_inclusion_document(document, parse_verifier_key(key_response.text()))
    assert document["leaf_index"] == shown_index
    assert checkpoint.size == document["tree_size"] == shown_size

    # Accessibility basics: one h1, the landmarks are there and named, every section has a heading.
    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    unnamed = page.evaluate("""[...document.querySelectorAll('main section')]
        .filter(s => !(s.getAttribute('aria-labelledby') && document.getElementById(s.getAttribute('aria-labelledby'))))
        .length""")
    assert unnamed == 0

    # Phone width: nothing scrolls sideways.
    page.set_viewport_size(PHONE_NARROW)
    page.reload()
    expect(sealed).to_contain_text(re.compile(rf"Sealed as leaf {shown_index} of the ledger\s+in the signed checkpoint of tree size {checkpoint.size}\b"))
    width = page.evaluate("document.documentElement.scrollWidth")
    watched.shot("phone-audit-entry")
    assert width <= PHONE_NARROW["width"], f"the audit row page is {width}px wide at a 375px viewport"
    watched.assert_clean()

    # Someone without access to the project gets the 404 page for the row and its proof alike.
    stranger = open_page()
    log_in(stranger, base_url, "outsider@example.com", next_path=entry_path)
    expect(stranger.page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(stranger.page.locator("#ledger")).to_have_count(0)
    assert stranger.page.reload().status == 404
    assert stranger.page.request.get(f"{base_url}{entry_path}proof.json").status == 404
    stranger.errors = [error for error in stranger.errors if "404" not in error]
    stranger.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_admin_api_docs_and_browsable_api_work_under_the_content_security_policy(open_page, base_url):
    UserFactory(email="operator@example.com", is_staff=True, is_superuser=True)
    ProjectFactory(name="Policy rollout")
    watched = open_page()
    page = watched.page
    expect = sync_api.expect

    response = page.goto(f"{base_url}/admin/login/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    watched.shot("csp-admin-login")

    # Swagger UI builds its page from the schema: an operation block proves its scripts all ran.
    response = page.goto(f"{base_url}/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    projects_path = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/projects/$"))
    operation = page.locator(".opblock", has=projects_path)
    expect(operation.first).to_be_visible()
    operation.first.locator(".opblock-summary").click()
    expect(operation.first.get_by_role("button", name="Try it out")).to_be_visible()
    watched.shot("csp-swagger")

    # ReDoc renders the schema, and its search (a blob: worker, api/urls.py) finds an operation.
    # The bundled ReDoc (2.5.4, drf-spectacular-sidecar) draws "API docs by Redocly" with an <img> of
    # https://cdn.redoc.ly/redoc/logo-mini.svg at the foot of its sidebar: the URL is hard-coded in
    # redoc.standalone.js and no ReDoc option turns it off. Our page hides that link
    # (static/css/docs-redoc.css), but a hidden <img> is still fetched, so the page's policy (img-src)
    # refuses it before any connection is made. The test waits for that refusal (an event, not a fixed
    # time) and checks it was the policy's; while ReDoc loads, anything else for another host that got
    # past the policy is intercepted here, aborted and fails the test. (Only here: routing turns the
    # browser's cache off, which would slow every other page.)
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    intercepted = []

    def off_machine(route):
        intercepted.append(route.request.url)
        route.abort("blockedbyclient")

    page.route(OFF_MACHINE, off_machine)
    watched.expect_csp_refusal(logo)
    with (
        page.expect_event("requestfailed", lambda request: request.url == logo) as logo_request,
        page.expect_console_message(lambda message: logo in message.text and is_csp_violation(message.text)),
    ):
        page.goto(f"{base_url}/api/v1/redoc/")
    assert logo_request.value.failure == "csp", "ReDoc's CDN logo was not refused by the page's policy"
    expect(page.get_by_role("heading", level=1)).to_contain_text("CommandCentral API")
    expect(page.locator('[data-section-id="tag/projects"]')).to_have_count(1)
    expect(page.get_by_role("link", name="API docs by Redocly")).to_be_hidden()
    page.get_by_placeholder("Search...").fill("transitions")
    expect(page.locator('[data-role="search:results"] li').first).to_be_visible()
    watched.shot("csp-redoc", full_page=False)  # the whole reference is a very tall page: seconds to take
    page.unroute(OFF_MACHINE)
    assert intercepted == [], f"requests for other hosts got past the policy: {intercepted}"
    watched.assert_no_csp_violation()

    # The admin behind the login (its changelist JS, a change form's widgets) and the browsable API.
    log_in(watched, base_url, "operator@example.com")
    for path, heading in [
        ("/admin/", "Operators' console"),
        ("/admin/audit/auditentry/", "Select audit entry to view"),
        ("/admin/projects/project/add/", "Add project"),
    ]:
        page.goto(f"{base_url}{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    watched.shot("csp-admin-add-project")
    page.goto(f"{base_url}/api/v1/projects/?ordering=name")
    expect(page.locator(".response-info")).to_contain_text("Policy rollout")
    filters = page.get_by_role("button", name="Filters")
    # Floated by css/drf-api.css (templates/rest_framework/api.html), not by the style="" of DRF's template.
    assert filters.evaluate("button => getComputedStyle(button).float") == "right"
    filters.click()
    expect(page.locator("#filtersModal .ordering-current")).to_be_visible()
    watched.shot("csp-browsable-api")

    # The admin's pages name no favicon: the browser's guess, /favicon.ico, redirects to ours (no 404).
    watched.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_keyboard_focus_and_dark_mode_polish(open_page, base_url):
    """Focus moves to the message after an htmx update, Esc closes a transition panel,
    "/" focuses search, dark mode follows the system, and /favicon.ico is no 404."""
    owner = UserFactory(email="keys@example.com")
    project = ProjectFactory(owner=owner, name="Keyboard project")
    watched = open_page()
    page = watched.page
    log_in(watched, base_url, "keys@example.com", next_path=project.get_absolute_url())

    panel = page.locator("#state-panel")
    panel.locator("details.transition-activate summary").click()
    sync_api.expect(panel.locator("details.transition-activate")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    sync_api.expect(panel.locator("details.transition-activate")).not_to_have_attribute("open", "")

    run_transition(page, "activate", "Go")
    sync_api.expect(page.locator("#messages .message").first).to_be_focused()

    page.goto(f"{base_url}/projects/")
    page.locator("h1").click()
    page.keyboard.press("/")
    sync_api.expect(page.locator("#id_search")).to_be_focused()

    assert page.request.get(f"{base_url}/favicon.ico").status == 200
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 28)", background
    watched.shot("dark-mode-projects")
    watched.assert_clean()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_newcomers_first_hour_as_viewer_member_and_owner(open_page, base_url, viewport):
    """A newcomer's first hour: the role notes, the checklist and the disabled button with its reason,
    the confirmation and the Undo of a delete, and the focus after an htmx update — on a desktop and a
    phone, with no console error and no CSP violation."""
    from projects.models import MembershipRole
    from projects.tests.factories import MembershipFactory

    owner = UserFactory(email="newowner@example.com", name="Nora Owner")
    member = UserFactory(email="newmember@example.com", name="Max Member")
    viewer = UserFactory(email="newviewer@example.com", name="Vic Viewer")
    project = ProjectFactory(owner=owner, name="First hour")
    MembershipFactory(project=project, user=member, role=MembershipRole.MEMBER)
    MembershipFactory(project=project, user=viewer, role=MembershipRole.VIEWER)
    draft = DecisionFactory(project=project, title="Which queue?", options=[{"id": "a", "label": "Kafka"}])
    spare = ProjectFactory(owner=owner, name="Spare project")
    tag = "phone" if viewport else "desktop"

    # A viewer: reads everything, is told their role and whom to ask, is offered no transition.
    watched = open_page(viewport=viewport)
    page = watched.page
    log_in(watched, base_url, viewer.email, next_path=project.get_absolute_url())
    sync_api.expect(page.locator(".role-note")).to_contain_text("viewer")
    sync_api.expect(page.locator("#state-panel")).to_contain_text("ask the owner, newowner@example.com")
    assert page.locator("#state-panel details.transition").count() == 0
    page.goto(f"{base_url}/projects/")
    drawer = page.locator("details.filter-drawer")
    if viewport:  # a phone: the filters are a closed drawer until asked for
        assert drawer.evaluate("d => d.open") is False
        drawer.locator("summary").click()
    sync_api.expect(page.locator("#id_search")).to_be_visible()
    page.goto(f"{base_url}{project.get_absolute_url()}")
    watched.shot(f"journey-{tag}-viewer")
    watched.assert_clean()

    # A member: the checklist says what activation needs, and the button waits for it.
    watched = open_page(viewport=viewport)
    page = watched.page
    log_in(watched, base_url, member.email, next_path=draft.get_absolute_url())
    page.locator("#state-panel details.transition-activate summary").click()
    form = page.locator("#state-panel details.transition-activate form")
    sync_api.expect(form.locator(".check-missing")).to_contain_text("At least two options")
    sync_api.expect(form.get_by_role("button", name="Confirm activate")).to_be_disabled()
    watched.shot(f"journey-{tag}-member-checklist")
    watched.assert_clean()

    # The owner: deletes with a confirmation, undoes it, then activates; focus lands on the message.
    watched = open_page(viewport=viewport)
    page = watched.page
    log_in(watched, base_url, owner.email, next_path=spare.get_absolute_url())
    page.get_by_role("link", name="Delete…").click()
    sync_api.expect(page.get_by_role("heading", name="Delete this project?")).to_be_visible()
    page.get_by_role("button", name="Delete project").click()
    undo = page.locator("form.undo")
    sync_api.expect(undo).to_contain_text("Project 'Spare project' deleted.")
    loaded(page)
    watched.shot(f"journey-{tag}-undo")
    undo.get_by_role("button", name="Undo").click()
    sync_api.expect(page.locator("#messages")).to_contain_text("is back")
    page.goto(f"{base_url}{project.get_absolute_url()}")
    run_transition(page, "activate", "Kick-off")
    sync_api.expect(page.locator("#messages .message").first).to_be_focused()
    sync_api.expect(page.locator("#state-panel .badge")).to_have_text("active")
    watched.shot(f"journey-{tag}-owner-activated")
    watched.assert_clean()
    assert Project.objects.get(pk=spare.pk).deleted_at is None

    # An operator: the admin says where each transition goes, branded as CommandCentral.
    UserFactory(email="newop@example.com", is_staff=True)
    watched = open_page(viewport=viewport)
    page = watched.page
    log_in(watched, base_url, "newop@example.com", next_path="/")
    page.goto(f"{base_url}/admin/projects/project/{spare.pk}/change/")
    sync_api.expect(page.get_by_role("button", name="Activate (proposed → active)")).to_be_visible()
    sync_api.expect(page.locator("#site-name")).to_contain_text("CommandCentral")
    watched.shot(f"journey-{tag}-operator-admin")
    if not viewport:  # the project list fits a 1280 px laptop
        page.goto(f"{base_url}/admin/projects/project/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    watched.assert_clean()
