"""Offline break-glass end to end (issue 19): a real enrolled device (SQLCipher home, signed in
through the server) opens break-glass offline on a patient outside its working set, records an
observation for its own patient, and syncs against a real `bedside serve`: the break-glass goes
first, lands in the governance review queue with its reason and device, its views are audited
with purposeOfUse BTG, and sending it again writes nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bedside.device import Refused
from bedside.policy.breakglass import review_queue
from bedside.store import open_store
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, observation
from tests.integration._sync_world import new_ward, sql
from tests.integration.test_device_cli import PIN

REASON = "Found collapsed in the day room, no nurse for that bay"


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


class Recording(httpx.BaseTransport):
    """Forwards to the real server; keeps the path of every request, in order."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def queue(smart: Smart) -> list[dict[str, object]]:
    store = open_store(smart.database)
    try:
        with store.records() as db:
            return review_queue(db, status="all", limit=1000)
    finally:
        store.close()


def test_offline_break_glass_is_pushed_first_and_lands_in_review_with_its_reason(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    outside = smart.create_patient("Outside")
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    node = phone.node
    with pytest.raises(Refused):
        node.chart(outside)
    assert node.glass(outside).offer is None  # the default policy allows it offline
    phone.record("create", observation(ward.patient, 72))  # queued before the glass opens
    grant = node.break_glass(outside, PIN, REASON)
    assert node.chart(outside) == []  # never on this device: nothing to show
    recording = Recording()
    summary = phone.sync(recording)
    assert summary.break_glass == 1 and summary.confirmed == 1
    paths = recording.paths
    assert paths.index("/sync/break-glass") < paths.index("/sync/push")
    # the review queue holds it, open, with the reason and the device
    mine = [i for i in queue(smart) if i["offline_device"] == phone.device_id]
    assert len(mine) == 1
    item = mine[0]
    assert item["patient"] == f"Patient/{outside}" and item["reason"] == REASON
    assert item["status"] == "open" and item["received"]
    # audited: the opening and the view, purposeOfUse BTG, naming the patient
    rows = sql(smart, "SELECT content FROM audit_log WHERE device = ? ORDER BY n", phone.device_id)
    events = [json.loads(bytes(r[0])) for r in rows]
    btg = [
        e["subtype"][0]["code"]
        for e in events
        if any(c.get("code") == "BTG" for p in e.get("purposeOfEvent", []) for c in p["coding"])
    ]
    assert "break-glass" in btg and "read" in btg
    # acknowledged on the device: nothing more to send; a second sync sends nothing twice
    assert node.glass_outgoing() == ([], [])
    again = Recording()
    assert phone.sync(again).break_glass == 0 and "/sync/break-glass" not in again.paths
    assert len([i for i in queue(smart) if i["offline_device"] == phone.device_id]) == 1
    # a view after the grant reached the server is still sent, and the grant stays one row
    node.chart(outside)
    assert phone.sync().break_glass == 1
    assert len([i for i in queue(smart) if i["offline_device"] == phone.device_id]) == 1
    assert grant.id
