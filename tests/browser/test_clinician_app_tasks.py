"""Tasks and a review item in Debian's Chromium at 390 px, against real processes (issue 19).

A patient's care-plan Task is on two nurses' devices (real homes enrolled against a real
`bedside serve`). Nurse A accepts it and adds a note, and syncs; then the server goes away.
Nurse B, in `bedside device app`, finds it under "My tasks", starts it and writes her own note:
saved on the device at once. The server comes back; she syncs from the app: the status merges
by the Task state machine, the two notes clash and her item needs review. The outbox explains
it in plain words (hers, the server's, who changed it, what it means), and she keeps it for
the reviewer. Every screen is checked by axe-core and photographed into docs/img/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bedside.device.tasks import TaskChange
from tests.browser._app import AppProcess, axe_check, every_width
from tests.browser._tasks import edit_task, open_review_item, sync_until
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, restart
from tests.integration._sync_world import read
from tests.integration.test_device_cli import PIN

PATIENT = "Dilys Morgan"
TASK = "Change the sacral dressing"


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def nurse(smart: Smart, given: str, family: str) -> tuple[str, str]:
    practitioner = smart.create(
        {"resourceType": "Practitioner", "name": [{"given": [given], "family": family}]}
    )
    username = f"nurse-{family.lower()}-{int(time.time() * 1000) % 10**8}"
    smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
    return username, practitioner


def test_a_task_moved_on_offline_merges_and_its_clash_is_explained(
    browser: Browser, smart: Smart, tmp_path: Path
) -> None:
    (a_user, a_prac) = nurse(smart, "Nia", "Hughes")
    (b_user, b_prac) = nurse(smart, "Owen", "Price")
    pid = smart.create(
        {"resourceType": "Patient", "name": [{"given": ["Dilys"], "family": "Morgan"}],
         "gender": "female", "birthDate": "1939-03-08"}
    )  # fmt: skip
    smart.create(
        {"resourceType": "CareTeam", "status": "active", "subject": {"reference": f"Patient/{pid}"},
         "participant": [{"member": {"reference": f"Practitioner/{p}"}} for p in (a_prac, b_prac)]}
    )  # fmt: skip
    task_id = smart.create(
        {"resourceType": "Task", "status": "requested", "intent": "order", "priority": "urgent",
         "description": TASK, "for": {"reference": f"Patient/{pid}"}}
    )  # fmt: skip
    a = enroll_phone(smart, a_user, tmp_path / "a", pid)
    b = enroll_phone(smart, b_user, tmp_path / "b", pid)
    b.node.lock()  # the app process opens B's home
    OPENED.remove(b.node)
    a.node.update_task(
        task_id, TaskChange(status="accepted", note="Dressing pack in the side room")
    )
    assert a.sync().confirmed == 1

    smart.server.process.kill()  # B works offline
    smart.server.process.wait(timeout=30)
    app = AppProcess.start(tmp_path / "b", extra=("--sync-every", "3600"))
    base = app.base
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url)
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url(f"{base}/patients")

        page.get_by_role("link", name="My tasks").click()
        expect(page.locator("main")).to_contain_text(TASK)
        expect(page.locator("main")).to_contain_text("nobody has taken it yet")
        every_width(page, "tasks-mine")
        page.goto(f"{base}/patients/{pid}/tasks")
        every_width(page, "tasks")
        page.goto(f"{base}/patients/{pid}/tasks/{task_id}")
        # requested: only the moves the state machine allows, in words
        for words in ("Accept it", "Start it", "Decline it", "Cancel it"):
            expect(page.get_by_label(words)).to_be_visible()
        expect(page.get_by_label("Mark as done")).to_have_count(0)
        every_width(page, "task")

        edit_task(page, base, PATIENT, TASK, "in-progress", "Patient prefers the afternoon")
        expect(page.locator("main")).to_contain_text("In progress")
        expect(page.locator("main")).to_contain_text("saved on device")
        axe_check(page, "tasks after saving")

        restart(smart)  # the server returns; B syncs from the app
        sync_until(page, base, lambda text: "Needs review (1)" in text)
        merged = read(smart, f"/Task/{task_id}")
        assert merged["status"] == "accepted"  # B's change waits for review: nothing overwritten
        assert merged["note"] == [{"text": "Dressing pack in the side room"}]

        open_review_item(page, base)
        main = page.locator("main")
        expect(main).to_contain_text("changed the task's note")
        expect(main).to_contain_text("Patient prefers the afternoon")  # hers
        expect(main).to_contain_text("Dressing pack in the side room")  # the server's
        expect(main).to_contain_text("changed by Nia Hughes")
        expect(main).to_contain_text(
            'not in the patient\'s record yet: "Note" was changed both here and by a colleague'
        )
        expect(main).to_contain_text("In progress")  # her other change waits with it
        every_width(page, "review")
        page.get_by_role("button", name="Keep it for the reviewer").click()
        expect(page.locator(".flash").first).to_contain_text("Kept for the reviewer")
        expect(main).to_contain_text("kept it for the reviewer")
        every_width(page, "review-kept")
    finally:
        context.close()
        app.stop()
