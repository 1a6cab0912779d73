"""The replay record: every event the server settled, per device (table ``sync_events``).

What makes a push safe to repeat (brief G2, docs/sync-protocol.md "Replay"): the row of
``(device, seq)`` keeps the idempotency key, the SHA-256 of the event's canonical bytes and the
result bytes first answered. The same event again gets those bytes; a different event under a
taken ``seq`` or key is refused. The primary key ``(device, seq)`` and the unique
``(device, idempotency_key)`` make the database, not process memory, decide: of two server
processes settling the same event, one inserts and the other finds the row (docs/sync-server.md).

The row also keeps the signed event as received, so later events of the same device can be
merged against what it sent (a chain of offline edits), and an auditor can see what was signed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.protocol.event import Event, canonical
from bedside.protocol.results import CONFIRMED, MERGED, Result
from bedside.store.base import Records

__all__ = ["Recorded", "digest", "find", "history", "latest_accepted", "of_seq", "record"]

_COLUMNS: Final = (
    "seq, idempotency_key, digest, resource_type, resource_id, state, version, result, event"
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A settled event of one device."""

    seq: int
    idempotency_key: str
    digest: str
    resource_type: str
    resource_id: str
    state: str
    version: int | None  # the server version it produced (confirmed or merged)
    result: bytes  # exactly as first answered
    event: dict[str, Any]  # the signed event as received

    @property
    def resource(self) -> dict[str, Any]:
        found: dict[str, Any] = self.event["resource"]
        return found


def _recorded(row: tuple[Any, ...]) -> Recorded:
    seq, key, dig, rtype, rid, state, version, result, event = row
    return Recorded(
        int(seq),
        str(key),
        str(dig),
        str(rtype),
        str(rid),
        str(state),
        int(version) if version is not None else None,
        bytes(result),
        orjson.loads(bytes(event)),
    )


def digest(event: Event) -> str:
    """SHA-256 (hex) of the event's canonical bytes: what "the same content" means."""
    return hashlib.sha256(canonical(event.body())).hexdigest()


def find(db: Records, device: str, seq: int, key: str) -> list[Recorded]:
    """The settled events of ``device`` that hold this ``seq`` or this key (0, 1 or 2)."""
    # two index lookups: with "seq = ? OR idempotency_key = ?" SQLite reads every row of the
    # device (the push slowed down as the device's history grew)
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM sync_events WHERE device = ? AND seq = ? UNION"
        f" SELECT {_COLUMNS} FROM sync_events WHERE device = ? AND idempotency_key = ?"
        " ORDER BY seq",
        [device, seq, device, key],
    )
    return [_recorded(r) for r in rows]


def of_seq(db: Records, device: str, seq: int) -> Recorded | None:
    row = db.one(f"SELECT {_COLUMNS} FROM sync_events WHERE device = ? AND seq = ?", [device, seq])
    return _recorded(row) if row else None


def latest_accepted(
    db: Records, device: str, rtype: str, rid: str, before_seq: int
) -> Recorded | None:
    """The device's last event before ``before_seq`` that the server applied to this resource
    (confirmed or merged): the one a later offline edit of the same record was made on top of."""
    row = db.one(
        f"SELECT {_COLUMNS} FROM sync_events WHERE device = ? AND resource_type = ?"
        " AND resource_id = ? AND seq < ? AND state IN (?, ?) ORDER BY seq DESC LIMIT 1",
        [device, rtype, rid, before_seq, CONFIRMED, MERGED],
    )
    return _recorded(row) if row else None


def record(
    db: Records,
    event: Event,
    signed: dict[str, Any],
    result: Result,
    *,
    received: str,
    version: int | None = None,
) -> bool:
    """Keep the settled event; False when another process settled it first (nothing written)."""
    changed = db.run(
        "INSERT INTO sync_events (device, seq, idempotency_key, digest, resource_type,"
        " resource_id, state, version, result, event, device_time, received)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            event.device,
            event.seq,
            event.idempotency_key,
            digest(event),
            event.resource_type,
            event.resource_id,
            result.state,
            version,
            result.encode(),
            orjson.dumps(signed),
            event.device_time,
            received,
        ],
    )
    return changed > 0


def history(db: Records, device: str, limit: int = 50) -> list[tuple[int, str, str, str, str, str]]:
    """The device's latest settled events, newest first: (seq, idempotency key, resource type,
    state, the result's code or "", received time). For ``bedside support``: no content."""
    rows = db.rows(
        "SELECT seq, idempotency_key, resource_type, state, result, received FROM sync_events"
        " WHERE device = ? ORDER BY seq DESC LIMIT ?",
        [device, limit],
    )
    out = []
    for seq, key, rtype, state, result, received in rows:
        code = orjson.loads(bytes(result)).get("code") or ""
        out.append((int(seq), str(key), str(rtype), str(state), str(code), str(received)))
    return out
