"""Real device homes against a real `bedside serve`, for the end-to-end sync tests.

A device is enrolled the way the app does it (:func:`bedside.device.enroll.enroll`): the test
plays the user's browser in a thread (``walk_browser`` of test_device_cli walks the server's
sign-in and consent pages and lands on the enrollment's loopback listener), so each home is a
real SQLCipher store with its own signing key, registered on the server, holding a refresh
token that names the device. Sync runs through :func:`bedside.device.sync.sync` with a real
:class:`Remote`, or through ``bedside device sync`` as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bedside.audit.verify import verify
from bedside.device import DeviceError, Node
from bedside.device.enroll import SignIn, enroll
from bedside.device.remote import Remote
from bedside.device.sync import SyncSummary, sync
from bedside.protocol.event import format_time
from bedside.store import open_store
from tests.integration._device_world import FAST
from tests.integration._smart import Smart
from tests.integration._sync_world import LOINC, read, sql
from tests.integration.test_device_cli import PIN, walk_browser

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "BEDSIDE_DEVICE_KEYSTORE": "file"}
OPENED: list[Node] = []  # every node enroll_phone unlocked; the tests' fixture locks them


@dataclass
class Phone:
    """One enrolled, unlocked device home and the clinician holding it."""

    smart: Smart
    node: Node
    username: str
    patient: str  # the patient the scenario is about

    @property
    def device_id(self) -> str:
        return self.node.info.device_id

    def token(self, remote: Remote) -> str:
        """A fresh access token naming the device; the rotated refresh token is kept at once
        (as `bedside device sync` does: the server treats a reused one as theft)."""
        refresh = self.node.refresh_token()
        assert refresh, "the home has no refresh token"
        tokens = remote.refresh(refresh, keep=self.node.set_refresh_token)
        assert tokens.refresh_token and tokens.device == self.device_id
        return tokens.access_token

    def remote(self, transport: httpx.BaseTransport | None = None) -> Remote:
        """A Remote on the device's clock, as `bedside device sync` makes it: what its answers
        teach about the server's clock is the node's (docs/sync-protocol.md)."""
        return Remote(self.node.info.server, transport=transport, clock=self.node.clock)

    def sync(self, transport: httpx.BaseTransport | None = None) -> SyncSummary:
        """One `sync` (push, then pull) through a real Remote, over ``transport`` if given."""
        with self.remote() as plain, self.remote(transport) as remote:
            return sync(self.node, remote, self.token(plain))

    def sync_until(self, done: Callable[[], bool], timeout: float = 60.0) -> SyncSummary:
        """Sync until ``done()`` holds; the summaries added up.

        On PostgreSQL a pull delivers only rows older than every transaction still open in the
        cluster (docs/sync-pull.md: late, never lost), and other test runs share the cluster,
        so what a push just wrote may come one sync later.
        """
        total = SyncSummary()
        deadline = time.monotonic() + timeout
        while True:
            add(total, self.sync())
            if done():
                return total
            assert time.monotonic() < deadline, f"not delivered within {timeout} s: {total}"
            time.sleep(0.5)

    def record(self, action: str, resource: dict[str, Any], patient: str | None = None) -> str:
        """Record on the device (offline: nothing leaves it); the resource id."""
        return self.node.record(action, resource, patient or self.patient).id

    def edit(self, rtype: str, rid: str, **changes: Any) -> str:
        """Update the device's copy of a record with ``changes``."""
        current = self.node.read(rtype, rid).resource
        return self.record("update", {**current, **changes})

    def states(self) -> dict[str, str]:
        """Outbox state by resource id (the last event for each)."""
        return {e.resource_id: e.state for e in self.node.outbox()}


def add(total: SyncSummary, more: SyncSummary) -> None:
    """Add the counts of ``more`` to ``total``."""
    for name in SyncSummary.__dataclass_fields__:
        mine, theirs = getattr(total, name), getattr(more, name)
        if name == "reasons":
            mine.extend(theirs)
        elif name == "skew_ms":
            total.skew_ms = theirs if theirs is not None else mine
        elif name == "snapshot":
            total.snapshot = mine or theirs
        else:
            setattr(total, name, mine + theirs)


def enroll_phone(
    smart: Smart,
    username: str,
    home: Path,
    patient: str,
    clock: Callable[[], float] = time.time,
) -> Phone:
    """Enroll ``home`` for ``username`` (playing the browser), unlock it, sync once; the
    device's clock is ``clock`` throughout."""
    failures: list[BaseException] = []

    def browse(url: str) -> None:
        try:
            landed = walk_browser(smart, url, username)
            assert landed.status_code == 200, landed.text
        except BaseException as exc:  # reported by the test thread below
            failures.append(exc)

    walkers: list[threading.Thread] = []

    def show(url: str) -> None:
        walker = threading.Thread(target=browse, args=(url,), daemon=True)
        walker.start()
        walkers.append(walker)

    try:
        enroll(home, smart.fhir, PIN, SignIn(show_url=show, timeout=60), kdf=FAST, clock=clock)
    finally:
        for walker in walkers:
            walker.join(timeout=30)
    assert not failures, failures
    node = Node(home, clock=clock)
    node.unlock(PIN)
    OPENED.append(node)
    phone = Phone(smart, node, username, patient)
    phone.sync_until(lambda: any(i.type == "Patient" for i in node.chart(patient)))
    return phone


def observation(patient: str, value: float) -> dict[str, Any]:
    """A heart rate as the app records it (the device gives it an id)."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-11-21T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def count(smart: Smart, rtype: str, patient: str) -> int:
    """How many ``rtype`` resources of ``patient`` the server holds, asked through its FHIR API."""
    r = smart.get(f"/{rtype}", smart.operator_token, patient=patient, _summary="count")
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def versions(smart: Smart, rtype: str, ids: list[str]) -> int:
    """How many versions the server stored for these resources (a duplicate write shows)."""
    marks = ", ".join("?" for _ in ids)
    rows = sql(
        smart,
        "SELECT COUNT(*) FROM resource_versions v JOIN resources r ON r.rid = v.rid"
        f" WHERE r.type = ? AND r.id IN ({marks})",
        rtype,
        *ids,
    )
    return int(rows[0][0])


def settled(smart: Smart, device_id: str) -> int:
    """Rows in the server's replay record for the device."""
    return int(sql(smart, "SELECT COUNT(*) FROM sync_events WHERE device = ?", device_id)[0][0])


class LostAnswer(httpx.BaseTransport):
    """Forwards to the real server, then drops the connection before the device reads the
    answer of the first ``times`` requests to ``path``: the server has committed, the device
    never heard (the lost ack of docs/sync-protocol.md)."""

    def __init__(self, path: str = "/sync/push", times: int = 1) -> None:
        self.inner = httpx.HTTPTransport()
        self.path = path
        self.left = times
        self.dropped: list[int] = []  # status codes the device never saw

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == self.path and self.left > 0:
            self.left -= 1
            response.read()  # the whole answer arrived: every result in it is committed
            response.close()
            self.dropped.append(response.status_code)
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def device_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside", "device", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def table(stdout: str) -> dict[str, str]:
    """The rows of a rich table printed without colour: {"sent": "3", ...}."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃|").split("│")]
        if len(cells) == 2 and all(cells):
            rows[cells[0]] = cells[1]
    return rows


def restart(smart: Smart) -> None:
    """Start `bedside serve` again on the same port, data dir and database (after a kill)."""
    server = smart.server
    port = urlsplit(server.base).port
    command = [sys.executable, "-m", "bedside", "serve", "--data-dir", str(server.data_dir)]
    command += ["--database", smart.database, "--port", str(port)]
    with open(server.data_dir.parent / f"server-{port}-again.log", "wb") as log:
        server.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.process.poll() is None, "the server did not start again"
        try:
            if httpx.get(f"{smart.root}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start again within 60 s")


def committed(smart: Smart, device_id: str, ids: list[str]) -> tuple[int, int]:
    """(replay rows of the device, how many of these Observations exist), read in one
    statement, so one snapshot: a commit still finishing after a kill cannot fall between."""
    marks = ", ".join("?" for _ in ids)
    rows = sql(
        smart,
        "SELECT (SELECT COUNT(*) FROM sync_events WHERE device = ?),"
        f" (SELECT COUNT(*) FROM resources WHERE type = 'Observation' AND id IN ({marks}))",
        device_id,
        *ids,
    )
    return int(rows[0][0]), int(rows[0][1])


def audit_intact(smart: Smart) -> bool:
    """Whether the server's audit hash chain verifies (as `bedside audit verify` does)."""
    store = open_store(smart.database)
    try:
        with store.read() as session:
            return bool(verify(session.records()).ok)
    finally:
        store.close()


def change(smart: Smart, path: str, **fields: Any) -> dict[str, Any]:
    """Read ``path`` with the operator token, set ``fields``, PUT it back; the new version."""
    current = {k: v for k, v in read(smart, path).items() if k != "meta"}
    with smart.fhir_client(smart.operator_token) as c:
        r = c.put(
            path,
            json={**current, **fields},
            headers={"Content-Type": "application/fhir+json", "Prefer": "return=representation"},
        )
    assert r.status_code == 200, r.text
    changed: dict[str, Any] = r.json()
    return changed


def gone(phone: Phone, rtype: str, rid: str) -> bool:
    """Whether the device no longer holds the record at all."""
    try:
        phone.node.read(rtype, rid)
    except DeviceError as exc:
        return "not on this device" in str(exc)
    return False


def push_raw(remote: Remote, token: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``POST /sync/push`` of these wire events as they are; the results."""
    body = {"protocol": 1, "device_time": format_time(time.time()), "events": events}
    answer = remote.request("POST", f"{remote.root}/sync/push", token=token, json=body)
    results: list[dict[str, Any]] = remote.json_of(answer, "the push")["results"]
    return results
