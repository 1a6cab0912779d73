"""The whole story of issue 19 ("Done when", first bullet), end to end, in Debian's Chromium.

Two doctors' devices (two homes, two `bedside device app` processes, two browser contexts) are
enrolled against a real `bedside serve` and synced online: a ward of three patients on their
care team, one patient who is not, an active order, a care plan with two Tasks and a discharge
summary waiting for sign-off. Then **the server is killed**, and through the apps:

* A records NEWS2 for the three patients and gives a dose of the ordered medicine;
* the care-plan Tasks are edited on both devices: A accepts the first and writes a note on the
  second, B writes a note on the first (merges: another field) and on the second (clashes);
* A asks for the patient outside the working set: refused in plain words, then break-glass
  with the PIN again and a reason (the default policy allows it offline);
* B drafts a note, is called away to the patient list, comes back to the draft and finishes it;
* B attaches a wound photo (a generated PNG);
* both doctors sign the discharge summary off.

The server comes back; each device syncs once from the app ("Sync now"), A first. On the
server: everything exactly once, each with a Provenance naming its device; one sign-off applied
and the other in the review queue; the Task merge applied and the clash in the review queue;
the break-glass awaiting review with its reason; the photo's bytes readable; the audit chain
verifies. On the devices nothing is lost from the outbox and B's review items are shown.
Screens are axe-checked; key moments are photographed into docs/img/story-*.png.
"""

from __future__ import annotations

import base64
import hashlib
import re
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bedside.device import Node
from bedside.device.notes import note_text
from bedside.policy.breakglass import review_queue
from bedside.store import open_store
from bedside.sync.review import listing
from tests.browser._app import IMG, AppProcess, axe_check
from tests.browser._glass import break_glass
from tests.browser._meds import give_medication
from tests.browser._notes import draft_note, finish_note, open_chart, sign_off
from tests.browser._photos import attach_photo, write_png
from tests.browser._story_ward import (
    DISCHARGE,
    DRUG,
    TASK_CLASH,
    TASK_MERGE,
    StoryWard,
    make_ward,
    provenance_devices,
)
from tests.browser._tasks import edit_task
from tests.browser.test_clinician_app_story import BEDS, fill
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, Phone, audit_intact, enroll_phone, restart
from tests.integration._sync_world import sql
from tests.integration.test_device_cli import PIN

REASON = "Called to a cardiac arrest in the day room; she is not on my list"
NOTE = "Chest clearer this morning, eating well."
MORE = " Plan: home tomorrow if the X-ray is clear."
PHOTO_TEXT = "Sacral pressure area, day 2"


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def shot(page: Page, name: str) -> None:
    """docs/img/story-<name>.png at the page's width, after an axe-core check."""
    axe_check(page, name)
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / f"story-{name}.png"), full_page=True)


def enrolled(smart: Smart, ward: StoryWard, username: str, home: Path) -> str:
    """Enroll a doctor's device, sync it online until it holds the ward (the three patients,
    the order, both Tasks and the discharge summary), lock it for the app; its device id."""
    first = ward.patients[BEDS[0].name]
    phone = enroll_phone(smart, username, home, first)
    wanted = {*ward.tasks.values(), ward.order, ward.discharge}

    def holds() -> bool:
        ids = {p.id for p in phone.node.patients()}
        return ids >= set(ward.patients.values()) and wanted <= {
            i.id for i in phone.node.chart(first)
        }

    phone.sync_until(holds)
    device = phone.device_id
    phone.node.lock()  # the app process opens the home next
    OPENED.remove(phone.node)
    return device


def unlocked(context: BrowserContext, app: AppProcess) -> Page:
    page = context.new_page()
    page.goto(app.url)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url(f"{app.base}/patients")
    return page


def sync_once(page: Page, base: str, said: str) -> str:
    """Press "Sync now" once; the sentence the sync page ends on (it must contain ``said``)."""
    page.goto(f"{base}/sync")
    page.get_by_role("button", name="Sync now").click()
    message = page.locator("#sync-message")
    expect(message).to_contain_text("Sync finished", timeout=90_000)
    expect(message).to_contain_text(said)
    text = message.inner_text()
    page.wait_for_timeout(2000)  # the page reloads itself 0.6 s after a sync is done
    page.wait_for_load_state("load")
    return text


def resources(smart: Smart, rtype: str, pid: str) -> list[dict]:
    found = smart.get(f"/{rtype}", smart.operator_token, patient=pid, _count="200").json()
    return [e["resource"] for e in found.get("entry", [])]


@pytest.mark.timeout(300)
def test_the_whole_story_offline_on_two_devices_then_synced(
    browser: Browser, smart: Smart, tmp_path: Path
) -> None:
    ward = make_ward(smart)
    names = [bed.name for bed in BEDS]
    first, second, third = (ward.patients[n] for n in names)
    a_id = enrolled(smart, ward, ward.doctors[0], tmp_path / "a")
    b_id = enrolled(smart, ward, ward.doctors[1], tmp_path / "b")
    photo = write_png(tmp_path / "wound.png")
    a_app = AppProcess.start(tmp_path / "a", extra=("--sync-every", "3600"))
    b_app = AppProcess.start(tmp_path / "b", extra=("--sync-every", "3600"))
    a_ctx = browser.new_context(viewport={"width": 390, "height": 900})
    b_ctx = browser.new_context(viewport={"width": 390, "height": 900})
    a_base, b_base = a_app.base, b_app.base
    try:
        a, b = unlocked(a_ctx, a_app), unlocked(b_ctx, b_app)
        shot(a, "ward-online")

        smart.server.process.kill()  # the server is gone for the whole story
        smart.server.process.wait(timeout=30)
        for page in (a, b):
            expect(page.locator('#strip [data-field="online"]')).to_have_text(
                "Offline", timeout=45_000
            )

        # A: NEWS2 for the three patients
        for n, bed in enumerate(BEDS):
            open_chart(a, a_base, bed.name)
            a.get_by_role("link", name="Record observations").first.click()
            fill(a, bed.readings)
            expect(a.locator("#news2-headline")).to_have_text(f"NEWS2 {bed.total}")
            a.get_by_role("button", name="Save observations").click()
            expect(a.locator(".flash")).to_contain_text(
                f"Saved on device: NEWS2 {bed.total} ({bed.band})"
            )
            if n == 2:
                shot(a, "news2-saved")
        # A: a medicine given
        give_medication(a, a_base, names[0], DRUG)
        shot(a, "medicine-given")

        # the care-plan Tasks on both devices: A moves one on and notes the other; B notes both
        edit_task(a, a_base, names[0], TASK_MERGE, "accepted")
        edit_task(a, a_base, names[0], TASK_CLASH, note="Booked for 14:00 in X-ray")
        edit_task(b, b_base, names[0], TASK_MERGE, note="Needs two to help her up")
        edit_task(b, b_base, names[0], TASK_CLASH, note="Portable film on the ward instead")
        shot(b, "tasks-edited")

        # A: the patient outside the working set, refused, then break-glass with PIN and reason
        break_glass(a, a_base, ward.outside, PIN, REASON)
        shot(a, "break-glass-open")

        # B: a note drafted, interrupted (called away to the list), finished
        draft_note(b, b_base, names[1], NOTE)
        b.goto(f"{b_base}/patients")
        open_chart(b, b_base, names[1])
        expect(b.locator("#note-drafts")).to_contain_text(NOTE)
        b.get_by_role("link", name="Write a note").click()
        expect(b.get_by_label(f"Progress note for {names[1]}")).to_have_value(NOTE)
        shot(b, "note-draft-back")
        finish_note(b, b_base, names[1], title="Ward round", more=MORE)

        # B: a wound photo
        attach_photo(b, b_base, names[2], photo, PHOTO_TEXT)
        shot(b, "photo-attached")

        # both doctors sign the discharge summary off, offline
        for page, base in ((a, a_base), (b, b_base)):
            sign_off(page, base, names[0], DISCHARGE)
        shot(b, "signed-off-offline")

        # the server returns; each device syncs once, A first
        restart(smart)
        said_a = sync_once(a, a_base, "1 break-glass sent for review")
        shot(a, "synced-a")
        # B's photo goes up in the same sync: its record is confirmed in the push, then the
        # bytes are uploaded before the pull (docs/sync-protocol.md "Attachments")
        said_b = sync_once(b, b_base, "2 need review")
        assert "1 photo sent" in said_b, said_b
        assert "28 sent, 28 confirmed" in said_a, said_a
        assert "5 sent, 3 confirmed" in said_b, said_b
        b.goto(f"{b_base}/sync")
        expect(b.locator("main")).to_contain_text("Needs review (2)")
        shot(b, "review-items")
        heading = b.get_by_role("heading", name=re.compile("Needs review"))
        section = b.locator("section.outbox", has=heading)
        section.locator("a", has_text="Task").first.click()
        expect(b.locator("main")).to_contain_text("Portable film on the ward instead")
        expect(b.locator("main")).to_contain_text("Booked for 14:00 in X-ray")
        shot(b, "review-task")
        b.goto(f"{b_base}/sync")
        section.locator("a", has_text=DISCHARGE).first.click()
        expect(b.locator("main")).to_contain_text("Someone else signed this document off")
        expect(b.locator("main")).to_contain_text("never signed off twice")
        expect(b.locator("h2.screen")).to_contain_text("Needs review: Document for")
        row = b.locator("tr", has_text="Signed off by")
        expect(row).to_contain_text("You")  # hers; the server's is a colleague's
        assert "Practitioner/" not in b.locator("main").inner_text()  # names, never ids
        shot(b, "review-sign-off")
    except BaseException:
        traceback.print_exc()  # said before the contexts close (a close can hang after it)
        raise
    finally:
        a_ctx.close()
        b_ctx.close()
        a_app.stop()
        b_app.stop()

    # --- on the server ---------------------------------------------------------------------
    observations = [
        o for pid in (first, second, third) for o in resources(smart, "Observation", pid)
    ]
    assert len(observations) == 24  # 8 per NEWS2 set, once
    given = resources(smart, "MedicationAdministration", first)
    assert len(given) == 1 and given[0]["status"] == "completed"
    for made in [*observations, *given]:
        assert provenance_devices(smart, f"{made['resourceType']}/{made['id']}") == [a_id]

    merge = smart.get(f"/Task/{ward.tasks[TASK_MERGE]}", smart.operator_token).json()
    assert merge["status"] == "accepted"  # A's status ...
    assert merge["note"] == [{"text": "Needs two to help her up"}]  # ... and B's note, merged
    clash = smart.get(f"/Task/{ward.tasks[TASK_CLASH]}", smart.operator_token).json()
    assert clash["note"] == [{"text": "Booked for 14:00 in X-ray"}]  # A's; B's waits for review
    assert len(resources(smart, "Task", first)) == 2
    assert sorted(provenance_devices(smart, f"Task/{merge['id']}")) == sorted([a_id, b_id])
    assert provenance_devices(smart, f"Task/{clash['id']}") == [a_id]

    documents = {pid: resources(smart, "DocumentReference", pid) for pid in (first, second, third)}
    (summary,) = documents[first]
    assert summary["id"] == ward.discharge and summary["docStatus"] == "final"
    assert summary["authenticator"] == {"reference": f"Practitioner/{ward.practitioners[0]}"}
    (note,) = documents[second]
    assert note_text(note) == NOTE + MORE and note["description"] == "Ward round"
    (wound,) = documents[third]
    assert provenance_devices(smart, f"DocumentReference/{note['id']}") == [b_id]
    assert provenance_devices(smart, f"DocumentReference/{wound['id']}") == [b_id]
    assert provenance_devices(smart, f"DocumentReference/{ward.discharge}") == [a_id]  # once

    store = open_store(smart.database)
    try:
        with store.records() as db:
            reviews = [i for i in listing(db, state="open") if i.device in (a_id, b_id)]
            glass = [i for i in review_queue(db) if i["offline_device"] == a_id]
    finally:
        store.close()
    assert sorted((i.device, i.resource_type, i.resource_id) for i in reviews) == sorted(
        [(b_id, "Task", ward.tasks[TASK_CLASH]), (b_id, "DocumentReference", ward.discharge)]
    )
    assert len(glass) == 1 and glass[0]["reason"] == REASON and glass[0]["status"] == "open"
    assert glass[0]["patient"] == f"Patient/{ward.outside}"

    url = wound["content"][0]["attachment"]["url"]
    aid = url.removeprefix("Binary/")
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert sql(smart, "SELECT COUNT(*) FROM attachments WHERE sha256 = ?", digest)[0][0] == 1
    node = Node(tmp_path / "b")
    node.unlock(PIN)
    try:
        phone = Phone(smart, node, ward.doctors[1], third)
        with phone.remote() as remote:
            token = phone.token(remote)
        events_b = node.outbox()
    finally:
        node.lock()
    bytes_back = httpx.get(
        f"{smart.fhir}/Binary/{aid}",
        headers={"Authorization": f"Bearer {token}", "Accept": "image/png"},
    )
    assert bytes_back.status_code == 200 and bytes_back.content == photo.read_bytes()
    assert base64.b64encode(bytes_back.content)  # the Binary is the photo, byte for byte
    assert audit_intact(smart)

    # --- on the devices: nothing lost from either outbox -------------------------------------
    node = Node(tmp_path / "a")
    node.unlock(PIN)
    try:
        events_a = node.outbox()
    finally:
        node.lock()
    assert len(events_a) == 28 and {e.state for e in events_a} == {"confirmed"}
    states_b = sorted((e.type, e.state) for e in events_b)
    assert states_b == sorted(
        [
            ("Task", "confirmed"),  # merged
            ("Task", "needs-review"),
            ("DocumentReference", "needs-review"),  # the second sign-off
            ("DocumentReference", "confirmed"),  # the note
            ("DocumentReference", "confirmed"),  # the photo's record
        ]
    )
