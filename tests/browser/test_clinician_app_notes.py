"""Notes and sign-off in Debian's Chromium against the real processes (issue 19).

A nurse's device and a doctor's are enrolled against a real `bedside serve`, both on the care
team of one patient. In `bedside device app` on the nurse's device, at 390 px: she writes a
progress note, it is kept as a draft as she types, she leaves for the patient list, the draft
is listed on the chart and comes back when she opens the note again; she finishes it and it
syncs; her chart never offers "Sign off". On the doctor's device, with **the server killed**,
the chart offers "Sign off: <title>"; the page says the sign-off will be checked when the device
syncs; she signs; the server comes back, she syncs, and the server's note is final, signed by
her. Every screen is checked by axe-core and photographed into docs/img/app-note-*.png and
docs/img/app-signoff-*.png.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bedside.device.notes import note_text
from tests.browser._app import AppProcess
from tests.browser._notes import draft_note, finish_note, open_chart, shots, sign_off
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, restart
from tests.integration.test_device_cli import PIN

POLICY = Path(__file__).resolve().parents[2] / "src" / "bedside" / "policy" / "default.toml"
NAME = "Dilys Marsh"


@dataclass
class Team:
    smart: Smart
    patient: str
    nurse: str  # username
    doctor: str
    doctor_practitioner: str


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    shutil.copy(POLICY, policy)
    with smart_server(tmp_path_factory, "sqlite", "--policy", str(policy)) as s:
        shutil.copy(policy, s.server.data_dir / "policy.toml")  # and after a restart
        yield s


@pytest.fixture
def team(smart: Smart) -> Iterator[Team]:
    stamp = int(time.time() * 1000) % 10**8
    users, practitioners = [], []
    for role in ("nurse", "doctor"):
        practitioner = smart.create(
            {"resourceType": "Practitioner", "name": [{"family": role.title()}]}
        )
        smart.add_user(f"{role}-{stamp}", role, f"Practitioner/{practitioner}")
        users.append(f"{role}-{stamp}")
        practitioners.append(practitioner)
    pid = smart.create(
        {
            "resourceType": "Patient",
            "name": [{"use": "official", "family": "Marsh", "given": ["Dilys"]}],
            "gender": "female",
            "birthDate": "1950-03-14",
        }
    )
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{pid}"},
            "participant": [{"member": {"reference": f"Practitioner/{p}"}} for p in practitioners],
        }
    )
    yield Team(smart, pid, users[0], users[1], practitioners[1])
    while OPENED:
        OPENED.pop().lock()


def start_app(team: Team, username: str, home: Path, *extra: str) -> AppProcess:
    phone = enroll_phone(team.smart, username, home, team.patient)
    phone.sync_until(lambda: any(p.id == team.patient for p in phone.node.patients()))
    phone.node.lock()  # the app process opens the home next
    OPENED.remove(phone.node)
    return AppProcess.start(home, extra=("--sync-every", "600", *extra))


def unlock(page: Page, app: AppProcess) -> None:
    page.goto(app.url)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url(f"{app.base}/patients")


def sync_now(page: Page, base: str) -> None:
    page.goto(f"{base}/sync")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-message")).to_contain_text("Sync finished", timeout=60_000)


def notes_of(smart: Smart, pid: str) -> list[dict]:
    found = smart.get("/DocumentReference", smart.operator_token, patient=pid).json()
    return [e["resource"] for e in found.get("entry", [])]


def test_a_nurse_writes_a_note_through_its_drafts_and_a_doctor_signs_it_off_offline(
    browser: Browser, team: Team, tmp_path: Path
) -> None:
    smart = team.smart
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    nurse = start_app(team, team.nurse, tmp_path / "nurse")
    try:
        unlock(page, nurse)
        draft_note(page, nurse.base, NAME, "Comfortable overnight, slept well.")
        shots(page, "note-draft")
        page.goto(f"{nurse.base}/patients")  # called away before finishing
        open_chart(page, nurse.base, NAME)
        drafts = page.locator("#note-drafts")
        expect(drafts).to_contain_text("Continue: Progress note")
        expect(drafts).to_contain_text("Comfortable overnight, slept well.")
        assert page.get_by_text("Sign off").count() == 0  # a nurse never sees the action
        shots(page, "note-chart")
        page.get_by_role("link", name="Write a note").click()
        expect(page.get_by_text("Your unfinished note was kept as a draft")).to_be_visible()
        box = page.get_by_label(f"Progress note for {NAME}")
        expect(box).to_have_value("Comfortable overnight, slept well.")
        shots(page, "note-restored")
        finish_note(page, nurse.base, NAME, title="Night review", more=" Plan: mobilise.")
        expect(page.locator("#s-notes ~ ul li", has_text="Night review")).to_contain_text(
            "saved on device"
        )
        expect(page.locator("#s-notes ~ ul li", has_text="Night review")).to_contain_text(
            "waiting for sign-off"
        )
        assert page.locator("#note-drafts").count() == 0
        shots(page, "note-finished")
        sync_now(page, nurse.base)
    finally:
        nurse.stop()
    (note,) = [n for n in notes_of(smart, team.patient) if n.get("description") == "Night review"]
    assert note["docStatus"] == "preliminary"
    assert note_text(note) == "Comfortable overnight, slept well. Plan: mobilise."

    doctor = start_app(team, team.doctor, tmp_path / "doctor")
    try:
        unlock(page, doctor)
        smart.server.process.kill()  # the doctor signs off offline
        smart.server.process.wait(timeout=30)
        expect(page.locator('#strip [data-field="online"]')).to_have_text("Offline", timeout=45_000)
        open_chart(page, doctor.base, NAME)
        expect(page.locator("#to-sign")).to_contain_text("Sign off: Night review")
        shots(page, "signoff-chart")
        page.get_by_role("link", name="Sign off: Night review").click()
        expect(page.locator("#checked-at-sync")).to_contain_text(
            "You are offline. This sign-off will be checked when the device syncs"
        )
        expect(page.locator("#note-text")).to_contain_text("Plan: mobilise.")
        shots(page, "signoff")
        sign_off(page, doctor.base, NAME, "Night review")
        assert page.locator("#to-sign").count() == 0
        expect(page.locator("#s-notes ~ ul li", has_text="Night review")).to_contain_text(
            "signed off"
        )
        shots(page, "signoff-done")
        restart(smart)
        sync_now(page, doctor.base)
    finally:
        context.close()
        doctor.stop()
    (signed,) = [n for n in notes_of(smart, team.patient) if n["id"] == note["id"]]
    assert signed["docStatus"] == "final"
    assert signed["authenticator"] == {"reference": f"Practitioner/{team.doctor_practitioner}"}
