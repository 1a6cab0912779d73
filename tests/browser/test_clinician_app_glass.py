"""Break-glass offline in Debian's Chromium against the real processes (issue 19).

A nurse's device is enrolled against a real `bedside serve`; `bedside device app` runs on it;
**the server is killed**. At 390 px she asks for a patient who is not on her list: refused in
plain words, with what break-glass means and what the device holds (nothing). A wrong PIN is
refused and counted; with the PIN and a reason the chart opens, empty and saying so. The server
comes back, "Sync now" sends the break-glass first, and the server's review queue holds it with
her reason. Each screen is axe-checked and photographed (docs/img/app-breakglass-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bedside.policy.breakglass import review_queue
from bedside.store import open_store
from tests.browser._app import AppProcess
from tests.browser._glass import (
    OPEN_BUTTON,
    PIN_LABEL,
    REASON_LABEL,
    break_glass,
    glass_widths,
    refusal,
)
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, restart
from tests.integration._sync_world import new_ward
from tests.integration.test_device_cli import PIN

REASON = "Found collapsed in the day room; her own nurse is on break"


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def test_refused_then_break_glass_with_pin_and_reason_then_reviewed(
    browser: Browser, smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    outside = smart.create_patient("Outside")
    home = tmp_path / "home"
    phone = enroll_phone(smart, users[0][0], home, ward.patient)
    device_id = phone.device_id
    phone.node.lock()  # the app process opens the home next
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
        smart.server.process.kill()
        smart.server.process.wait(timeout=30)
        expect(page.locator('#strip [data-field="online"]')).to_have_text("Offline", timeout=45_000)

        # asked by a name the device does not hold: said plainly, nothing hinted
        page.get_by_role("link", name="A patient who is not on your list?").click()
        glass_widths(page, "breakglass-find")
        page.get_by_label("Patient's Bedside id, or their full name").fill("Test Outside")
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#find-error")).to_contain_text("No patient with that id or full name")

        refusal(page, base, outside)
        expect(page.locator("#held")).to_contain_text("holds no records for this patient")
        expect(page.locator(".glass-terms")).to_contain_text("It lasts 30 minutes")
        glass_widths(page, "breakglass-refused")

        page.get_by_label(REASON_LABEL).fill(REASON)
        page.get_by_label(PIN_LABEL).fill("000000" if PIN != "000000" else "111111")
        page.get_by_role("button", name=OPEN_BUTTON).click()
        expect(page.locator("#glass-error")).to_contain_text("That PIN is not right")
        expect(page.get_by_label(REASON_LABEL)).to_have_value(REASON)  # nothing typed is lost
        glass_widths(page, "breakglass-wrong-pin")

        break_glass(page, base, outside, PIN, REASON)
        expect(page.locator("#glass-note")).to_contain_text("holds no records")
        glass_widths(page, "breakglass-open")

        restart(smart)
        page.goto(f"{base}/sync")
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).to_contain_text(
            "1 break-glass sent for review", timeout=60_000
        )
    finally:
        context.close()
        app.stop()
    store = open_store(smart.database)
    try:
        with store.records() as db:
            items = [i for i in review_queue(db) if i["offline_device"] == device_id]
    finally:
        store.close()
    assert len(items) == 1 and items[0]["reason"] == REASON
    assert items[0]["patient"] == f"Patient/{outside}" and items[0]["status"] == "open"


# --- graduated compliance: the posture banner and a blocked record ----------------------------

POLICY = Path(__file__).resolve().parents[2] / "src" / "bedside" / "policy" / "default.toml"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    """A server whose policy makes a fact the device cannot check read-only: the screen lock is
    never checked (bedside.device.posture), so every device is read-only under it."""
    text = POLICY.read_text("utf-8").replace('unknown = "none"', 'unknown = "read-only"')
    policy = tmp_path_factory.mktemp("strict") / "policy.toml"
    policy.write_text(text)
    with smart_server(tmp_path_factory, "sqlite", "--policy", str(policy)) as s:
        yield s


def test_the_posture_step_is_shown_and_blocks_recording(
    browser: Browser, strict: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(strict, "nurse")
    home = tmp_path / "home"
    phone = enroll_phone(strict, users[0][0], home, ward.patient)
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
        banner = page.locator("#posture")
        expect(banner).to_contain_text("the screen lock could not be checked")
        expect(banner).to_contain_text("This device is read-only")
        glass_widths(page, "posture-read-only")
        page.goto(f"{base}/patients/{ward.patient}/observe")
        expect(page.locator("p.error[role=alert]")).to_contain_text("read-only until that is fixed")
        expect(page.get_by_role("button", name="Save observations")).to_be_disabled()
        glass_widths(page, "posture-blocked")
    finally:
        context.close()
        app.stop()
