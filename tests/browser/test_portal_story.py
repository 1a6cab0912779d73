"""The patient portal as a patient meets it (issue 18 "Done when"): Debian's Chromium against a
real ``bedside serve`` on loopback (SQLite), signed in through Bedside's own authorization
server. Every screen is axe-checked and photographed at 390 and 1280 px into docs/img/.

The story: sign in; see a result with its range and trend; share results with a named
practitioner for 30 days (who can then read them through the FHIR API, and gets 404 after
"Revoke"), and one result alone with them (exactly that result, 404 after "Revoke"); make a
SMART Health Link with a passcode, open it in the viewer as a recipient (a
wrong passcode is counted, the right one shows the data), revoke it (the manifest refuses);
see these accesses in "Who has seen my record" with the recipient named; connect a SMART app,
then disconnect it (its refresh fails).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser._app import IMG, WIDTHS, axe_check
from tests.integration._smart import PASSWORD, Smart, smart_server

LAB = "http://terminology.hl7.org/CodeSystem/observation-category"
OBSERVATIONS = (("2026-01-10", 128), ("2026-05-02", 141), ("2026-11-20", 172))


@dataclass
class World:
    smart: Smart
    carla: str
    specialist: str  # Practitioner id of doctor user "okafor"
    latest: str  # Carla's newest haemoglobin Observation
    earlier: str  # an older haemoglobin of hers


def _haemoglobin(patient: str, day: str, value: float) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": LAB, "code": "laboratory"}]}],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "718-7"}],
            "text": "Haemoglobin",
        },
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": f"{day}T09:00:00Z",
        "valueQuantity": {"value": value, "unit": "g/L"},
        "referenceRange": [
            {"low": {"value": 120, "unit": "g/L"}, "high": {"value": 160, "unit": "g/L"}}
        ],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with smart_server(tmp_path_factory, "sqlite") as smart:
        carla = smart.create_patient("Romero", "Carla")
        ids = [smart.create(_haemoglobin(carla, d, v)) for d, v in OBSERVATIONS]
        smart.create(
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {"text": "Ferrous sulfate 200 mg tablets"},
                "subject": {"reference": f"Patient/{carla}"},
                "authoredOn": "2026-11-21",
                "dosageInstruction": [{"text": "One tablet twice a day with food"}],
            }
        )
        smart.create(
            {
                "resourceType": "MedicationStatement",
                "status": "completed",
                "medicationCodeableConcept": {"text": "Amoxicillin 500 mg capsules"},
                "subject": {"reference": f"Patient/{carla}"},
                "dateAsserted": "2026-06-01",
                "dosage": [{"text": "One capsule three times a day for 7 days"}],
            }
        )
        soon = (datetime.now(UTC) + timedelta(days=12)).strftime("%Y-%m-%dT10:30:00Z")
        smart.create(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "description": "Blood clinic review",
                "start": soon,
                "end": soon.replace("10:30", "11:00"),
                "participant": [{"actor": {"reference": f"Patient/{carla}"}, "status": "accepted"}],
            }
        )
        specialist = smart.create(
            {
                "resourceType": "Practitioner",
                "name": [{"prefix": ["Dr"], "given": ["Ada"], "family": "Okafor"}],
            }
        )
        smart.add_user("carla", "patient", f"Patient/{carla}")
        smart.add_user("okafor", "doctor", f"Practitioner/{specialist}")
        smart.add_app("diary-app")
        yield World(smart, carla, specialist, ids[-1], ids[0])


def shoot(page: Page, name: str) -> None:
    """axe-core and a screenshot (docs/img/portal-<name>-<width>.png) at each width."""
    IMG.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        axe_check(page, f"portal {name} at {width} px")
        page.screenshot(path=str(IMG / f"portal-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def small_targets(page: Page) -> list[str]:
    """Visible buttons, links and form controls smaller than 44 x 44 px (WCAG 2.5.5)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('main a, main button, main input, main select,'
                  + ' main summary, header a, header button')]
             .filter(e => e.offsetParent !== null && e.type !== 'hidden')
             .filter(e => { const r = e.getBoundingClientRect();
                            const label = e.closest('label');
                            const box = label ? label.getBoundingClientRect() : r;
                            return box.height < 44 || (box.width < 44 && r.width < 44); })
             .map(e => e.outerHTML.slice(0, 80))"""
    )
    return found


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/portal/")
    expect(page.get_by_label("Username")).to_be_visible()
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Carla")).to_be_visible()


def specialist_token(smart: Smart) -> str:
    return str(smart.login("diary-app", "okafor", "openid fhirUser user/*.rs")["access_token"])


def test_the_patient_story(world: World, browser: Browser, tmp_path: Path) -> None:
    smart = world.smart
    base = smart.root
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.set_default_timeout(20_000)

    # Sign in; the home screen has the five actions.
    sign_in(page, base)
    for action in (
        "View results",
        "My medicines",
        "Appointments",
        "Share my record",
        "Who has seen my record",
    ):
        expect(page.get_by_role("link", name=action)).to_be_visible()
    assert small_targets(page) == []
    shoot(page, "home")

    # Keyboard only: Tab reaches "View results" (after the header's controls), Enter opens it.
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "View results":
            break
    else:
        raise AssertionError("Tab never reached View results")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My results")).to_be_visible()

    # A result with its range, reading and trend.
    card = page.locator("section.card", has_text="Haemoglobin")
    expect(card.locator(".value")).to_have_text("172 g/L")
    expect(card).to_contain_text("Above range")
    expect(card).to_contain_text("Range: 120 to 160 g/L")
    card.get_by_text("Details and earlier results (3)").click()
    expect(
        card.get_by_role("img", name=re.compile("Trend of Haemoglobin: 3 results"))
    ).to_be_visible()
    assert small_targets(page) == []
    shoot(page, "results")

    page.get_by_role("link", name="Back to my record").click()
    page.get_by_role("link", name="My medicines").click()
    expect(page.get_by_text("One tablet twice a day with food")).to_be_visible()
    past = page.locator("h2", has_text="Past medicines").locator("xpath=following-sibling::ul[1]")
    expect(past).to_contain_text("Amoxicillin 500 mg capsules")
    expect(past).to_contain_text("One capsule three times a day for 7 days")
    shoot(page, "medicines")
    page.goto(f"{base}/portal/appointments")
    expect(page.get_by_text("Blood clinic review")).to_be_visible()
    shoot(page, "appointments")

    # Share results with the practitioner for 30 days (the default), after a preview.
    token = specialist_token(smart)
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404
    page.goto(f"{base}/portal/share")
    page.get_by_label("Dr Ada Okafor").check()
    page.get_by_label("Your test results and measurements").check()
    expect(page.get_by_label("Number of days")).to_have_value("30")
    assert small_targets(page) == []
    shoot(page, "share")
    page.get_by_role("button", name="Preview what will be shared").click()
    until = (datetime.now(UTC) + timedelta(days=30)).date()
    expect(page.get_by_text("Who: Dr Ada Okafor")).to_be_visible()
    expect(page.get_by_text(f"Until: {until.day} {until:%B %Y}")).to_be_visible()
    expect(page.get_by_text("Your test results and measurements (3 now)")).to_be_visible()
    shoot(page, "share-preview")
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404  # not yet
    page.get_by_role("button", name="Confirm and share").click()
    expect(page.get_by_text("Dr Ada Okafor can now see what you chose")).to_be_visible()
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 200

    # Revoke it: the practitioner's next request gets 404, as for any invisible resource.
    page.goto(f"{base}/portal/shares")
    shoot(page, "shares")
    page.get_by_role("button", name=re.compile("^Revoke: Dr Ada Okafor")).click()
    expect(page.get_by_role("heading", name="Share revoked")).to_be_visible()
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404

    # A SMART Health Link with a passcode, shown as a QR code and a link.
    page.goto(f"{base}/portal/share")
    page.get_by_label("Anyone I give a link to").check()
    page.get_by_label("Your test results and measurements").check()
    page.get_by_label("A name for the link (optional)").fill("Blood tests for the clinic")
    page.get_by_role("button", name="Preview what will be shared").click()
    page.get_by_label("Passcode (optional, at least 4 characters)").fill("2468")
    shoot(page, "link-preview")
    page.get_by_role("button", name="Confirm and share").click()
    expect(page.get_by_role("img", name="QR code of the link")).to_be_visible()
    viewer_url = page.locator("#link").inner_text().strip()
    assert viewer_url.startswith(f"{base}/shl/view#shlink:/")
    shoot(page, "link-made")

    # The recipient opens it in the viewer: a wrong passcode is counted, the right one opens.
    viewer = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    viewer.goto(viewer_url)
    expect(viewer.get_by_text("Shared: Blood tests for the clinic")).to_be_visible()
    viewer.get_by_label("Your name and organisation").fill("Dr Lee, Walk-in clinic")
    viewer.get_by_label("Passcode").fill("1111")
    viewer.get_by_role("button", name="Open the record").click()
    expect(viewer.get_by_role("alert")).to_have_text("That passcode is not right. 4 tries left.")
    viewer.get_by_label("Passcode").fill("2468")
    viewer.get_by_role("button", name="Open the record").click()
    expect(viewer.get_by_role("heading", name="Shared record")).to_be_visible()
    expect(viewer.get_by_text("Haemoglobin 172 g/L (20 November 2026)")).to_be_visible()
    axe_check(viewer, "link viewer")
    viewer.screenshot(path=str(IMG / "portal-link-viewer-390.png"), full_page=True)
    manifest = viewer_url.split("#", 1)[0]  # not the manifest: read it from the payload below

    # Revoke the link: the manifest now refuses.
    page.goto(f"{base}/portal/shares")
    expect(page.get_by_text("passcode: 4 tries left")).to_be_visible()
    page.get_by_role("button", name="Revoke the link Blood tests for the clinic").click()
    expect(page.get_by_role("heading", name="Link revoked")).to_be_visible()
    from bedside.healthlinks.payload import parse

    manifest = parse(viewer_url).url
    r = httpx.post(manifest, json={"recipient": "Dr Lee", "passcode": "2468"})
    assert r.status_code == 404
    viewer.reload()
    viewer.get_by_label("Your name and organisation").fill("Dr Lee, Walk-in clinic")
    viewer.get_by_label("Passcode").fill("2468")
    viewer.get_by_role("button", name="Open the record").click()
    expect(viewer.get_by_role("alert")).to_contain_text("This link has ended")

    # One result alone, by a link without a passcode, from the results page.
    page.goto(f"{base}/portal/results")
    card = page.locator("section.card", has_text="Haemoglobin")
    card.get_by_text("Details and earlier results (3)").click()
    card.get_by_role("link", name="Share this result").click()
    expect(
        page.get_by_text("This result only: Haemoglobin 172 g/L on 20 November 2026")
    ).to_be_visible()
    page.get_by_label("Anyone I give a link to").check()
    page.get_by_role("button", name="Preview what will be shared").click()
    page.get_by_role("button", name="Confirm and share").click()
    one = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    one.goto(page.locator("#link").inner_text().strip())
    expect(one.get_by_label("Passcode")).to_be_hidden()
    one.get_by_label("Your name and organisation").fill("A pharmacist")
    one.get_by_role("button", name="Open the record").click()
    expect(one.locator("#record-body li")).to_have_count(2)  # the person and the one result
    expect(one.get_by_text("Haemoglobin 172 g/L (20 November 2026)")).to_be_visible()

    # One result alone with the practitioner: exactly that result, then 404 after "Revoke".
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404
    page.goto(f"{base}/portal/results")
    card = page.locator("section.card", has_text="Haemoglobin")
    card.get_by_text("Details and earlier results (3)").click()
    card.get_by_role("link", name="Share this result").click()
    page.get_by_label("Dr Ada Okafor").check()
    assert small_targets(page) == []
    shoot(page, "share-result")
    page.get_by_role("button", name="Preview what will be shared").click()
    expect(page.get_by_text("Who: Dr Ada Okafor")).to_be_visible()
    words = "This result only: Haemoglobin 172 g/L on 20 November 2026"
    expect(page.get_by_text(words, exact=True)).to_be_visible()  # as written, not lower-cased
    expect(page.get_by_text("Only this result is shared")).to_be_visible()
    shoot(page, "share-result-preview")
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404  # not yet
    page.get_by_role("button", name="Confirm and share").click()
    expect(page.get_by_text("Dr Ada Okafor can now see this result")).to_be_visible()
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 200
    assert smart.get(f"/Observation/{world.earlier}", token).status_code == 404
    found = smart.get("/Observation", token, patient=world.carla).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [world.latest]
    page.goto(f"{base}/portal/shares")
    mine = "Dr Ada Okafor may see only your result Haemoglobin 172 g/L on 20 November 2026"
    expect(page.get_by_text(mine)).to_be_visible()
    shoot(page, "shares-result")
    page.get_by_role("button", name=f"Revoke: {mine}").click()
    expect(page.get_by_role("heading", name="Share revoked")).to_be_visible()
    assert smart.get(f"/Observation/{world.latest}", token).status_code == 404

    # An emergency: another clinician opens the record with break-glass and a typed reason.
    glass = smart.login("diary-app", "okafor", "openid fhirUser user/*.rs")["access_token"]
    reason = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "Found unconscious in A&E"}],
    }
    with smart.fhir_client(glass) as c:
        r = c.post(f"/Patient/{world.carla}/$break-glass", json=reason)
        assert r.status_code == 200, r.text
        assert c.get(f"/Observation/{world.latest}").status_code == 200

    # Who has seen my record: the practitioner's reads and the link's recipients, named,
    # newest first, paged ("Older").
    page.goto(f"{base}/portal/seen")
    flagged = page.locator("li.glass").first
    expect(flagged).to_contain_text("Emergency access")
    expect(flagged).to_contain_text("“Found unconscious in A&E”")
    assert small_targets(page) == []
    shoot(page, "seen")
    seen = page.locator("main").inner_text()
    while page.get_by_role("link", name="Older").count():
        page.get_by_role("link", name="Older").click()
        seen += page.locator("main").inner_text()
    assert "Dr Ada Okafor, doctor" in seen
    assert "Under a share you made" in seen
    assert "Dr Lee, Walk-in clinic (named themselves when opening your link)" in seen
    assert "A pharmacist (named themselves when opening your link)" in seen
    assert "Refused: wrong passcode" in seen
    assert "From: Your shared link" in seen

    # Connect a SMART app, then disconnect it: its refresh fails.
    app = smart.login(
        "diary-app", "carla", "launch/patient openid fhirUser offline_access patient/*.rs"
    )
    page.goto(f"{base}/portal/apps")
    expect(page.get_by_text("diary-app")).to_be_visible()
    shoot(page, "apps")
    page.get_by_role("button", name="Disconnect diary-app").click()
    expect(page.get_by_text("diary-app can no longer read your record.")).to_be_visible()
    assert smart.refresh(app["refresh_token"], "diary-app").status_code == 400
    assert smart.get(f"/Patient/{world.carla}", app["access_token"]).status_code == 401

    # Sign out: the session's grant is revoked; the portal asks to sign in again.
    page.goto(f"{base}/portal/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    page.goto(f"{base}/portal/results")
    expect(page.get_by_label("Username")).to_be_visible()
