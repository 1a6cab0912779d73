"""The node's side of sync: the outbox, pulled pages, snapshots, tokens and the server's clock.

A part of :class:`bedside.device.node.Node` (a mixin, so the node stays one object for the app
and for :mod:`bedside.device.sync`); every method runs under the node's lock with its session,
as a background call that neither counts as use nor keeps the device awake (except
:meth:`SyncSide.outbox`, which the user reads). Sync works the outbox itself, inside
:meth:`SyncSide.background`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any

from bedside.device import lifecycle, uploads
from bedside.device import receive as receiving
from bedside.device.accesses import Access, pending
from bedside.device.clock import ServerClock
from bedside.device.errors import DeviceError
from bedside.device.outbox import OutboxEntry
from bedside.device.pulled import Applied, apply_page
from bedside.device.receive import Received
from bedside.device.session import Session
from bedside.device.workingset import PurgeReport
from bedside.protocol.event import format_time

__all__ = ["SyncSide"]


class SyncSide:
    """What sync asks of a node (:class:`~bedside.device.node.Node` provides ``_use``)."""

    _clock: ServerClock

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    @property
    def clock(self) -> ServerClock:
        """The node's clock: called, the device's own time (what events and pushes carry); its
        :meth:`~bedside.device.clock.ServerClock.now` is the server's time as learned online,
        which every check against a token's or the snapshot's times uses."""
        return self._clock

    def save_clock(self) -> None:
        """Keep the server's clock as learned in the store (it survives restarts); a no-op when
        the device is locked."""
        with suppress(DeviceError), self._use(background=True) as s:
            lifecycle.keep_clock(s.store, self._clock)

    def outbox(self, state: str | None = None) -> list[OutboxEntry]:
        with self._use() as s:
            return s.outbox.list(state)

    @contextmanager
    def background(self) -> Iterator[Session]:
        """The node's session for one step of sync, under the node's lock: the seam through
        which :mod:`bedside.device.sync` takes, settles and requeues outbox events
        (:class:`~bedside.device.outbox.Outbox`, stamped with ``session.clock()``). A background
        use: it neither counts as use nor keeps the device awake. Never hold it across a
        network call (the app waits on the same lock)."""
        with self._use(background=True) as s:
            yield s

    def apply_pull(self, page: Mapping[str, Any]) -> Applied:
        """Apply one pulled page and its cursor in one transaction (docs/sync-protocol.md)."""
        with self._use(background=True) as s:
            applied = apply_page(s, page)
            s.store.checkpoint_if_large()
            return applied

    def sync_token(self) -> str | None:
        """The pull cursor of the last page applied (None before a first sync)."""
        with self._use(background=True) as s:
            return s.store.meta("sync_token")

    def receive(
        self, resources: Iterable[dict[str, Any]], *, sync_token: str | None = None
    ) -> Received:
        with self._use(background=True) as s:
            received = receiving.receive(s, resources, sync_token=sync_token)
            s.store.checkpoint_if_large()
            return received

    def apply_snapshot(self, jws: str, jwks: dict[str, Any] | None = None) -> PurgeReport:
        """Verify and store a new snapshot, then reconcile the working set with it."""
        with self._use(background=True) as s:
            return self._store_snapshot(s, jws, jwks)

    def _store_snapshot(self, s: Session, jws: str, jwks: dict[str, Any] | None) -> PurgeReport:
        return lifecycle.store_snapshot(s, jws, jwks, self._clock())

    def mark_synced(self) -> None:
        """Record that a sync just finished (``last_sync``: what the app's banner shows)."""
        with self._use(background=True) as s:
            s.store.set_meta("last_sync", format_time(self._clock()))

    def refresh_token(self) -> str | None:
        """The refresh token (kept only inside the encrypted store)."""
        with self._use(background=True) as s:
            return s.store.meta("refresh_token")

    def set_refresh_token(self, token: str) -> None:
        """Replace the refresh token (they rotate on every use)."""
        with self._use(background=True) as s:
            s.store.set_meta("refresh_token", token)

    def accesses(self, limit: int = 1000) -> list[Access]:
        """Access decisions not yet uploaded, oldest first (for sync and for review)."""
        with self._use(background=True) as s, s.store.reading() as conn:
            return pending(conn, limit)

    # --- attachments (bedside.device.uploads) --------------------------------------------------

    def attachments_due(self) -> list[uploads.Due]:
        """Attachments whose record the server confirmed and which wait to be uploaded."""
        with self._use(background=True) as s:
            return uploads.due(s)

    def attachment_payload(self, attachment_id: str) -> bytes:
        """An attachment's bytes for upload (decrypted in memory only)."""
        with self._use(background=True) as s:
            return uploads.payload(s, attachment_id)

    def attachment_synced(self, attachment_id: str) -> None:
        """The server confirmed it keeps the attachment: retention counts from now."""
        with self._use(background=True) as s:
            uploads.mark_synced(s, attachment_id, self._clock())
