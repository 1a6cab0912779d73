"""What the device says about itself: mode, deadlines, keys and queues — counts only, no PHI.

The app shows this on its status bar (G1: "3 saved on device, 1 needs review"; G6: "read-only
in 2 h"), and the CLI prints it as JSON. While the device is locked only ``device.json`` and the
key file can be read, so the fields that need the store are ``None``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bedside.device.home import DeviceInfo
from bedside.device.keys import KeyStatus
from bedside.device.session import Session

__all__ = ["Status", "build_status"]


@dataclass(frozen=True, slots=True)
class Status:
    """The node's state at one moment."""

    device_id: str
    user: str
    server: str
    unlocked: bool
    keys: KeyStatus
    mode: str | None = None  # normal | read-only | locked; None while locked
    snapshot_expires: float | None = None  # writes stop here (read-only from then)
    read_only_until: float | None = None  # then locked until an online sign-in
    locks_at: float | None = None  # the inactivity lock, if nothing happens before
    outbox: dict[str, int] | None = None  # events per state
    oldest_pending: float | None = None  # when the oldest unsent event was recorded
    working_set: int | None = None  # patients on the device now
    drafts: int | None = None  # unrecorded drafts
    open_conflicts: int | None = None
    last_sync: str | None = None  # meta.last_sync, written by sync
    last_error_codes: list[str] | None = None  # newest first: the codes of unsettled results
    store_bytes: int | None = None  # the encrypted store on disk, with its write-ahead log

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_status(
    info: DeviceInfo, keys: KeyStatus, session: Session | None, locks_at: float | None
) -> Status:
    """The status of a locked node (``session`` None) or an unlocked one."""
    base = Status(info.device_id, info.user, info.server, session is not None, keys)
    if session is None:
        return base
    policy, now = session.policy, session.clock()
    with session.store.reading() as conn:

        def count(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        working = count("SELECT count(*) FROM patients WHERE left_at IS NULL")
        open_drafts = count("SELECT count(*) FROM drafts WHERE outbox_seq IS NULL")
        conflicts = count("SELECT count(*) FROM conflicts WHERE state = 'open'")
        oldest = conn.execute(
            "SELECT min(created) FROM outbox WHERE state IN ('pending', 'sending')"
        ).fetchone()[0]
        results = conn.execute(
            "SELECT result FROM outbox WHERE state IN ('needs-review', 'rejected')"
            " AND result IS NOT NULL ORDER BY updated DESC LIMIT 50"
        ).fetchall()
    return Status(
        device_id=info.device_id,
        user=info.user,
        server=info.server,
        unlocked=True,
        keys=keys,
        mode=str(policy.mode(now)),
        snapshot_expires=float(policy.expires),
        read_only_until=float(policy.expires + policy.settings.grace_seconds),
        locks_at=locks_at,
        outbox=session.outbox.counts(),
        oldest_pending=float(oldest) if oldest is not None else None,
        working_set=working,
        drafts=open_drafts,
        open_conflicts=conflicts,
        last_sync=session.store.meta("last_sync"),
        last_error_codes=_codes(row[0] for row in results),
        store_bytes=_size(session.store.path),
    )


def _codes(results: Iterable[str]) -> list[str]:
    """The distinct result codes (never their sentences), newest first, at most ten."""
    codes: list[str] = []
    for text in results:
        code = orjson.loads(text).get("code")
        if isinstance(code, str) and code not in codes:
            codes.append(code)
    return codes[:10]


def _size(path: Path) -> int:
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += part.stat().st_size
    return total
