"""Wound photo and home-visit consent in the clinician app (issue 19), in Debian's Chromium
against the real `bedside device app` and a real `bedside serve`.

A doctor's device is enrolled for a patient whose care team she is on, and who also has a
community nursing team. At 390 px she adds a wound photo (a file that is not a photo first:
refused in plain words, nothing saved), sees its thumbnail with "Saved on this device", records
two consent decisions (share with the community team; share everything, sensitive parts
included, with everyone: a decision that would widen her own access), each "Saved on device"
and said to apply only after the server checks it. She syncs from the app: the photo reaches
the server once, with the hash the signed record states; the first consent is accepted, the
second refused with the server's sentence on the chart.

Every screen is checked by axe-core and photographed at 390 and 1280 px into docs/img/
(app-photo-*.png, app-consent-*.png).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser._app import AppProcess
from tests.browser._photos import (
    attach_photo,
    every_width,
    open_patient,
    record_consent,
    write_png,
)
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration._sync_world import sql
from tests.integration.test_device_cli import PIN

NAME = "Dilys Pryce"
TEAM = "Community nursing team"


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def _patient(smart: Smart) -> tuple[str, str]:
    """A patient on a new doctor's care team, with a community team too; (patient, username)."""
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Doctor"}]})
    username = f"doctor-{practitioner[:8]}"
    smart.add_user(username, "doctor", f"Practitioner/{practitioner}")
    pid = smart.create(
        {
            "resourceType": "Patient",
            "identifier": [{"use": "usual", "type": {"text": "MRN"}, "value": "MRN8001"}],
            "name": [{"use": "official", "family": "Pryce", "given": ["Dilys"]}],
            "gender": "female",
            "birthDate": "1939-03-02",
        }
    )
    for name, members in (("Ward team", [practitioner]), (TEAM, [])):
        smart.create(
            {
                "resourceType": "CareTeam",
                "status": "active",
                "name": name,
                "subject": {"reference": f"Patient/{pid}"},
                "participant": [{"member": {"reference": f"Practitioner/{p}"}} for p in members],
            }
        )
    return pid, username


def test_a_wound_photo_and_two_consent_decisions_offline_then_synced(
    browser: Browser, smart: Smart, tmp_path: Path
) -> None:
    pid, username = _patient(smart)
    home = tmp_path / "home"
    phone = enroll_phone(smart, username, home, pid)
    phone.sync_until(lambda: any(i.type == "CareTeam" for i in phone.node.chart(pid)))
    phone.node.lock()
    OPENED.remove(phone.node)
    photo = write_png(tmp_path / "wound.png")
    not_photo = tmp_path / "notes.png"
    not_photo.write_text("this is not an image", "utf-8")
    app = AppProcess.start(home, extra=("--sync-every", "3600"))
    base = app.base
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url)
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url(f"{base}/patients")

        # the form, then a file that is not a photo: refused in plain words, nothing saved
        open_patient(page, base, NAME)
        page.get_by_role("link", name="Add a wound photo").click()
        file_input = page.get_by_label("Photo", exact=True)
        assert file_input.get_attribute("accept") == "image/*"
        assert file_input.get_attribute("capture") == "environment"
        every_width(page, "photo-form")
        file_input.set_input_files(str(not_photo))
        page.get_by_label("Description", exact=True).fill("Sacrum")
        page.get_by_role("button", name="Save photo on device").click()
        expect(page.locator(".error")).to_contain_text("not a photo Bedside can keep")
        expect(page.get_by_label("Description", exact=True)).to_have_value("Sacrum")
        every_width(page, "photo-refused")

        attach_photo(page, base, NAME, photo, "Left heel, pressure sore, day 3")
        thumb = page.locator(".thumb", has_text="Left heel")
        expect(thumb).to_contain_text("Saved on this device")
        image = thumb.locator("img")
        expect(image).to_have_attribute("alt", "Wound photo: Left heel, pressure sore, day 3")
        page.wait_for_function(
            "i => i.complete && i.naturalWidth === 64", arg=image.element_handle()
        )
        served = page.request.get(base + str(image.get_attribute("src")))
        assert served.status == 200 and served.body() == photo.read_bytes()
        assert served.headers["cache-control"] == "no-store"
        assert served.headers["content-disposition"] == "inline"
        every_width(page, "photo-chart")
        forged = {
            "patient": pid,
            "description": "Forged",
            "photo": {"name": "w.png", "mimeType": "image/png", "buffer": photo.read_bytes()},
        }
        for token in (None, "not-the-token"):  # a multipart post needs the CSRF token too
            form = forged if token is None else {**forged, "csrf": token}
            answer = page.request.post(f"{base}/patients/{pid}/photo", multipart=form)
            assert answer.status == 403 and "out of date" in answer.text()
        expect(page.locator(".thumb")).to_have_count(1)

        # consent: the form says when it applies; two decisions, both saved on device
        open_patient(page, base, NAME)
        page.get_by_role("link", name="Record a consent decision").click()
        expect(page.locator("#applies")).to_contain_text("applies on the server only after")
        every_width(page, "consent-form")
        record_consent(page, base, NAME, agrees=True, who=TEAM)
        record_consent(page, base, NAME, agrees=True, who=None, sensitive=True)
        decisions = page.locator("li.consent")
        expect(decisions).to_have_count(2)
        for n in range(2):
            expect(decisions.nth(n)).to_contain_text("only after the server has checked it")
        every_width(page, "consent-chart")

        # sync from the app: the photo goes once; one decision accepted, one refused
        page.goto(f"{base}/sync")
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).to_contain_text(
            "Sync finished: 3 sent, 2 confirmed, 1 rejected, 1 photo sent", timeout=60_000
        )
        open_patient(page, base, NAME)
        expect(page.locator(".thumb", has_text="Left heel")).to_contain_text("Sent: the server")
        expect(page.locator("li.consent", has_text=TEAM)).to_contain_text("Accepted by the server")
        refused = page.locator("li.consent", has_text="everyone caring for them")
        expect(refused).to_contain_text("Refused by the server: This Consent was not stored")
        expect(refused).to_contain_text("would share more of a patient's record with you")
        every_width(page, "consent-refused")
    finally:
        context.close()
        app.stop()

    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    rows = sql(smart, "SELECT COUNT(*) FROM attachments WHERE sha256 = ?", digest)
    assert rows[0][0] == 1
    assert sql(smart, "SELECT COUNT(*) FROM attachments WHERE patient = ?", pid)[0][0] == 1
