"""Break-glass on the device while offline: re-entered PIN, typed reason, a time limit.

A patient outside the working set is refused (:func:`bedside.device.chart.not_reached`). When
the policy snapshot carries a ``break_glass`` claim with ``offline`` true (the role may use
break-glass and the policy allows it offline: docs/policy.md), the clinician may open the
patient's record on this device for ``seconds``: :func:`start` keeps the grant in the encrypted
``break_glass`` table and :func:`overlay` adds it to the session's policy as a ``break-glass``
entry and a ``BTG`` purpose, exactly as a server-issued grant appears in a snapshot, so every
read under it is logged with purposeOfUse ``BTG`` (:mod:`bedside.device.accesses`).

What the device can show is only what it holds: data kept from before (a patient who left the
working set within clinical grace) or nothing at all; :func:`held` counts it for the page.

At the next sync the grants and the views logged under them are sent first
(:func:`outgoing`, ``POST /sync/break-glass``) and marked acknowledged (:func:`settle`). A
grant not acknowledged by ``sync_by`` (``sync_seconds`` after it opened) stops: its access ends
and no new break-glass opens on this device until the server has it (:func:`why_not`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bedside.device import accesses
from bedside.device.errors import DeviceError
from bedside.device.offline import OfflinePolicy
from bedside.device.records import LocalRecords
from bedside.device.store import Connection
from bedside.protocol.event import format_time

__all__ = [
    "LONG_REASON",
    "MAX_REASON",
    "NOT_ALLOWED",
    "NO_REASON",
    "OVERDUE",
    "GlassRules",
    "Grant",
    "active",
    "grants",
    "held",
    "outgoing",
    "overlay",
    "rules_of",
    "settle",
    "start",
    "why_not",
]

MAX_REASON: Final = 1000
_COLUMNS: Final = "id, patient, reason, device_time, started, expires, sync_by, pushed, late"
NOT_ALLOWED: Final = (
    "Your policy does not allow break-glass on this device while offline. "
    "Connect to the network to ask for emergency access."
)
OVERDUE: Final = (
    "Break-glass is stopped on this device: an earlier break-glass has not reached the server "
    "within {hours} hours. Connect and sync to use it again."
)
NO_REASON: Final = "Type the reason you need to open this record."
LONG_REASON: Final = f"Keep the reason under {MAX_REASON} characters."


@dataclass(frozen=True, slots=True)
class GlassRules:
    """The snapshot's ``break_glass`` claim."""

    seconds: int
    sync_seconds: int


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    patient: str
    reason: str
    device_time: float
    started: float
    expires: float
    sync_by: float
    pushed: float | None
    late: bool

    def until(self) -> float:
        """When its access ends (server time): at expiry, or at sync_by if not yet sent."""
        return self.expires if self.pushed is not None else min(self.expires, self.sync_by)


def _grant(row: Sequence[Any]) -> Grant:
    return Grant(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        float(row[3]),
        float(row[4]),
        float(row[5]),
        float(row[6]),
        None if row[7] is None else float(row[7]),
        bool(row[8]),
    )


def rules_of(policy: OfflinePolicy) -> GlassRules | None:
    """The offline break-glass rules, or None when the policy does not allow it."""
    raw = policy.claims.get("break_glass")
    if not isinstance(raw, Mapping) or raw.get("offline") is not True:
        return None
    seconds, sync = raw.get("seconds"), raw.get("sync_seconds")
    if not isinstance(seconds, int) or not isinstance(sync, int) or seconds <= 0 or sync <= 0:
        return None
    return GlassRules(seconds, sync)


def grants(conn: Connection) -> list[Grant]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM break_glass ORDER BY started, id").fetchall()
    return [_grant(r) for r in rows]


def active(conn: Connection, at: float) -> list[Grant]:
    """Grants whose access runs at server time ``at``."""
    return [g for g in grants(conn) if g.until() > at]


def why_not(conn: Connection, policy: OfflinePolicy, at: float) -> str | None:
    """None when a new break-glass may open at server time ``at``, else the sentence why not."""
    rules = rules_of(policy)
    if rules is None:
        return NOT_ALLOWED
    if any(g.pushed is None and g.sync_by <= at for g in grants(conn)):
        return OVERDUE.format(hours=round(rules.sync_seconds / 3600))
    return None


def start(conn: Connection, policy: OfflinePolicy, patient: str, reason: str, now: float) -> Grant:
    """Open break-glass on ``patient`` at device time ``now`` (inside the caller's durable
    transaction; the PIN was checked by the caller). Raises DeviceError with the sentence."""
    text = " ".join(reason.split())
    if not text:
        raise DeviceError(NO_REASON)
    if len(text) > MAX_REASON:
        raise DeviceError(LONG_REASON)
    at = policy.to_server(now)
    why = why_not(conn, policy, at)
    rules = rules_of(policy)
    if why is not None or rules is None:
        raise DeviceError(why or NOT_ALLOWED)
    grant = Grant(
        id=secrets.token_hex(16),
        patient=patient,
        reason=text,
        device_time=now,
        started=at,
        expires=at + rules.seconds,
        sync_by=at + rules.sync_seconds,
        pushed=None,
        late=False,
    )
    conn.execute(
        f"INSERT INTO break_glass ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0)",
        (grant.id, patient, text, now, grant.started, grant.expires, grant.sync_by),
    )
    accesses.log(
        conn,
        at=now,
        patient=patient,
        rtype="Patient",
        action="break-glass",
        outcome="permitted",
        purpose="BTG",
    )
    return grant


def overlay(policy: OfflinePolicy, running: Sequence[Grant]) -> OfflinePolicy:
    """``policy`` with the device's running grants as ``break-glass`` entries and ``BTG``
    purposes (marked ``local``: an overlay replaces the last one, never stacks)."""
    claims = dict(policy.claims)
    entries = [e for e in claims.get("patients") or () if not e.get("local")]
    purposes = [p for p in claims.get("purpose") or () if not p.get("local")]
    for g in running:
        until = int(g.until())
        entries.append({"id": g.patient, "basis": "break-glass", "until": until, "local": True})
        purposes.append({"patient": g.patient, "code": "BTG", "until": until, "local": True})
    claims["patients"], claims["purpose"] = entries, purposes
    return OfflinePolicy(claims, policy.to_server)


def held(conn: Connection, patient: str) -> int:
    """How many records this device holds for ``patient`` (what break-glass can show)."""
    return LocalRecords(conn).count_of(patient)


def outgoing(conn: Connection, to_server: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """(grants to send, ids of the access rows they carry): every grant not yet acknowledged,
    and any acknowledged one with views logged under it since."""
    body: list[dict[str, Any]] = []
    carried: list[int] = []
    for g in grants(conn):
        end = g.device_time + (g.until() - g.started)
        rows = conn.execute(
            "SELECT id, at, type, action, count, resource_id FROM accesses WHERE uploaded IS "
            "NULL AND patient = ? AND purpose = 'BTG' AND outcome = 'permitted' "
            "AND action <> 'break-glass' AND at >= ? AND at <= ? ORDER BY id",
            (g.patient, g.device_time, end),
        ).fetchall()
        if g.pushed is not None and not rows:
            continue
        views = [
            {
                "at": format_time(to_server(float(r[1]))),
                "type": str(r[2]),
                "action": str(r[3]),
                "count": int(r[4]),
                **({"resource_id": str(r[5])} if r[5] else {}),
            }
            for r in rows
        ]
        body.append(
            {
                "id": g.id,
                "patient": g.patient,
                "reason": g.reason,
                "started": format_time(g.started),
                "expires": format_time(g.expires),
                "views": views,
            }
        )
        carried.extend(int(r[0]) for r in rows)
    return body, carried


def settle(
    conn: Connection, results: Sequence[Mapping[str, Any]], carried: Sequence[int], now: float
) -> int:
    """Record the server's acknowledgements (inside the caller's transaction); how many."""
    done = 0
    for r in results:
        if r.get("state") != "recorded" or not isinstance(r.get("id"), str):
            continue
        conn.execute(
            "UPDATE break_glass SET pushed = COALESCE(pushed, ?), late = ? WHERE id = ?",
            (now, 1 if r.get("late") else 0, r["id"]),
        )
        done += 1
    if done:
        accesses.mark_uploaded(conn, carried, now)
    return done
