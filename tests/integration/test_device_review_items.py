"""Needs-review and rejected items on a real device home (issue 19): nothing leaves the outbox
unacknowledged, a 401 or an expired snapshot never deletes queued work, the server's side is
fetched at sync, and a choice the server refuses is kept and said (docs/clinician-app.md
"Conflicts and rejections"). The server here is a mock transport; test_task_sync.py runs the
same choices against a real server and two real devices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device import DeviceError
from bedside.device.remote import Remote
from bedside.device.reviews_sync import fetch_details, send_choices
from bedside.device.secret import ENV_KEYSTORE
from bedside.device.sync import SyncSummary, push, sync
from tests.integration._device_world import ISSUER, Clock, World, enroll, patient
from tests.integration._outbox import settle, take

HOUR = 3600.0
TASK = {
    "resourceType": "Task",
    "id": "t1",
    "meta": {"versionId": "2"},
    "status": "in-progress",
    "intent": "order",
    "description": "Change the dressing",
    "for": {"reference": "Patient/p1"},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", "Alba Quennell"), TASK])
    yield w
    w.node.lock()


def remote(handler: Any) -> Remote:
    return Remote(ISSUER, transport=httpx.MockTransport(handler))


def unauthorized(request: httpx.Request) -> httpx.Response:
    return httpx.Response(401, json={"error": "invalid_token"})


def edit(world: World, note: str) -> int:
    body = {**world.node.read("Task", "t1").resource, "note": [{"text": note}]}
    return world.node.record("update", body).seq


def to_review(world: World, seq: int, review: str = "r-1") -> None:
    (taken,) = take(world.node, 1)
    assert taken.seq == seq
    reason = "Both you and someone else changed the task's note."
    settle(world.node, seq, {"state": "needs-review", "reason": reason, "review": review})


DETAIL = {
    "id": "r-1",
    "type": "Task",
    "resource": "Task/t1",
    "patient": "p1",
    "fields": ["note"],
    "server_version": "3",
    "server_value": {**TASK, "meta": {"versionId": "3"}, "note": [{"text": "Side room"}]},
    "base_value": TASK,
    "device_value": {**TASK, "note": [{"text": "Afternoon"}]},
    "server_changed_by": {"who": "Practitioner/9", "name": "Ada Nurse", "at":
                          "2027-01-15T08:00:00Z", "device": True},
}  # fmt: skip


def test_a_401_at_push_keeps_every_queued_event_and_its_local_record(world: World) -> None:
    seq = edit(world, "Afternoon")
    with pytest.raises(DeviceError):
        push(world.node, remote(unauthorized), "expired-token", SyncSummary())
    with pytest.raises(DeviceError):
        sync(world.node, remote(unauthorized), "expired-token")
    (entry,) = world.node.outbox()
    assert (entry.seq, entry.state) == (seq, "pending")
    held = world.node.read("Task", "t1")
    assert held.local_state == "saved-on-device"
    assert held.resource["note"] == [{"text": "Afternoon"}]


def test_a_401_at_resolve_keeps_the_choice_queued_and_the_item_open(world: World) -> None:
    seq = edit(world, "Afternoon")
    to_review(world, seq)
    world.node.withdraw_review(seq)
    assert send_choices(world.node, remote(unauthorized), "expired-token") == 0
    assert world.node.review_item(seq).queued == "server"
    assert [e.state for e in world.node.outbox()] == ["needs-review"]


def test_an_expired_snapshot_keeps_queued_and_review_items_and_still_explains_them(
    world: World,
) -> None:
    seq = edit(world, "Afternoon")
    to_review(world, seq)
    pending = edit(world, "Later still")
    world.clock.advance(8 * HOUR + 60)  # past the snapshot's exp: read-only
    status = world.node.unlock(world.pin)
    assert status.mode == "read-only"
    assert [(e.seq, e.state) for e in world.node.outbox()] == [
        (seq, "needs-review"), (pending, "pending"),
    ]  # fmt: skip
    assert "not in the patient's record yet" in world.node.review_item(seq).meaning
    world.node.acknowledge_review(seq)  # seeing it is not documenting: allowed read-only
    assert world.node.review_item(seq).acknowledged
    assert len(world.node.outbox()) == 2


def test_sync_fetches_the_servers_side_and_a_refused_choice_is_said(world: World) -> None:
    seq = edit(world, "Afternoon")
    to_review(world, seq)
    before = world.node.review_item(seq)
    assert not before.server_known and ("note", "Note", "Afternoon", "") in before.rows

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/review/r-1":
            return httpx.Response(200, json=DETAIL)
        assert request.url.path == "/review/r-1/resolve"
        assert json.loads(request.content) == {"keep": "server"}
        outcome = {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "forbidden",
             "diagnostics": "Only the nurse queue can resolve this item."}]}  # fmt: skip
        return httpx.Response(403, json=outcome)

    assert fetch_details(world.node, remote(server), "t0k3n") == 1
    item = world.node.review_item(seq)
    assert item.rows == [("note", "Note", "Afternoon", "Side room")]
    assert item.changed_by == "Ada Nurse (on their device), 2027-01-15 08:00 UTC"
    world.node.withdraw_review(seq)
    assert send_choices(world.node, remote(server), "t0k3n") == 0
    refused = world.node.review_item(seq)
    assert refused.queued is None
    assert refused.error == (
        "The server did not take your choice: Only the nurse queue can resolve this item."
    )
    assert [e.state for e in world.node.outbox()] == ["needs-review"]  # still owed, still here


def test_a_rejected_item_is_only_acknowledged_and_stays_in_the_outbox(world: World) -> None:
    seq = edit(world, "Afternoon")
    (taken,) = take(world.node, 1)
    settle(
        world.node,
        taken.seq,
        {"state": "rejected", "reason": "You are no longer on this patient's care team."},
    )
    item = world.node.review_item(seq)
    assert "was not applied and will not be" in item.meaning and not item.can_resolve
    world.node.withdraw_review(seq)  # nothing is owed to the server: seen, and kept
    assert world.node.review_item(seq).acknowledged
    assert [e.state for e in world.node.outbox()] == ["rejected"]
    with pytest.raises(DeviceError, match="cannot be resolved"):
        world.node.resolve_review(seq, {"note": "mine"})
