"""The Ctrl-K palette in a real browser (Playwright driving Debian's /usr/bin/chromium against
live_server, with the launch flags, page watcher and login of commandcentral/tests/test_browser.py).
Every wait is on a condition, never a fixed time."""

import re

import pytest

from accounts.tests.factories import UserFactory
from decisions.tests.factories import DecisionFactory
from projects.tests.factories import ProjectFactory

from commandcentral.tests.test_browser import (  # noqa: F401 (fixtures)
    CHROMIUM, base_url, browser, log_in, open_page, pytestmark, sync_api,
)

expect = sync_api.expect


@pytest.mark.django_db(transaction=True)
def test_control_k_finds_a_decision_and_enter_opens_it(open_page, base_url):
    owner = UserFactory(email="palette@example.com", name="Pat Palette")
    project = ProjectFactory(owner=owner, name="Palette project")
    decision = DecisionFactory(project=project, title="Feeding schedule",
                               context="The capybara enclosure needs a new feeding plan.")
    DecisionFactory(project=project, title="Unrelated", context="Nothing about animals.")
    watched = open_page()
    page = watched.page
    log_in(watched, base_url, owner.email)

    dialog = page.locator("dialog.palette-dialog")
    combobox = page.locator("#palette-input")
    expect(dialog).not_to_be_visible()
    expect(page.locator("[data-palette-shortcut]")).to_have_text("Ctrl K")  # a Linux browser
    page.locator("h1").first.click()
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    expect(combobox).to_be_focused()

    page.keyboard.type("capybara")
    options = page.get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Feeding schedule")
    expect(options.first).to_contain_text("capybara enclosure")
    expect(combobox).to_have_attribute("aria-expanded", "true")
    expect(options.first).to_have_attribute("aria-selected", "false")  # nothing chosen before the arrows

    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    watched.shot("palette-results")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base_url}{decision.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("Feeding schedule")

    # Esc closes it and gives the focus back to where it was; the header's button opens it too.
    page.wait_for_load_state("load")
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    opener = page.locator("[data-palette-open]")
    opener.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    expect(opener).to_be_focused()

    # Enter with nothing chosen lists every result on the /search/ page; dark mode follows the system.
    page.keyboard.press("Control+k")
    page.keyboard.type("plan")
    expect(page.get_by_role("option").first).to_be_visible()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q=plan$"))
    expect(page.locator(".search-result")).to_have_count(1)
    page.emulate_media(color_scheme="dark")
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('dialog.palette-dialog')).backgroundColor") == "rgb(23, 29, 39)"
    watched.shot("palette-dark")
    watched.assert_no_csp_violation()
    # Other features' scripts on these pages are theirs to check (commandcentral/tests/test_browser.py).
    mine = [error for error in watched.errors if "search" in error or "palette" in error]
    assert mine == [], mine
