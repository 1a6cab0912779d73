"""Clock discipline (docs/sync-protocol.md "Clock discipline", brief G7).

A device's clock may be wrong. Each push says what the device's clock read when it sent
(``device_time``); against the server's clock that gives the device's skew, answered to the
device and kept per device (table ``sync_clock``). An event's own ``device_time`` less that
skew is when the user acted, as well as the server can tell. An event that would then lie more
than :data:`TOLERANCE_S` in the future, or before the device was enrolled, is not trusted: it
goes to review instead of being written as if its time were true.
"""

from __future__ import annotations

from typing import Final

from bedside.protocol.event import parse_time
from bedside.store.base import Records

__all__ = ["TOLERANCE_S", "implausible", "last_measured", "record_skew", "skew_ms"]

#: How far an event's corrected time may lie past now (or before enrolment): five minutes.
TOLERANCE_S: Final = 300


def skew_ms(device_time: str, server_now: float) -> int | None:
    """The device's clock minus the server's, in milliseconds; None for a malformed time."""
    at = parse_time(device_time)
    return None if at is None else round((at - server_now) * 1000)


def record_skew(db: Records, device: str, skew: int, now: float) -> None:
    db.run(
        "INSERT INTO sync_clock (device, skew_ms, measured_at) VALUES (?, ?, ?)"
        " ON CONFLICT (device) DO UPDATE SET skew_ms = excluded.skew_ms,"
        " measured_at = excluded.measured_at",
        [device, skew, int(now)],
    )


def last_measured(db: Records, device: str) -> tuple[int, int] | None:
    """(skew in ms, when it was measured) at the device's last push, or None if it never did."""
    row = db.one("SELECT skew_ms, measured_at FROM sync_clock WHERE device = ?", [device])
    return None if row is None else (int(row[0]), int(row[1]))


def implausible(device_time: str, skew: int, now: float, enrolled: float) -> str | None:
    """Why an event's time cannot be trusted, or None when it can."""
    at = parse_time(device_time)
    if at is None:
        return "The time of this action is not a valid time."
    corrected = at - skew / 1000
    if corrected > now + TOLERANCE_S:
        return "The device's clock put this action in the future; check the time it was done."
    if corrected < enrolled - TOLERANCE_S:
        return "The device's clock put this action before the device was enrolled."
    return None
