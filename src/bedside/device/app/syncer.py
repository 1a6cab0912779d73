"""Sync from the app: "Sync now", automatic sync while the server answers, and whether it does.

The same client as ``bedside device sync`` (:func:`bedside.device.sync.sync` with a
:class:`~bedside.device.remote.Remote` and a token from :func:`~bedside.device.sync.
access_token`), run on one background thread so a page never waits for the network. The
thread probes the server every ``probe_every`` seconds (``GET /healthz``: the banner's online
or offline), syncs when asked, and syncs by itself every ``every`` seconds while the server
answers and the device is unlocked. Sync calls are background calls on the node: they never
keep the device awake, so the idle lock still comes on time.

Progress is counts only (no PHI): the phase, how many done, of how many.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from bedside.device.errors import DeviceError
from bedside.device.node import Node
from bedside.device.remote import Remote
from bedside.device.sync import SyncSummary, access_token, sync

__all__ = ["NEEDS_NETWORK", "SyncProgress", "Syncer"]

NEEDS_NETWORK: Final = (
    "Sync needs the network, and the server cannot be reached now: everything you record stays "
    "saved on this device until it can."
)
_LOCKED: Final = "Unlock the device to sync it."


@dataclass(slots=True)
class SyncProgress:
    """What the sync page shows: ``state`` idle | running | done | failed."""

    state: str = "idle"
    phase: str = ""  # push | pull
    done: int = 0
    total: int | None = None
    message: str = ""
    finished: float | None = None
    started: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _said(summary: SyncSummary) -> str:
    parts = [f"{summary.sent} sent", f"{summary.confirmed + summary.merged} confirmed"]
    if summary.break_glass:
        parts.insert(0, f"{summary.break_glass} break-glass sent for review")
    if summary.needs_review:
        parts.append(f"{summary.needs_review} need review")
    if summary.rejected:
        parts.append(f"{summary.rejected} rejected")
    if summary.uploaded:
        parts.append(f"{summary.uploaded} photo{'s' if summary.uploaded != 1 else ''} sent")
    if summary.upload_failed:
        parts.append(
            f"{summary.upload_failed} photo{'s' if summary.upload_failed != 1 else ''} kept back"
        )
    parts.append(f"{summary.received} received")
    return "Sync finished: " + ", ".join(parts) + "."


class Syncer:
    """The app's one sync thread."""

    def __init__(
        self,
        node: Node,
        *,
        every: float = 180.0,
        probe_every: float = 15.0,
        remote: Callable[..., Remote] = Remote,
    ) -> None:
        self.node = node
        self.every = every
        self.probe_every = probe_every
        self._remote = remote
        self.online: bool | None = None  # None until the first probe
        self.progress = SyncProgress()
        self._asked = False
        self._last = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bedside-app-sync", daemon=True)

    def start(self) -> Syncer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def probe(self) -> bool:
        """Whether the server answers now (a short ``GET /healthz``); sets :attr:`online`."""
        try:
            with self._remote(self.node.info.server, timeout=3.0) as remote:
                answer = remote.request("GET", f"{remote.root}/healthz")
            self.online = answer.status_code == 200
        except DeviceError:
            self.online = False
        return self.online

    def request(self) -> str | None:
        """Ask for a sync now; None when it starts (or one is running: its progress is the
        answer), else the sentence saying why not."""
        if self.progress.state == "running":
            return None
        if not self.node.unlocked:
            return _LOCKED
        if not self.probe():
            self.progress = SyncProgress("failed", message=NEEDS_NETWORK, finished=time.time())
            return NEEDS_NETWORK
        self.progress = SyncProgress("running", started=time.time(), message="Starting sync.")
        self._asked = True
        self._wake.set()
        return None

    def _run(self) -> None:
        self.probe()  # the banner says online or offline from the first page on
        while not self._stop.is_set():
            self._wake.wait(self.probe_every)
            self._wake.clear()
            if self._stop.is_set():
                return
            asked, self._asked = self._asked, False
            online = self.probe()
            due = time.monotonic() - self._last >= self.every
            if asked or (online and due and self.node.unlocked):
                self.run_once()

    def run_once(self) -> SyncProgress:
        """One sync, now, on this thread; its final progress."""
        with self._busy:
            self._last = time.monotonic()
            self.progress = SyncProgress("running", started=time.time(), message="Sending.")

            def step(phase: str, done: int, total: int | None) -> None:
                word = "Sending" if phase == "push" else "Receiving"
                of = f" of {total}" if total else ""
                self.progress = SyncProgress(
                    "running",
                    phase,
                    done,
                    total,
                    f"{word}: {done}{of}.",
                    None,
                    self.progress.started,
                )

            try:
                with self._remote(self.node.info.server, clock=self.node.clock) as remote:
                    token = access_token(self.node, remote)
                    summary = sync(self.node, remote, token, progress=step)
            except DeviceError as exc:
                self.probe()  # a failure may be the network going: the banner follows
                self.progress = SyncProgress("failed", message=str(exc), finished=time.time())
                return self.progress
            self.online = True
            self.progress = SyncProgress("done", message=_said(summary), finished=time.time())
            return self.progress
