"""The Subscriptions' own tables (migration 0013): state, event numbers, websocket tokens.

Plain SQL on :class:`~bedside.store.base.Records`. A Subscription's sender is whoever holds
its *lease* (``lease_owner`` until ``lease_until``): taking it is one conditional UPDATE, so
with several server processes each Subscription has exactly one sender at a time, and a
sender that died is replaced once its lease runs out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.store.base import Records
from bedside.subscriptions.spec import SubscriptionSpec

__all__ = [
    "Event",
    "SubscriptionRow",
    "add_ws_token",
    "delete",
    "delivered",
    "digest",
    "events",
    "failed",
    "get",
    "insert",
    "live",
    "of_owner",
    "record_events",
    "redeem_ws_token",
    "release",
    "set_status",
    "take_lease",
]

_COLUMNS: Final = (
    "id, owner, caller, resource, topic, rtype, patient, channel, endpoint, headers, content,"
    " heartbeat, status, events, delivered, cursor_major, cursor_seq, last_sent, failures,"
    " created_at"
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: str
    owner: str
    caller: dict[str, Any]
    resource: dict[str, Any]
    spec: SubscriptionSpec
    status: str
    events: int
    delivered: int
    cursor: tuple[int, int]
    last_sent: float
    failures: int
    created_at: float


@dataclass(frozen=True, slots=True)
class Event:
    number: int
    seq: int
    rtype: str
    rid: str
    version: int
    op: str
    recorded_at: float


def _row(r: Sequence[Any]) -> SubscriptionRow:
    spec = SubscriptionSpec(
        str(r[4]),
        str(r[5]),
        r[6],
        str(r[7]),
        r[8],
        tuple(orjson.loads(r[9])),
        str(r[10]),
        int(r[11]),
    )
    return SubscriptionRow(
        str(r[0]),
        str(r[1]),
        orjson.loads(r[2]),
        orjson.loads(r[3]),
        spec,
        str(r[12]),
        int(r[13]),
        int(r[14]),
        (int(r[15]), int(r[16])),
        float(r[17]),
        int(r[18]),
        float(r[19]),
    )


def insert(
    db: Records,
    sid: str,
    owner: str,
    caller: dict[str, Any],
    resource: dict[str, Any],
    spec: SubscriptionSpec,
    status: str,
    cursor: tuple[int, int],
    now: float,
) -> None:
    db.run(
        f"INSERT INTO subscriptions ({_COLUMNS}) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sid,
            owner,
            orjson.dumps(caller).decode(),
            orjson.dumps(resource).decode(),
            spec.topic,
            spec.rtype,
            spec.patient,
            spec.channel,
            spec.endpoint,
            orjson.dumps(list(spec.headers)).decode(),
            spec.content,
            spec.heartbeat,
            status,
            0,
            0,
            cursor[0],
            cursor[1],
            now,
            0,
            now,
        ),
    )


def get(db: Records, sid: str) -> SubscriptionRow | None:
    row = db.one(f"SELECT {_COLUMNS} FROM subscriptions WHERE id = ?", (sid,))
    return _row(row) if row else None


def of_owner(db: Records, owner: str) -> list[SubscriptionRow]:
    rows = db.rows(f"SELECT {_COLUMNS} FROM subscriptions WHERE owner = ? ORDER BY id", (owner,))
    return [_row(r) for r in rows]


def live(db: Records) -> list[str]:
    """Ids of the Subscriptions a dispatcher works for (requested, active or in error)."""
    return [
        str(r[0])
        for r in db.rows(
            "SELECT id FROM subscriptions WHERE status IN ('requested', 'active', 'error')"
            " ORDER BY id"
        )
    ]


def delete(db: Records, sid: str) -> None:
    db.run("DELETE FROM subscription_events WHERE subscription = ?", (sid,))
    db.run("DELETE FROM subscription_ws_tokens WHERE subscription = ?", (sid,))
    db.run("DELETE FROM subscriptions WHERE id = ?", (sid,))


def take_lease(db: Records, sid: str, holder: str, now: float, seconds: float) -> bool:
    """Whether ``holder`` sends for ``sid`` until ``now + seconds`` (one UPDATE: atomic)."""
    changed = db.run(
        "UPDATE subscriptions SET lease_owner = ?, lease_until = ? WHERE id = ?"
        " AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)",
        (holder, now + seconds, sid, holder, now),
    )
    return changed == 1


def release(db: Records, holder: str) -> None:
    db.run(
        "UPDATE subscriptions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
        (holder,),
    )


def set_status(db: Records, sid: str, status: str) -> None:
    db.run("UPDATE subscriptions SET status = ? WHERE id = ?", (status, sid))


def record_events(
    db: Records,
    sid: str,
    events: Sequence[Event],
    cursor: tuple[int, int],
) -> None:
    for e in events:
        db.run(
            "INSERT INTO subscription_events (subscription, number, seq, rtype, rid, version,"
            " op, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sid, e.number, e.seq, e.rtype, e.rid, e.version, e.op, e.recorded_at),
        )
    last = events[-1].number if events else None
    if last is None:
        db.run(
            "UPDATE subscriptions SET cursor_major = ?, cursor_seq = ? WHERE id = ?",
            (cursor[0], cursor[1], sid),
        )
    else:
        db.run(
            "UPDATE subscriptions SET cursor_major = ?, cursor_seq = ?, events = ? WHERE id = ?",
            (cursor[0], cursor[1], last, sid),
        )


def delivered(db: Records, sid: str, number: int, now: float) -> None:
    db.run(
        "UPDATE subscriptions SET delivered = ?, last_sent = ?, failures = 0,"
        " status = CASE WHEN status = 'error' THEN 'active' ELSE status END WHERE id = ?",
        (number, now, sid),
    )


def failed(db: Records, sid: str, now: float) -> int:
    db.run(
        "UPDATE subscriptions SET failures = failures + 1, last_sent = ?, status = 'error'"
        " WHERE id = ?",
        (now, sid),
    )
    row = db.one("SELECT failures FROM subscriptions WHERE id = ?", (sid,))
    return int(row[0]) if row else 0


def events(db: Records, sid: str, since: int, until: int, limit: int) -> list[Event]:
    rows = db.rows(
        "SELECT number, seq, rtype, rid, version, op, recorded_at FROM subscription_events"
        " WHERE subscription = ? AND number >= ? AND number <= ? ORDER BY number LIMIT ?",
        (sid, since, until, limit),
    )
    return [
        Event(int(n), int(s), str(t), str(i), int(v), str(o), float(at))
        for n, s, t, i, v, o, at in rows
    ]


def add_ws_token(db: Records, token: str, sid: str, expires: float) -> None:
    db.run("DELETE FROM subscription_ws_tokens WHERE expires_at < ?", (expires - 3600,))
    db.run(
        "INSERT INTO subscription_ws_tokens (digest, subscription, expires_at) VALUES (?, ?, ?)",
        (digest(token), sid, expires),
    )


def redeem_ws_token(db: Records, token: str, now: float) -> str | None:
    """The Subscription a binding token is for, once (it is removed), if still valid."""
    key = digest(token)  # the digest is the lookup key: no comparison of secrets in Python
    row = db.one(
        "SELECT subscription, expires_at FROM subscription_ws_tokens WHERE digest = ?", (key,)
    )
    if row is None:
        return None
    db.run("DELETE FROM subscription_ws_tokens WHERE digest = ?", (key,))
    return str(row[0]) if float(row[1]) >= now else None
