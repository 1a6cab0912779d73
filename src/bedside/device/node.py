"""The device node: the one object the clinician app (and, later, sync) talks to.

A :class:`Node` is a home directory (:mod:`bedside.device.home`) and, while unlocked, a
:class:`~bedside.device.session.Session`. It owns the rules about *when* the device may be used;
what a read or a write does lives in :mod:`~bedside.device.chart`,
:mod:`~bedside.device.writes`, :mod:`~bedside.device.drafts` and :mod:`~bedside.device.receive`;
its side of sync (outbox, pulled pages, snapshots, tokens, the server's clock) is
:mod:`~bedside.device.node_sync`; what the clinician app reads beyond a chart (the ward board,
item sync states, a set recorded as one action) is :mod:`~bedside.device.node_ward`.

* **Unlock** (:meth:`Node.unlock`): the PIN opens DK through the key file (argon2id, counted
  attempts) or, within ``quick_unlock_seconds`` of an inactivity lock, through the in-memory
  :class:`~bedside.device.session.QuickUnlock`. The stored snapshot is verified again and the
  retention rules run. If the snapshot's grace is over (mode ``locked``), the PIN wrap is
  deleted and only an online sign-in (:meth:`Node.unlock_with_escrow`) opens the device (G6).
* **Inactivity**: every call made for the user checks the time since the last one; past
  ``inactivity_seconds`` the session closes (DK leaves SQLCipher's memory) and :class:`Locked`
  is raised. Calls made for sync (``background``) neither count as use nor keep it awake.
* **Threads**: one re-entrant lock around everything, so a UI thread and a timer
  (:meth:`Node.tick`) can share the node; the store's connection allows cross-thread use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.device import chart as reading
from bedside.device import drafts as drafting
from bedside.device import lifecycle, photos, writes
from bedside.device.chart import ChartItem, Conflict, PatientEntry
from bedside.device.clock import ServerClock
from bedside.device.compliance import PostureSide
from bedside.device.drafts import Draft
from bedside.device.errors import DeviceError, KeysLocked, Locked, NotEnrolled
from bedside.device.home import DEVICE_FILE, DeviceInfo
from bedside.device.keys import KEY_FILE, KdfParams, KeyFile
from bedside.device.node_glass import GlassSide
from bedside.device.node_reviews import ReviewSide
from bedside.device.node_sync import SyncSide
from bedside.device.node_tasks import TaskSide
from bedside.device.node_ward import WardSide
from bedside.device.offline import Mode
from bedside.device.retention import enforce
from bedside.device.secret import SECRET_FILE, shred_file
from bedside.device.session import QuickUnlock, Session
from bedside.device.status import Status, build_status
from bedside.device.workingset import PurgeReport
from bedside.device.writes import Recorded

__all__ = ["Node"]

_IDLE: Final = "This device locked itself after a period without use. Enter your PIN to continue."
_EXPIRED_REASON: Final = "snapshot-expired"


class Node(SyncSide, WardSide, TaskSide, ReviewSide, GlassSide, PostureSide):
    """One enrolled device home. Build it with ``Node(home)`` or :meth:`enroll_local`.

    ``clock`` is the device's clock, or a :class:`~bedside.device.clock.ServerClock` to share
    (what a sign-in learned of the server's clock); see :attr:`clock`.
    """

    def __init__(self, home: Path, *, clock: Callable[[], float] | ServerClock = time.time) -> None:
        self.home = Path(home)
        self.info = DeviceInfo.load(self.home)
        self._clock = ServerClock.of(clock)
        self._lock = threading.RLock()
        self._session: Session | None = None
        self._quick: QuickUnlock | None = None
        self._last_use = 0.0

    @classmethod
    def enroll_local(
        cls,
        home: Path,
        *,
        user: str,
        device_id: str,
        server: str,
        client_id: str,
        pin: str,
        snapshot_jws: str,
        jwks: dict[str, Any],
        refresh_token: str,
        signing_key: Ed25519PrivateKey,
        app_version: str = "",
        kdf: KdfParams = KdfParams(),
        clock: Callable[[], float] | ServerClock = time.time,
    ) -> tuple[Node, bytes]:
        """Set up ``home`` for ``user`` and return (the unlocked node, EK).

        The enrollment sends EK to the server (``POST /device/register``) and forgets it.
        """
        home, clock = Path(home), ServerClock.of(clock)
        dk, ek = lifecycle.enroll(
            home,
            user=user,
            device_id=device_id,
            server=server,
            client_id=client_id,
            pin=pin,
            snapshot_jws=snapshot_jws,
            jwks=jwks,
            refresh_token=refresh_token,
            signing_key=signing_key,
            app_version=app_version,
            kdf=kdf,
            clock=clock,
        )
        node = cls(home, clock=clock)
        keyfile = KeyFile.open(home)
        node._start(lifecycle.open_session(home, node.info, keyfile, dk, clock), pin, dk)
        return node, ek

    # --- locking ------------------------------------------------------------------------------

    def unlock(self, pin: str) -> Status:
        """Open the device with the PIN (quick path after an idle lock); its status."""
        with self._lock:
            self._end(keep_quick=True)
            now = self._clock()
            keyfile = KeyFile.open(self.home)
            dk: bytes | None = None
            if self._quick is not None and not self._quick.armed(now):
                self._quick = None  # the window closed: the full path only
            if self._quick is not None and not keyfile.status().locked:
                dk = self._quick.open(pin)  # a mismatch stays armed: the key file counts it
            if dk is None:
                dk = keyfile.unlock(pin)  # counts the attempt; WrongPin / KeysLocked
            self._start(
                lifecycle.open_session(self.home, self.info, keyfile, dk, self._clock), pin, dk
            )
            return self._status()

    def unlock_with_escrow(
        self,
        escrow_key: bytes,
        new_pin: str,
        *,
        snapshot_jws: str | None = None,
        jwks: dict[str, Any] | None = None,
    ) -> Status:
        """After a fresh online sign-in: open with EK from the server and set a new PIN.

        ``snapshot_jws`` (with the server's ``jwks``) is the snapshot fetched at that sign-in;
        it is verified and stored before the PIN changes, so a device whose offline period ran
        out needs a current snapshot to open.
        """
        with self._lock:
            self._end(keep_quick=False)
            keyfile = KeyFile.open(self.home)
            dk = keyfile.unlock_with_escrow(escrow_key)
            session = lifecycle.open_session(self.home, self.info, keyfile, dk, self._clock)
            try:
                if snapshot_jws is not None:
                    self._store_snapshot(session, snapshot_jws, jwks)
                if session.policy.mode(self._clock()) is Mode.LOCKED:
                    raise DeviceError(
                        "This device's offline access has expired. Fetch a new policy snapshot "
                        "online to open it."
                    )
                keyfile.set_pin(dk, new_pin)
            except BaseException:
                session.close()
                raise
            self._start(session, new_pin, dk)
            return self._status()

    def lock(self) -> None:
        """Lock now (the user chose to): the next unlock takes the full PIN path."""
        with self._lock:
            self._end(keep_quick=False)

    @property
    def unlocked(self) -> bool:
        with self._lock:
            return self._session is not None

    def _start(self, session: Session, pin: str, dk: bytes) -> None:
        """Finish an unlock: PIN attempts from the snapshot, retention, then the mode check."""
        now = self._clock()
        try:
            with suppress(DeviceError):  # an out-of-range claim keeps the file's own limit
                session.keyfile.set_pin_attempts(session.policy.settings.pin_attempts)
            self._enforce(session, now)
            if session.policy.mode(now) is Mode.LOCKED:
                session.keyfile.lock_out(_EXPIRED_REASON)
                raise KeysLocked()
        except BaseException:
            session.close()
            raise
        self._session = session
        self._quick = QuickUnlock(pin, dk)
        self._last_use = now

    def _end(self, *, keep_quick: bool) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()
        if not keep_quick:
            self._quick = None

    def _idle_lock(self, session: Session) -> None:
        """Close the session for inactivity; arm the quick unlock from the moment it idled."""
        idle = session.policy.settings.inactivity_seconds
        self._end(keep_quick=True)
        if self._quick is not None:
            self._quick.locked_at = self._last_use + idle
            self._quick.window = session.policy.settings.quick_unlock_seconds

    def _current(self, *, background: bool = False) -> Session:
        """The session, if the device is still unlocked, idle-locking or expiring it first."""
        session = self._session
        if session is None:
            if not (self.home / DEVICE_FILE).exists():
                raise NotEnrolled()
            raise Locked()
        now = self._clock()
        if now - self._last_use > session.policy.settings.inactivity_seconds:
            self._idle_lock(session)
            raise Locked(_IDLE)
        if session.policy.mode(now) is Mode.LOCKED:
            session.keyfile.lock_out(_EXPIRED_REASON)
            self._end(keep_quick=False)
            raise KeysLocked()
        if not background:
            self._last_use = now
        return session

    @contextmanager
    def _use(self, *, background: bool = False) -> Iterator[Session]:
        with self._lock:
            yield self._current(background=background)

    def _enforce(self, session: Session, now: float) -> PurgeReport:
        with session.store.lock:
            return enforce(
                session.store.conn,
                session.policy,
                now,
                session.attachments.delete,
                stored=session.attachments.ids(),
            )

    def tick(self) -> PurgeReport | None:
        """The app's timer: lock when idle or expired, else run retention. Not a use."""
        with self._lock:
            if self._session is None:
                return None
            try:
                session = self._current(background=True)
            except DeviceError:
                return None
            session.store.checkpoint()
            return self._enforce(session, self._clock())

    def status(self) -> Status:
        """What the device can do now, its keys and queues (counts only: no PHI)."""
        with self._lock:
            if self._session is not None:
                with suppress(DeviceError):
                    self._current(background=True)
            return self._status()

    def _status(self) -> Status:
        s = self._session
        locks_at = None
        if s is not None:
            locks_at = self._last_use + s.policy.settings.inactivity_seconds
        return build_status(self.info, KeyFile.open(self.home).status(), s, locks_at)

    def wipe(self) -> None:
        """Destroy the keys, the store, the attachments and ``device.json`` (locked or not)."""
        with self._lock:
            self._end(keep_quick=False)
            try:
                KeyFile.open(self.home).shred()
            except NotEnrolled:
                pass
            except DeviceError:  # a damaged key file: destroy what is there
                shred_file(self.home / KEY_FILE)
                shred_file(self.home / SECRET_FILE)
            lifecycle.remove_store(self.home)
            (self.home / DEVICE_FILE).unlink(missing_ok=True)

    # --- reading ------------------------------------------------------------------------------

    def patients(self) -> list[PatientEntry]:
        with self._use() as s:
            return reading.patients(s)

    def chart(self, patient: str, type: str | None = None) -> list[ChartItem]:
        with self._use() as s:
            return reading.chart(s, patient, type)

    def read(self, type: str, id: str) -> ChartItem:
        with self._use() as s:
            return reading.read(s, type, id)

    def search(
        self,
        patient: str,
        type: str,
        *,
        code: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        status: str | None = None,
    ) -> list[ChartItem]:
        with self._use() as s:
            return reading.search(
                s, patient, type, code=code, date_from=date_from, date_to=date_to, status=status
            )

    def attachment(self, attachment_id: str) -> tuple[str, bytes]:
        """(content type, bytes) of an attachment."""
        with self._use() as s:
            return writes.read_attachment(s, attachment_id)

    def conflicts(self) -> list[Conflict]:
        with self._use() as s:
            return reading.conflicts(s)

    def fhir_user(self) -> str | None:
        """The signed-in user's own record ("Practitioner/9"), as the policy snapshot names it
        (the performer or sender of what the app records), or None when it names none."""
        with self._use() as s:
            value = s.policy.claims.get("fhirUser")
            return value if isinstance(value, str) and value else None

    # --- writing ------------------------------------------------------------------------------

    def record(self, action: str, resource: dict[str, Any], patient: str | None = None) -> Recorded:
        with self._use() as s:
            return writes.record(s, action, resource, patient)

    def add_attachment(self, patient: str, content_type: str, data: bytes) -> str:
        with self._use() as s:
            return writes.add_attachment(s, patient, content_type, data)

    def attach_photo(self, patient: str, data: bytes, description: str) -> Recorded:
        """A wound photo and its DocumentReference, saved together (:mod:`.photos`)."""
        with self._use() as s:
            return photos.attach(s, patient, data, description)

    def may_create(self, resource_type: str) -> bool:
        """Whether the user's role may create ``resource_type`` at all (what the app offers)."""
        with self._use() as s:
            return "c" in s.policy.letters(resource_type)

    def photos(self, patient: str) -> list[photos.Photo]:
        with self._use() as s:
            return photos.listing(s, patient)

    def save_draft(
        self,
        resource: dict[str, Any],
        *,
        patient: str | None = None,
        draft_id: str | None = None,
    ) -> str:
        with self._use() as s:
            return drafting.save_draft(s, resource, patient=patient, draft_id=draft_id)

    def drafts(self, patient: str | None = None) -> list[Draft]:
        with self._use() as s:
            return drafting.list_drafts(s, patient)

    def resume_draft(self, draft_id: str) -> Draft:
        with self._use() as s:
            return drafting.resume_draft(s, draft_id)

    def discard_draft(self, draft_id: str) -> None:
        with self._use() as s:
            drafting.discard_draft(s, draft_id)

    def record_draft(self, draft_id: str, action: str = "create") -> Recorded:
        with self._use() as s:
            return drafting.record_draft(s, draft_id, action)
