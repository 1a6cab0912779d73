"""A review item routed to another role's queue, seen by the clinician whose change it is.

Found by the whole-story browser test (issue 19): a doctor's Task edit that clashes goes to the
nurses' queue (``[sync.review] roles``), and the doctor's device could not fetch the item, so
the app never showed what the server has, and "Withdraw my change" could never be sent. The
author (the token names the device that made the change) now reads the item in full and may
withdraw it; settling it otherwise (keeping the device's version, a merge) stays with the queue
it is routed to, and another doctor still sees nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.device.tasks import TaskChange
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration._sync_world import api, new_ward, read, task


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")
    yield
    while OPENED:
        OPENED.pop().lock()


def test_a_doctor_sees_her_own_task_clash_in_the_nurses_queue_and_may_only_withdraw_it(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "doctor", "doctor")
    body = task(ward.patient)
    body.pop("id")
    task_id = smart.create(body)
    nurse, doctor, colleague = (
        enroll_phone(smart, u[0], tmp_path / f"d{n}", ward.patient) for n, u in enumerate(users)
    )
    nurse.node.update_task(task_id, TaskChange(note="Dressing pack in the side room"))
    doctor.node.update_task(task_id, TaskChange(note="Needs a tissue viability review"))
    assert nurse.sync().confirmed == 1
    clash = doctor.sync()
    assert clash.needs_review == 1
    (pending,) = [e for e in doctor.node.outbox() if e.state == "needs-review"]
    review = str((pending.result or {})["review"])

    explained = doctor.node.review_item(pending.seq)  # fetched in the same sync
    assert explained.server_known
    assert explained.rows[0][2:] == (
        "Needs a tissue viability review",
        "Dressing pack in the side room",
    )

    with doctor.remote() as remote, api(smart, doctor.token(remote)) as c:
        item = c.get(f"/review/{review}")
        assert item.status_code == 200 and item.json()["role"] == "nurse"
        mine = c.post(f"/review/{review}/resolve", json={"keep": "device"})
        assert mine.status_code == 403 and "withdraw" in mine.text
        assert read(smart, f"/Task/{task_id}")["note"] == [
            {"text": "Dressing pack in the side room"}
        ]
    with colleague.remote() as remote, api(smart, colleague.token(remote)) as c:
        assert c.get(f"/review/{review}").status_code == 404  # not hers: nothing of it
        assert c.post(f"/review/{review}/resolve", json={"keep": "server"}).status_code == 404

    doctor.node.withdraw_review(pending.seq)  # "Withdraw my change", sent at the next sync
    doctor.sync()
    settled = {e.seq: e for e in doctor.node.outbox()}[pending.seq]
    assert settled.state == "rejected" and "kept the server's version" in (settled.reason or "")
    assert doctor.node.read("Task", task_id).resource["note"] == [
        {"text": "Dressing pack in the side room"}
    ]
