"""The console's Upstream feeds page in Debian's Chromium (issue 22): after an HL7 v2 story over
MLLP and one malformed result, a governance officer opens it from the menu and sees the feed,
one dead letter waiting with its age and reason, and when the feed last delivered. Axe-checked,
photographed at 390 and 1280 px (docs/img/console-upstream-*.png), keyboard reachable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_console_story import shoot, sign_in
from tests.browser.test_portal_sources import _send
from tests.browser.test_portal_story import small_targets
from tests.conftest import free_port
from tests.integration import _hl7_messages as hl7
from tests.integration._smart import Smart, smart_server


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    folder = tmp_path_factory.mktemp("feed")
    port = free_port()
    config = folder / "upstream.toml"
    config.write_text(hl7.upstream_toml(port, hl7.concept_map(folder / "lab-to-loinc.json")))
    with smart_server(tmp_path_factory, "sqlite", "--upstream", str(config)) as smart:
        _send(port, *hl7.STORY)
        feed = hl7.MllpClient(port)
        try:
            assert feed.send(hl7.BAD_RESULT)["code"] == "AE"
        finally:
            feed.close()
        yield smart


def test_a_governance_officer_sees_the_dead_letter_waiting(fed: Smart, browser: Browser) -> None:
    reviewer = f"governance-{secrets.token_hex(3)}"
    fed.add_user(reviewer, "governance")
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    sign_in(page, fed, reviewer)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    link = page.get_by_role("link", name="Upstream feeds")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Upstream feeds", exact=True)).to_be_visible()
    row = page.locator("tbody tr", has_text="adt").first
    expect(row).to_contain_text("HL7 v2 feed")
    expect(row.locator("td").nth(2)).to_have_text("1")
    expect(row.locator("td").nth(3)).to_have_text("0 min")
    expect(row).to_contain_text("not pulled (messages arrive)")
    letters = page.locator("section", has_text="Dead letters waiting from adt")
    expect(letters).to_contain_text("is not a number")
    expect(letters).not_to_contain_text("MSG-BAD")  # never the message's control id
    assert small_targets(page) == []
    shoot(page, "upstream")
