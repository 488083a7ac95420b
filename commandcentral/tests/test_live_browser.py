"""Live pages with real processes, as `make run` serves them: gunicorn (the pages and the API), uvicorn
(commandcentral.asgi: the event stream, on another port, so another origin: CORS with credentials) and
`manage.py db_worker` (notification mail), on the test's PostgreSQL database, with Chromium.

A change made elsewhere (the JSON API, another person's token) reaches an open page without a reload:
a state badge, a count or a panel is redrawn in place, unless the reader is busy in it; a list that
would move announces its new rows ("2 new changes — show") and shows them when asked; a mention
reaches the bell and the mailbox; Ctrl-K finds a decision by a word of its context.

One set of servers for the module (they take seconds to start). The data the tests make is committed
(the servers must see it) and the database is emptied after the last test. Every wait is on a
condition with a deadline, never a fixed time.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.tests.test_live_ledger_guarantees import _manage, _start, _token
from audit.tests.test_live_server_ledger import GUNICORN, _call, _free_port, _server_env, _stop, _wait_for_health
from commandcentral.tests.test_browser import (  # noqa: F401  (browser, open_page: fixtures)
    CHROMIUM, browser, loaded, log_in, open_page, sync_api,
)
from core.transitions import perform_transition
from decisions.models import DecisionState
from decisions.tests.factories import DecisionFactory
from projects.models import MembershipRole
from projects.tests.factories import MembershipFactory, ProjectFactory

UVICORN = Path(sys.executable).parent / "uvicorn"
APPLICATION_NAME = f"cc-live-pages-{os.getpid()}"  # how the servers' database sessions are told apart
WAIT_LIMIT = 30.0  # how long a wait for something outside the browser may last (bounds it, asserts nothing)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"),
]
STACK_MARKS = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs PostgreSQL (set DATABASE_URL): runs gunicorn, uvicorn and a task worker on the test database"),
    pytest.mark.skipif(not UVICORN.exists(), reason="uvicorn is not installed (requirements.txt)"),
    # Sets the test database up; each test only reads it (its transaction is rolled back): what the servers
    # must see is made by the `stack` fixture, committed, and every change goes through the servers' API.
    pytest.mark.django_db,
]


def on_the_stack(test):
    """A test of the pages served by the real processes (the `stack` fixture)."""
    for mark in STACK_MARKS:
        test = mark(test)
    return test

expect = sync_api.expect
NEWS = re.compile(r"^\d+ new (\w+ )?\w+? — show$")


@dataclass
class Stack:
    base: str  # gunicorn: the pages and the API
    stream: str  # uvicorn: the event stream
    mail: Path  # the file-based mailbox (EMAIL_URL=filemail://…)
    logs: Path
    owner: User
    member: User
    operator: User
    reviewer: User  # a second member, named a reviewer with `member`
    projects: dict  # name → project, one (or more) per test
    decisions: dict  # title → decision

    def token(self, user: User) -> str:
        return _token(self.base, user)


def _person(email: str, **fields) -> User:
    user = UserFactory(email=email, **fields)
    user.refresh_from_db()  # its handle, derived on save
    return user


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-pages")
    mail, logs = tmp / "mail", tmp / "logs"
    mail.mkdir()
    logs.mkdir()
    page_port, stream_port = _free_port(), _free_port()
    base, stream = f"http://127.0.0.1:{page_port}", f"http://127.0.0.1:{stream_port}"
    env = {
        **_server_env(),
        # The suite's settings (static files from the finders, no collectstatic; its password hasher, so the
        # factories' passwords work), with everything below from the environment as in production.
        "DJANGO_SETTINGS_MODULE": "commandcentral.test_settings",
        "DATABASE_URL": f"{_server_env()['DATABASE_URL']}?application_name={APPLICATION_NAME}",
        "AUDIT_SIGNER_STATE": str(tmp / "signer.state"),
        "LIVE_STREAM_URL": f"{stream}/api/v1/events/stream/",
        "CORS_ALLOWED_ORIGINS": base,
        "EMAIL_URL": f"filemail://{mail}",
        "NOTIFICATIONS_SITE_URL": base,
        "LIVE_STREAM_HEARTBEAT": "5",
    }
    processes = []
    with django_db_blocker.unblock():
        try:
            world = Stack(base=base, stream=stream, mail=mail, logs=logs,
                          owner=_person("olive.owner@example.com", name="Olive Owner"),
                          member=_person("mo.member@example.com", name="Mo Member"),
                          operator=_person("opal.operator@example.com", name="Opal Operator", is_staff=True),
                          reviewer=_person("rae.reviewer@example.com", name="Rae Reviewer"),
                          projects={}, decisions={})
            _make_world(world)
            processes.append(_start(env, logs / "gunicorn.log", str(GUNICORN), "-c", "gunicorn.conf.py",
                                    "--bind", f"127.0.0.1:{page_port}"))
            processes.append(_start(env, logs / "uvicorn.log", str(UVICORN), "commandcentral.asgi:application",
                                    "--host", "127.0.0.1", "--port", str(stream_port), "--log-level", "warning",
                                    "--no-access-log"))
            processes.append(_start(env, logs / "worker.log", sys.executable, "manage.py", "db_worker",
                                    "--queue-name", "*", "--no-reload", "--verbosity", "0"))
            _wait_for_health(base, processes[0], logs / "gunicorn.log")
            _wait_for_health(stream, processes[1], logs / "uvicorn.log")
            yield world
        finally:
            for process in processes:
                _stop(process)
            _wait_for(lambda: _servers_sessions() == 0, "the servers' database sessions to end")
            # What the servers and these tests committed goes, as after any transactional test.
            call_command("flush", verbosity=0, interactive=False)
            # This teardown may run in another context than the setup (Playwright's event loop), with a
            # database connection of its own: closed, or the test database could not be dropped.
            connection.close()
    # The servers of the pages and of the stream answered everything without a traceback. (The worker's
    # log is not read here: what it does for these tests, the mail, is checked where it is awaited.)
    for name in ("gunicorn.log", "uvicorn.log"):
        log = (logs / name).read_text()
        assert "Traceback" not in log, f"{name}:\n{log}"


def _project(stack: Stack, name: str, *, active: bool = True):
    project = ProjectFactory(owner=stack.owner, name=name, slug=re.sub(r"\W+", "-", name.lower()))
    MembershipFactory(project=project, user=stack.member, role=MembershipRole.MEMBER)
    if active:
        perform_transition(project, "activate", actor=stack.owner, rationale="Set up for the test")
    stack.projects[name] = project
    return project


def _make_world(stack: Stack) -> None:
    """Everything the tests start from, committed before the servers start."""
    _project(stack, "Live rollout", active=False)
    _project(stack, "Live dashboard")
    reviewed = DecisionFactory(project=_project(stack, "Live decisions"), title="Pick a broker",
                               state=DecisionState.ACTIVE, context="Durability matters more than latency here.")
    MembershipFactory(project=reviewed.project, user=stack.reviewer, role=MembershipRole.MEMBER)
    reviewed.reviewers.add(stack.member, stack.reviewer)
    searched = DecisionFactory(project=_project(stack, "Live search"), title="Choose a storage tier",
                               context="The tardigrade archive must survive anything.")
    stack.decisions = {decision.title: decision for decision in (reviewed, searched)}


def _api(stack: Stack, user: User, path: str, body: dict, expected: int = 200) -> dict:
    status, _, data = _call(stack.base, "POST", path, body, token=stack.token(user))
    assert status == expected, (path, status, data)
    return data


def _open_live(open_page, stack: Stack, user: User, path: str):
    """A signed-in page at `path`, once its event stream is open (the stream starts at the tip: a change
    made before that would not be sent), marked so that a reload would show."""
    watched = open_page()
    log_in(watched, stack.base, user.email, path)
    expect(watched.page.locator("body")).to_have_attribute("data-live", "open")
    watched.page.evaluate("window.notReloaded = true")
    return watched


def _not_reloaded(watched) -> None:
    assert watched.page.evaluate("window.notReloaded === true"), "the page was reloaded"


def _servers_sessions() -> int:
    """The servers' backends on the test database (a stopped server's end a moment after it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME])
        return cursor.fetchone()[0]


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_LIMIT
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_LIMIT:.0f} s"
        time.sleep(0.1)
    return result


# --- Without the stream's server --------------------------------------------------------------------
# First in the file: its database is emptied after it, before the stack's world is made.


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_stream_is_not_served_stays_quiet(open_page, live_server, settings, owner, project):
    """live_server is WSGI, which answers the stream 503 at once: the page asks once, retries nothing,
    shows nothing about it, and works as a static page."""
    settings.LIVE_STREAM_URL = "/api/v1/events/stream/"
    base = live_server.url.replace("localhost", "127.0.0.1")
    watched = open_page()
    page = watched.page
    page.add_init_script("window.sseErrors = 0; document.addEventListener('htmx:sseError', () => window.sseErrors++);")
    log_in(watched, base, owner.email, project.get_absolute_url())
    expect(page.locator("body")).to_have_attribute("data-live", "closed")
    # The extension reconnects from its error handler (htmx:sseError, logged as an error): never reached.
    assert page.evaluate("window.sseErrors") == 0
    assert [url for url in watched.requests if "/events/stream/" in url] == [
        f"{base}/api/v1/events/stream/?as=change&project={project.pk}"]
    assert watched.errors == ["Failed to load resource: the server responded with a status of 503 (Service Unavailable)"]
    expect(page.locator("[role=alert]")).to_have_count(0)
    # The page itself works: the owner activates the project through its (htmx) form.
    panel = page.locator("#state-panel")
    panel.locator("details.transition-activate summary").click()
    panel.get_by_role("button", name="Confirm activate").click()
    expect(page.locator("#state-badge .badge")).to_have_attribute("data-state", "active")
    watched.assert_no_csp_violation()


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_live_pages_are_the_static_ones(browser, live_server, settings, owner, project):
    settings.LIVE_STREAM_URL = "/api/v1/events/stream/"
    base = live_server.url.replace("localhost", "127.0.0.1")
    perform_transition(project, "activate", actor=owner, rationale="Started before the page")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        streams = []
        page.on("request", lambda request: streams.append(request.url) if "/events/stream/" in request.url else None)
        page.goto(f"{base}/login?next={project.get_absolute_url()}")
        page.get_by_label("Email").fill(owner.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base}{project.get_absolute_url()}")
        expect(page.locator("#timeline-list")).to_contain_text("Started before the page")
        expect(page.locator(".live-show")).to_have_count(2)  # the decisions' and the timeline's, never shown
        for button in page.locator(".live-show").all():
            expect(button).to_be_hidden()
        page.get_by_role("link", name="Full audit of this project →").click()
        expect(page.locator("#audit-rows-list")).to_contain_text("Started before the page")
        assert streams == []
    finally:
        context.close()


# --- Project page ------------------------------------------------------------------------------------


@on_the_stack
def test_a_transition_made_elsewhere_reaches_the_project_page_without_clobbering_a_rationale(open_page, stack):
    project = stack.projects["Live rollout"]
    watched = _open_live(open_page, stack, stack.owner, project.get_absolute_url())
    page = watched.page
    panel = page.locator("#state-panel")

    # The owner starts activating it themselves, and is typing their rationale ...
    panel.locator("details.transition-activate summary").click()
    rationale = panel.locator("details.transition-activate").get_by_label(re.compile("^Rationale"))
    rationale.fill("Half a sentence")

    # ... when an operator activates it through the API.
    _api(stack, stack.operator, f"/api/v1/projects/{project.pk}/activate/", {"rationale": "Started from the API"})

    # The heading's badge changes in place; the timeline announces the new rows instead of moving.
    expect(page.locator("#state-badge .badge")).to_have_attribute("data-state", "active")
    news = page.locator("#timeline .live-show")
    expect(news).to_have_text(NEWS)
    expect(page.locator("#timeline-list")).not_to_contain_text("Started from the API")
    # The panel the owner is typing in waits: their words and the open form stay.
    expect(panel).to_have_attribute("data-live-stale", "")
    expect(rationale).to_have_value("Half a sentence")
    expect(panel.locator("details.transition-activate")).to_have_attribute("open", "")

    # Once they give up (empty, closed), it catches up: an active project is paused, not activated.
    rationale.fill("")
    panel.locator("details.transition-activate summary").click()
    expect(panel.locator("details.transition-pause")).to_be_visible()
    expect(panel.locator("details.transition-activate")).to_have_count(0)

    # "Show" brings the timeline up to date and the announcement goes.
    news.click()
    expect(page.locator("#timeline-list")).to_contain_text("Started from the API")
    expect(news).to_be_hidden()

    # A decision added elsewhere is announced above the project's decisions, then shown.
    _api(stack, stack.operator, "/api/v1/decisions/", {"project": str(project.pk), "title": "Choose the rollout order"},
         expected=201)
    decisions_news = page.locator('[data-live-news="#decision-list"] .live-show')
    expect(decisions_news).to_have_text("1 new decision change — show")
    expect(page.locator("#decision-list")).not_to_contain_text("Choose the rollout order")
    decisions_news.click()
    expect(page.locator("#decision-list")).to_contain_text("Choose the rollout order")
    expect(decisions_news).to_be_hidden()
    _not_reloaded(watched)
    watched.assert_clean()


# --- Dashboard and audit log -------------------------------------------------------------------------


@on_the_stack
def test_the_dashboard_and_the_audit_log_announce_new_changes_and_show_them_on_request(open_page, stack):
    project = stack.projects["Live dashboard"]
    dashboard = _open_live(open_page, stack, stack.owner, "/")
    audit = open_page()
    log_in(audit, stack.base, stack.owner.email, "/audit/")
    expect(audit.page.locator("body")).to_have_attribute("data-live", "open")
    audit.page.evaluate("window.notReloaded = true")
    paused = dashboard.page.locator('#dashboard-counts a[href$="?state=paused"] strong')
    expect(paused).to_have_text("0")

    _api(stack, stack.operator, f"/api/v1/projects/{project.pk}/pause/", {"rationale": "Paused from the API"})

    # A count is one value: it changes in place.
    expect(paused).to_have_text("1")
    # The lists announce, and show on request.
    for watched, news, rows in ((dashboard, '[data-live-news="#activity-list"] .live-show', "#activity-list"),
                                (audit, '[data-live-news="#audit-rows-list"] .live-show', "#audit-rows-list")):
        page = watched.page
        button = page.locator(news)
        expect(button).to_have_text(NEWS)
        expect(page.locator(rows)).not_to_contain_text("Paused from the API")
        button.click()
        expect(page.locator(rows)).to_contain_text("Paused from the API")
        expect(page.locator(f'{rows} [data-event="project.pause"]')).to_have_count(1)
        expect(button).to_be_hidden()
        _not_reloaded(watched)
        watched.assert_clean()


# --- Decision page: reviews, comments, mentions, mail --------------------------------------------------


@on_the_stack
def test_a_review_and_a_mention_reach_the_decision_page_the_bell_and_the_mailbox(open_page, stack):
    decision = stack.decisions["Pick a broker"]
    watched = _open_live(open_page, stack, stack.owner, decision.get_absolute_url())
    page = watched.page
    box = page.locator("#comments textarea")
    box.fill("My draft reply")  # the owner is writing a comment while the others act
    bell = page.locator("#notification-bell")
    expect(bell.locator(".bell-count")).to_have_count(0)
    # The other reviewer has the page open too, their own verdict form untouched.
    other = _open_live(open_page, stack, stack.reviewer, decision.get_absolute_url())
    their_reviews = other.page.locator("#reviews")
    expect(their_reviews.get_by_role("button", name="Record my verdict")).to_be_visible()

    _api(stack, stack.member, f"/api/v1/decisions/{decision.pk}/reviews/", {"verdict": "approve"}, expected=201)
    for reviews in (page.locator("#reviews"), their_reviews):  # in place, on both pages
        expect(reviews.locator(".reviewer-approve")).to_contain_text(stack.member.email)
        expect(reviews).to_contain_text("1 approved")
    # The other reviewer chooses "Object" but has not sent it: the next change leaves their form alone.
    their_reviews.get_by_label("Object", exact=True).check()

    body = f"Agreed on durability, @{stack.owner.handle}: let us take the broker."
    _api(stack, stack.member, f"/api/v1/decisions/{decision.pk}/comments/", {"body": body}, expected=201)

    # The bell counts the mention, with no reload.
    expect(bell.locator(".bell-count")).to_have_text("1")
    # The comments announce the new one; showing it keeps the owner's draft.
    news = page.locator('.live-news[data-live-news="#comments"] .live-show')
    expect(news).to_have_text("1 new comment — show")
    news.click()
    expect(page.locator("#comments")).to_contain_text("let us take the broker")
    expect(box).to_have_value("My draft reply")
    expect(news).to_be_hidden()
    # The decision's own audit announces the review.
    timeline_news = page.locator("#timeline .live-show")
    expect(timeline_news).to_have_text(NEWS)
    timeline_news.click()
    expect(page.locator('#timeline-list [data-event="decision.reviewed"]')).to_have_count(1)
    _not_reloaded(watched)
    watched.assert_clean()
    expect(their_reviews).to_have_attribute("data-live-stale", "")
    expect(their_reviews.get_by_label("Object", exact=True)).to_be_checked()
    _not_reloaded(other)
    other.assert_clean()

    # The worker mails the mention (instant is the default), with a link back to the comment.
    def mailed():
        for message in stack.mail.iterdir():
            text = message.read_text(errors="replace")
            if f"To: {stack.owner.email}" in text and "mentioned you" in text:
                return text
        return None

    mail = _wait_for(mailed, "the mention's mail")
    assert "Mo Member mentioned you in a comment on Pick a broker." in mail
    assert f"{stack.base}{decision.get_absolute_url()}#comment-" in mail


# --- Ctrl-K ----------------------------------------------------------------------------------------------


@on_the_stack
def test_ctrl_k_finds_a_decision_by_a_word_of_its_context(open_page, stack):
    decision = stack.decisions["Choose a storage tier"]
    watched = open_page()
    log_in(watched, stack.base, stack.owner.email, "/")
    page = watched.page
    page.keyboard.press("Control+k")
    palette = page.locator("#palette-input")
    expect(palette).to_be_focused()
    palette.fill("tardigrade")
    expect(page.locator("#palette-results")).to_contain_text("Choose a storage tier")
    palette.press("ArrowDown")  # the first result (Enter with none chosen lists them all on /search/)
    palette.press("Enter")
    expect(page).to_have_url(f"{stack.base}{decision.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("Choose a storage tier")
    watched.assert_clean()

