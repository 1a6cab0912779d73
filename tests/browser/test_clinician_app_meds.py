"""Medicines and escalation in Debian's Chromium against the real processes (issue 19).

A nurse's device enrolled against a real `bedside serve`, `bedside device app` on it, a 390 px
phone: she gives a dose of an order (the five rights shown before saving), gets the duplicate
warning when she records a second dose inside the dosing interval (the first still waits in the
outbox), ticks that she checked and saves; marks one entered in error with a reason; records a
NEWS2 in the medium band and escalates it from the chart's prompt. Each screen is axe-checked
and photographed into docs/img/ (clinician-app-meds-*.png, clinician-app-escalate-*.png).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bedside.device import Node
from tests.browser._app import AppProcess, axe_check, every_width
from tests.browser._meds import give_medication, open_medicines
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration.test_device_cli import PIN

NAME = "Aoife Brennan"
DRUG = "Clarithromycin 500 mg tablets"
MEDIUM = {  # RCP 2017: 2 + 1 + 0 + 1 + 1 + 0 + 1 = NEWS2 6, medium
    "Respiration rate": "22",
    "SpO2": "95",
    "Systolic blood pressure": "105",
    "Pulse": "95",
    "Temperature": "38.5",
}


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def ward(smart: Smart) -> tuple[str, str]:
    """A nurse on the care team of one patient on Ward 7 with two active orders."""
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
    username = f"nurse-{int(time.time() * 1000) % 10**8}"
    smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
    pid = smart.create(
        {
            "resourceType": "Patient",
            "identifier": [{"use": "usual", "type": {"text": "MRN"}, "value": "MRN7001"}],
            "name": [{"use": "official", "family": "Brennan", "given": ["Aoife"]}],
            "gender": "female",
            "birthDate": "1941-05-17",
        }
    )
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "name": "Ward 7 medical team",
            "subject": {"reference": f"Patient/{pid}"},
            "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}],
        }
    )
    smart.create(
        {
            "resourceType": "Encounter",
            "status": "in-progress",
            "class": {"code": "IMP", "display": "inpatient encounter"},
            "subject": {"reference": f"Patient/{pid}"},
            "location": [
                {"location": {"display": "Ward 7"}, "status": "active"},
                {"location": {"display": "Bed 1"}, "status": "active"},
            ],
        }
    )
    for drug, dose, unit, per_day, text in (
        (DRUG, 500, "mg", 2, "500 mg twice a day"),
        ("Paracetamol 500 mg tablets", 1, "g", 4, "1 g four times a day"),
    ):
        smart.create(
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {"text": drug},
                "dosageInstruction": [
                    {
                        "text": text,
                        "timing": {
                            "repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}
                        },
                        "route": {"text": "Oral"},
                        "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}],
                    }
                ],
                "subject": {"reference": f"Patient/{pid}"},
            }
        )
    return username, pid


def test_giving_a_medicine_a_duplicate_warning_a_correction_and_an_escalation(
    browser: Browser, smart: Smart, tmp_path: Path
) -> None:
    username, pid = ward(smart)
    home = tmp_path / "home"
    phone = enroll_phone(smart, username, home, pid)
    phone.sync_until(lambda: len(phone.node.chart(pid, "MedicationRequest")) == 2)
    phone.node.lock()
    OPENED.remove(phone.node)
    app = AppProcess.start(home)
    base = app.base
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url)
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url(f"{base}/patients")

        open_medicines(page, base, NAME)
        expect(page.locator(".order", has_text=DRUG)).to_contain_text("every 12 hours")
        every_width(page, "meds-list")
        page.get_by_role("link", name=f"Record a dose of {DRUG}").click()
        expect(page.get_by_label("Dose given")).to_have_value("500 mg")  # from the order
        expect(page.get_by_label("Route", exact=True)).to_have_value("Oral")
        every_width(page, "meds-give")

        give_medication(page, base, NAME, DRUG, stop_at_confirm=True)
        rights = page.locator("#five-rights")
        for words in (f"Right patient{NAME}, born 17 May 1941, MRN MRN7001", f"Right drug{DRUG}"):
            expect(rights).to_contain_text(words)
        expect(rights).to_contain_text("Right dose500 mg")
        expect(rights).to_contain_text("Right routeOral")
        expect(page.locator("#duplicate-warning")).to_have_count(0)
        every_width(page, "meds-confirm")
        page.locator("#save").click()
        expect(page.locator(".flash")).to_contain_text(f"Saved on device: {DRUG}, given at")
        first = page.locator(".given li", has_text=DRUG).first
        expect(first.locator(".state")).to_have_text("saved on device")

        # a second dose of the same order within 12 hours: warned, with the first still unsent
        give_medication(page, base, NAME, DRUG, stop_at_confirm=True)
        warning = page.locator("#duplicate-warning")
        expect(warning).to_contain_text("Possible duplicate")
        expect(warning).to_contain_text("recorded on this device and not yet on the server")
        every_width(page, "meds-duplicate")
        page.locator("#save").click()  # not ticked: asked again, nothing saved
        expect(page.locator("#duplicate-warning")).to_contain_text("Possible duplicate")
        assert page.locator(".flash").count() == 0
        page.get_by_label("I have checked: this dose is not a duplicate").check()
        page.locator("#save").click()
        expect(page.locator(".flash")).to_contain_text(f"Saved on device: {DRUG}")
        expect(page.locator(".given li", has_text=DRUG)).to_have_count(2)

        # one of them was a mistake: marked entered in error, never edited or deleted
        page.get_by_role("link", name="as entered in error").first.click()
        page.get_by_label("Why it is wrong").fill("Recorded twice by mistake")
        every_width(page, "meds-error")
        page.get_by_role("button", name="Mark as entered in error").click()
        expect(page.locator(".flash")).to_contain_text("Marked as entered in error")
        open_medicines(page, base, NAME)
        expect(page.locator(".given .outcome.wrong")).to_have_text("Entered in error")
        expect(page.locator(".given li", has_text="Recorded twice by mistake")).to_have_count(1)
        every_width(page, "meds-list-corrected")

        # a medium NEWS2: the chart leads with escalation
        page.goto(f"{base}/patients/{pid}/observe")
        for label, value in MEDIUM.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_label("Air or oxygen", exact=True).select_option("air")
        page.get_by_label("Consciousness", exact=True).select_option("alert")
        expect(page.locator("#news2-headline")).to_have_text("NEWS2 6")
        page.get_by_role("button", name="Save observations").click()
        expect(page.locator("#escalate-now")).to_contain_text("NEWS2 6")
        every_width(page, "escalate-prompt")
        page.locator("#escalate-now").get_by_role("link", name="Escalate a concern").click()
        expect(page.locator("#escalate-to")).to_have_text("Ward 7 medical team")
        expect(page.get_by_label("Send the NEWS2 6 with it")).to_be_checked()
        page.get_by_label("What worries you").fill("Breathing faster and a new fever.")
        every_width(page, "escalate")
        page.get_by_role("button", name="Send concern").click()
        expect(page.locator(".flash").last).to_contain_text("Concern saved on device")
        expect(page.locator("#escalate-now")).to_have_count(0)
        axe_check(page, "chart after escalating")
    finally:
        context.close()
        app.stop()

    node = Node(home)
    node.unlock(PIN)
    try:
        events = [(e.type, e.action) for e in node.outbox()]
        doses = [i.resource for i in node.chart(pid, "MedicationAdministration")]
    finally:
        node.lock()
    assert events.count(("MedicationAdministration", "create")) == 2
    assert events.count(("MedicationAdministration", "correct")) == 1
    assert events.count(("Communication", "create")) == 1
    assert sorted(d["status"] for d in doses) == ["completed", "entered-in-error"]
