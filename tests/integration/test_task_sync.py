"""A care-plan Task edited on two real devices, synced against a real server (issue 19).

Two nurses on one patient's care team enroll real device homes (SQLCipher, signed events)
against a real `bedside serve`, on each backend. The patient's Task reaches both devices at
pull (ADR 0018: by the patient it is ``for``). Offline, each moves it on through the app's own
write path (:meth:`Node.update_task`): different fields merge on the server, the status by the
Task state machine rather than by clock; the same field changed both ways lands in the nurses'
review queue, the device keeps what its nurse entered and says so, and nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.device import DeviceError
from bedside.device.tasks import TaskChange
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration._sync_world import api, new_ward, read, task


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")
    yield
    while OPENED:
        OPENED.pop().lock()


def test_two_nurses_edit_one_task_offline_one_merge_and_one_clash_to_review(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "nurse")
    patient = ward.patient
    body = task(patient)
    body.pop("id")
    task_id = smart.create(body)
    a, b = (enroll_phone(smart, u[0], tmp_path / u[0], patient) for u in users)
    for phone in (a, b):  # the Task reached both devices with the patient
        (held,) = phone.node.tasks(patient)
        assert (held.id, held.status) == (task_id, "requested")

    # 1. offline, different fields: A accepts it and adds a note; B starts it and rewords it
    a.node.update_task(task_id, TaskChange(status="accepted", note="Dressing pack by the bed"))
    b.node.update_task(
        task_id, TaskChange(status="in-progress", description="Change the sacral dressing")
    )
    first = a.sync()
    assert (first.sent, first.confirmed, first.needs_review) == (1, 1, 0)
    second = b.sync()
    assert (second.sent, second.merged, second.needs_review, second.rejected) == (1, 1, 0, 0)
    merged = read(smart, f"/Task/{task_id}")
    # status by the state machine: in-progress is reached from accepted, so it wins
    assert merged["status"] == "in-progress"
    assert merged["note"] == [{"text": "Dressing pack by the bed"}]
    assert merged["description"] == "Change the sacral dressing"
    b_task = b.node.read("Task", task_id)
    assert b_task.local_state == "synced" and b_task.resource["note"] == merged["note"]
    a.sync_until(lambda: a.node.read("Task", task_id).resource.get("status") == "in-progress")

    # 2. offline, the same field both ways: the second to sync goes to review, never silently
    a.node.update_task(task_id, TaskChange(note="Dressing pack in the side room"))
    b.node.update_task(task_id, TaskChange(note="Patient prefers the afternoon"))
    assert a.sync().confirmed == 1
    clash = b.sync()
    assert (clash.sent, clash.needs_review) == (1, 1)
    server = read(smart, f"/Task/{task_id}")
    assert server["note"] == [{"text": "Dressing pack in the side room"}]
    (pending,) = [e for e in b.node.outbox() if e.state == "needs-review"]
    assert pending.resource_id == task_id and "note" in (pending.reason or "")
    # B's device keeps what its nurse typed, held back from the pull, until a reviewer decides
    kept = b.node.read("Task", task_id)
    assert kept.resource["note"] == [{"text": "Patient prefers the afternoon"}]
    result = pending.result or {}
    with b.remote() as remote, api(smart, b.token(remote)) as c:
        queue = c.get("/review", params={"role": "nurse"}).json()["items"]
        assert result["review"] in {i["id"] for i in queue}
        item = c.get(f"/review/{result['review']}").json()
    assert item["fields"] == ["note"]
    assert item["server_value"]["note"] == server["note"]

    # 3. the device explains it: what she entered, what the server has, who changed it
    explained = b.node.review_item(pending.seq)
    assert explained.server_known and explained.can_resolve and explained.clashes == ("note",)
    assert explained.rows == [
        ("note", "Note", "Patient prefers the afternoon", "Dressing pack in the side room")
    ]
    assert explained.changed_by.startswith("nurse (on their device), ")
    assert "not in the patient's record yet" in explained.meaning

    # 4. she withdraws it: the server keeps its version, her device follows, nothing is lost
    b.node.withdraw_review(pending.seq)
    assert b.node.review_item(pending.seq).queued == "server"
    b.sync()
    settled = {e.seq: e for e in b.node.outbox()}[pending.seq]
    assert settled.state == "rejected" and "kept the server's version" in (settled.reason or "")
    assert b.node.read("Task", task_id).resource["note"] == server["note"]
    assert read(smart, f"/Task/{task_id}")["note"] == server["note"]


def test_a_clash_resolved_on_the_device_field_by_field_is_written_by_the_server(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "nurse")
    patient = ward.patient
    body = task(patient)
    body.pop("id")
    task_id = smart.create(body)
    a, b = (enroll_phone(smart, u[0], tmp_path / u[0], patient) for u in users)
    a.node.update_task(task_id, TaskChange(status="accepted", description="Dress the heel"))
    b.node.update_task(task_id, TaskChange(status="cancelled", reason="Discharged home",
                                           description="Dress the left heel"))  # fmt: skip
    a.sync()
    clash = b.sync()
    assert clash.needs_review == 1
    (pending,) = [e for e in b.node.outbox() if e.state == "needs-review"]
    view = b.node.review_item(pending.seq)
    # accepted then cancelled: the state machine orders them (cancelled is reached from
    # accepted), so only the description clashes
    assert view.clashes == ("description",)
    assert [row[0] for row in view.rows] == ["description", "status", "statusReason"]
    with pytest.raises(DeviceError, match="every field"):
        b.node.resolve_review(pending.seq, {"status": "mine"})
    b.node.resolve_review(pending.seq, {"description": "mine"})
    b.sync()
    done = {e.seq: e for e in b.node.outbox()}[pending.seq]
    assert done.state == "confirmed"
    written = read(smart, f"/Task/{task_id}")
    assert (written["status"], written["description"]) == ("cancelled", "Dress the left heel")
    assert written["statusReason"] == {"text": "Discharged home"}
