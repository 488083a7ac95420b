"""What a new user tripped over in their second hour, in a real browser: text contrast in light and dark
mode (axe-core's color-contrast rule on the dashboard, a project, a decision and the audit list), the
team's Remove that asks first and can be undone, and a refused Decide that keeps what was typed.

Uses the browser, live server and login helpers of test_browser.py (Debian's Chromium; skips without it).
"""

import re

import pytest

from accounts.tests.factories import UserFactory
from audit.models import AuditEntry
from commandcentral.tests.test_browser import (  # noqa: F401 - fixtures used by name
    CHROMIUM,
    base_url,
    browser,
    log_in,
    open_page,
    run_transition,
    sync_api,
)
from core.transitions import TransitionRefused, perform_transition
from decisions.models import Decision
from decisions.services import decision_create
from projects.models import Membership
from projects.services import membership_add, project_create

pytestmark = [pytest.mark.integration, pytest.mark.browser]

axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed")
CONTRAST_ONLY = {"runOnly": {"type": "rule", "values": ["color-contrast"]}, "resultTypes": ["violations"]}


def _team_with_history():
    """A project with a team, a refused transition (its "Why refused" line), an active decision with
    reviewers and options: every kind of text the four pages show."""
    owner = UserFactory(email="olive@example.com", name="Olive Owner")
    member = UserFactory(email="mia@example.com", name="Mia Member")
    viewer = UserFactory(email="vic@example.com", name="Vic Viewer")
    project = project_create(actor=owner, name="Contrast check", description="Every colour on a page, **readable**.")
    membership_add(project=project, actor=owner, user=member, role="member")
    membership_add(project=project, actor=owner, user=viewer, role="viewer")
    perform_transition(project, "activate", actor=owner, rationale="Kick-off")
    with pytest.raises(TransitionRefused):
        perform_transition(project, "pause", actor=viewer, rationale="Let me")
    options = [{"id": "pg", "label": "PostgreSQL"}, {"id": "my", "label": "MySQL"}]
    decision = decision_create(actor=member, project=project, title="Primary datastore", question="Which one?",
                               context="Raised in review.", options=options, reviewers=[owner, member],
                               required_approvals=1)
    perform_transition(decision, "activate", actor=member, rationale="Ready")
    return owner, member, viewer, project, decision


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_passes_axe_in_light_and_dark_mode(browser, base_url, scheme):
    owner, _, _, project, decision = _team_with_history()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        watched = type("Watched", (), {"page": page})()
        log_in(watched, base_url, owner.email)
        axe = axe_module.Axe()
        reports = {}
        for name, path in [("dashboard", "/"), ("project", project.get_absolute_url()),
                           ("decision", decision.get_absolute_url()), ("audit", "/audit/")]:
            page.goto(f"{base_url}{path}")
            page.wait_for_load_state("load")
            results = axe.run(page, options=CONTRAST_ONLY)
            if results.violations_count:
                reports[name] = results.generate_report()
            page.screenshot(path=str(_artifact(f"contrast-{scheme}-{name}")), full_page=True)
        assert reports == {}, "\n".join(f"{name}: {report}" for name, report in reports.items())

        # The lifecycle drawing: the current state stands out, and what can be done now is green.
        page.goto(f"{base_url}{project.get_absolute_url()}")
        current = page.locator('svg.machine g.state-current[data-state="active"] rect')
        reachable = page.locator('svg.machine g.state-reachable rect').first
        other = page.locator('svg.machine g.state:not(.state-current):not(.state-reachable) rect').first
        fill = current.evaluate("rect => getComputedStyle(rect).fill")
        assert fill != other.evaluate("rect => getComputedStyle(rect).fill"), fill  # not drawn like any other state
        assert _greenish(reachable.evaluate("rect => getComputedStyle(rect).stroke"))
    finally:
        context.close()


def _greenish(rgb: str) -> bool:
    red, green, blue = (int(part) for part in re.findall(r"\d+", rgb)[:3])
    return green > red and green > blue


def _artifact(name: str):
    from commandcentral.tests.test_browser import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


@pytest.mark.django_db(transaction=True)
def test_removing_a_team_member_asks_first_and_can_be_undone(open_page, base_url):
    owner, member, _, project, _ = _team_with_history()
    watched = open_page()
    page = watched.page
    expect = sync_api.expect
    log_in(watched, base_url, owner.email, next_path=project.get_absolute_url())

    page.get_by_role("link", name=f"Remove {member.email}").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Remove Mia Member from Contrast check\?"))).to_be_visible()
    assert Membership.objects.filter(project=project, user=member).exists()  # asking changed nothing
    page.get_by_role("link", name="Keep them").click()
    expect(page.locator(f'#team li[data-member="{member.email}"]')).to_be_visible()

    page.get_by_role("link", name=f"Remove {member.email}").click()
    page.get_by_role("button", name="Remove from the team").click()
    expect(page.locator(f'#team li[data-member="{member.email}"]')).to_have_count(0)
    undo = page.locator("#messages form.undo")
    expect(undo).to_contain_text(f"{member.email} was removed from the team.")
    watched.shot("team-remove-undo")
    undo.get_by_role("button", name="Undo").click()
    expect(page.locator(f'#team li[data-member="{member.email}"]')).to_contain_text("member")
    expect(page.locator("#messages")).to_contain_text("is back on the team as a member")
    assert Membership.objects.get(project=project, user=member).role == "member"
    rows = AuditEntry.objects.filter(project=project, entity_type="membership").order_by("id")
    assert [row.event_type for row in rows][-2:] == ["entity_deleted", "entity_created"]
    watched.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_a_refused_decide_keeps_the_rationale_in_the_open_form(open_page, base_url):
    owner, _, _, _, decision = _team_with_history()  # one approval needed, none given yet
    watched = open_page()
    page = watched.page
    expect = sync_api.expect
    log_in(watched, base_url, owner.email, next_path=decision.get_absolute_url())

    form = page.locator("#state-panel details.transition-decide form")
    page.locator("#state-panel details.transition-decide summary").click()
    # The button waits for the approval; the browser also requires an option before it would send.
    expect(form.get_by_role("button", name="Confirm decide")).to_be_disabled()
    expect(form.get_by_label("PostgreSQL")).to_have_attribute("required", "")

    # Another tab gives the approval the page does not know of yet; this tab's stale form then sends
    # an option and a rationale, and is refused for the objection a third person raised meanwhile.
    from decisions.services import review_create

    review_create(decision=decision, actor=owner, verdict="approve", comment="")
    page.reload()
    review_create(decision=decision, actor=Decision.objects.get(pk=decision.pk).reviewers.exclude(pk=owner.pk).get(),
                  verdict="object", comment="Not yet")
    run_transition(page, "decide", "PostgreSQL: the team knows it.", option_label="PostgreSQL")

    refusal = page.locator("#state-panel #refusal-decide")
    expect(refusal).to_be_visible()
    expect(page.locator("#state-panel details.transition-decide")).to_have_attribute("open", "")
    expect(page.locator("#state-panel #rationale-decide")).to_have_value("PostgreSQL: the team knows it.")
    expect(page.locator("#state-panel details.transition-decide form").get_by_label("PostgreSQL")).to_be_checked()
    assert Decision.objects.get(pk=decision.pk).state == "active"
    assert AuditEntry.objects.filter(event_name="decision.decide", success=False, actor=owner).count() == 1
    watched.shot("decide-refused-keeps-input")
    watched.assert_clean()
