"""The source of each value on the patient portal (issue 22), in Debian's Chromium against a
real ``bedside serve`` (SQLite) fed by two HL7 v2 sources over MLLP on loopback: a hospital
laboratory, authoritative for results, and a community clinic. Both sent a glucose result of
the same sample with different values: the results page shows the laboratory's value with its
source line, and the clinic's under "Other value from Riverside community clinic", saying which
source is the main one. Both sent the patient's penicillin allergy with different reactions and
no source is authoritative for allergies: the newer is shown, the other under it, and the page
says no source is the main one. The condition carries the laboratory's source line. The
laboratory is also authoritative for the patient: the clinic's older address and phone were
held back, and "My details" shows them under the record's own. Every
screen is axe-checked and photographed at 390 and 1280 px into docs/img/portal-sources-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import _two_sources as two
from tests.browser.test_portal_story import shoot, small_targets
from tests.conftest import free_port
from tests.integration._hl7_messages import MRN_SYSTEM, MllpClient
from tests.integration._smart import PASSWORD, Smart, smart_server


def _send(port: int, *messages: bytes) -> None:
    feed = MllpClient(port)
    try:
        for message in messages:
            ack = feed.send(message)
            assert ack["code"] == "AA", ack
    finally:
        feed.close()


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    lab, clinic = free_port(), free_port()
    config = two.write_config(tmp_path_factory.mktemp("sources"), lab, clinic)
    with smart_server(tmp_path_factory, "sqlite", "--upstream", str(config)) as smart:
        _send(lab, two.LAB_ADMIT, two.LAB_RESULT)
        _send(clinic, two.CLINIC_ADMIT, two.CLINIC_RESULT)
        found = smart.get("/Patient", smart.operator_token, identifier=f"{MRN_SYSTEM}|12345")
        entries = found.json()["entry"]
        assert len(entries) == 1, "both feeds matched the one patient by identifier"
        smart.add_user("alex", "patient", f"Patient/{entries[0]['resource']['id']}")
        yield smart


def test_the_portal_shows_each_values_source_and_the_other_value(
    fed: Smart, browser: Browser
) -> None:
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{fed.root}/portal/")
    page.get_by_label("Username").fill("alex")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Alex")).to_be_visible()

    page.goto(f"{fed.root}/portal/results")
    card = page.locator("section.card", has_text="Glucose")
    expect(card).to_have_count(1)  # one result shown, not two side by side
    expect(card.locator(".value")).to_have_text("5.4 mmol/L")  # the authoritative source's
    expect(card.locator("p.source")).to_contain_text(f"From {two.LAB_NAME}, received ")
    other = card.locator("details.other")
    expect(other.locator("summary")).to_have_text(f"Other value from {two.CLINIC_NAME}")
    expect(other.get_by_text("5.9 mmol/L")).not_to_be_visible()  # closed until asked
    other.locator("summary").click()
    expect(other.get_by_text("5.9 mmol/L")).to_be_visible()
    expect(other).to_contain_text(f"From {two.CLINIC_NAME}, received ")
    expect(other).to_contain_text(f"{two.LAB_NAME} is the main source for results")
    assert "urn:oid" not in page.content()  # never a raw system URI as a label
    assert small_targets(page) == []
    shoot(page, "sources-results")

    # The same allergy from both: no source is the main one for allergies, so the newer (the
    # clinic's, sent last) is shown and the laboratory's reaction under it.
    page.goto(f"{fed.root}/portal/record/allergies")
    allergy = page.locator("li", has_text="Penicillin")
    expect(allergy).to_have_count(1)
    expect(allergy.locator(".source")).to_contain_text(f"From {two.CLINIC_NAME}, received ")
    expect(allergy).to_contain_text("Medicine, reaction: hives (moderate)")
    allergy.get_by_text(f"Other value from {two.LAB_NAME}").click()
    expect(allergy.locator("details.other")).to_contain_text("reaction: rash (severe)")
    expect(allergy.locator("details.other")).to_contain_text(
        "No source is set as the main one for allergies"
    )
    assert small_targets(page) == []
    shoot(page, "sources-allergies")
    page.goto(f"{fed.root}/portal/record/conditions")
    condition = page.locator("li", has_text="hypertension")
    expect(condition.locator(".source")).to_contain_text(f"From {two.LAB_NAME}")
    expect(page.locator("details.other")).to_have_count(0)  # one source: nothing to compare
    assert small_targets(page) == []
    shoot(page, "sources-conditions")

    # My details: the laboratory is authoritative for the patient, so the clinic's older
    # address and phone were held, not written: shown under the record's own values.
    page.goto(f"{fed.root}/portal/")
    page.get_by_role("link", name="My details").click()
    address = page.locator("li", has_text="Address")
    expect(address).to_contain_text("1 Main St, Town, AB1 2CD")
    expect(address.locator(".source")).to_contain_text(f"From {two.LAB_NAME}, received ")
    address.get_by_text(f"Other value from {two.CLINIC_NAME}").click()
    expect(address.locator("details.other")).to_contain_text("9 Old Rd, Town, AB9 9ZZ")
    expect(address.locator("details.other")).to_contain_text(
        f"{two.LAB_NAME} is the main source for your details"
    )
    phone = page.locator("li", has_text="Phone")
    expect(phone).to_contain_text("555-0100")
    expect(phone.locator("details.other summary")).to_have_count(1)
    name = page.locator("li", has_text="Name")
    expect(name.locator("details.other")).to_have_count(0)  # the same name: no other value
    assert small_targets(page) == []
    shoot(page, "sources-details")
