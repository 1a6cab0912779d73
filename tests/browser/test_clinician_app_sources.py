"""The source of ingested items on the clinician chart (issue 22), in Debian's Chromium against
the real processes: a real `bedside serve` fed by two HL7 v2 sources over MLLP on loopback (a
hospital laboratory and a community clinic, both about a patient on a nurse's care team), the
nurse's device enrolled and synced, then `bedside device app` on it. The chart's allergy lines
show both sources' penicillin allergy, each with its reaction and "From <source>"; the item's
detail says where it came from; the diagnosis carries the laboratory's name. The names travel
in the resources (docs/upstream.md "Source names"), not in any device setting. Screens are
axe-checked and photographed at 390 and 1280 px (docs/img/clinician-app-sources-*.png).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import _two_sources as two
from tests.browser._app import AppProcess, every_width
from tests.browser.test_portal_sources import _send
from tests.conftest import free_port
from tests.integration._hl7_messages import MRN_SYSTEM
from tests.integration._smart import smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration.test_device_cli import PIN


def test_the_chart_names_the_source_of_ingested_items(
    browser: Browser, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lab, clinic = free_port(), free_port()
    (tmp_path / "feeds").mkdir()
    config = two.write_config(tmp_path / "feeds", lab, clinic)
    with smart_server(tmp_path_factory, "sqlite", "--upstream", str(config)) as smart:
        practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
        username = f"nurse-{int(time.time() * 1000) % 10**8}"
        smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
        pid = smart.create(
            {
                "resourceType": "Patient",
                "identifier": [{"system": MRN_SYSTEM, "value": "12345"}],
                "name": [{"use": "official", "family": "Example", "given": ["Alex"]}],
                "birthDate": "1970-02-03",
            }
        )
        smart.create(
            {
                "resourceType": "CareTeam",
                "status": "active",
                "subject": {"reference": f"Patient/{pid}"},
                "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}],
            }
        )
        _send(lab, two.LAB_ADMIT, two.LAB_RESULT)
        _send(clinic, two.CLINIC_ADMIT, two.CLINIC_RESULT)
        home = tmp_path / "home"
        phone = enroll_phone(smart, username, home, pid)
        phone.sync_until(lambda: len(phone.node.chart(pid, "AllergyIntolerance")) == 2)
        phone.node.lock()  # the app process opens the home next
        OPENED.remove(phone.node)

        app = AppProcess.start(home)
        page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(app.url)
            page.get_by_label("PIN").fill(PIN)
            page.get_by_role("button", name="Unlock").click()
            page.wait_for_url(f"{app.base}/patients")
            page.goto(f"{app.base}/patients/{pid}")
            expect(page.locator(".banner h1")).to_have_text("Alex Example")
            allergies = page.locator("#s-allergies ~ ul li")
            expect(allergies).to_have_count(2)  # both kept, each with its own source
            lab_line = allergies.filter(has_text="Rash")
            clinic_line = allergies.filter(has_text="Hives")
            expect(lab_line.locator(".source")).to_have_text(f"From {two.LAB_NAME}")
            expect(clinic_line.locator(".source")).to_have_text(f"From {two.CLINIC_NAME}")
            problems = page.locator("#s-problems ~ ul li", has_text="hypertension")
            expect(problems.locator(".source")).to_have_text(f"From {two.LAB_NAME}")
            assert "urn:oid" not in page.inner_text("main")  # never a raw system URI
            every_width(page, "sources-chart")

            clinic_line.locator("a").click()
            source = page.locator(".detail-list div", has_text="Source").locator("dd")
            expect(source).to_contain_text(f"From {two.CLINIC_NAME}, received by the server ")
            every_width(page, "sources-item")
        finally:
            page.context.close()
            app.stop()
