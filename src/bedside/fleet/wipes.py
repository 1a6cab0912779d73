"""What a device reported as it obeyed a wipe order: drained first, or how many events it lost.

A device flagged for wipe may still push (``POST /sync/push``: its events are checked at commit
like any other, G3) but never pull; when it learns of the order it pushes what it can, then
reports ``POST /device/wiped {"sent": n, "lost": m}`` and destroys its keys. ``lost`` is what
was still unsent: recorded on the device, never received by the server, gone with the keys.
The console device page and ``bedside admin device list`` show it (:func:`words`).
"""

from __future__ import annotations

from typing import Any, Final

from bedside.errors import InvalidRequest
from bedside.policy.breakglass import instant
from bedside.store.base import Records

__all__ = ["MAX_COUNT", "every", "of", "parse", "record", "short", "words"]

MAX_COUNT: Final = 10**9


def parse(body: Any) -> tuple[int, int]:
    """(sent, lost) from the report body; InvalidRequest otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest('Send {"sent": n, "lost": n}.')
    out = []
    for key in ("sent", "lost"):
        value = body.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            raise InvalidRequest(f"{key} must be a whole number of events.")
        out.append(value)
    return out[0], out[1]


def record(db: Records, device_id: str, *, sent: int, lost: int, now: float) -> bool:
    """Keep the first report (a device wipes once); True when this one was kept."""
    if db.one("SELECT 1 FROM device_wipes WHERE device_id = ?", [device_id]) is not None:
        return False
    db.run(
        "INSERT INTO device_wipes (device_id, reported_at, sent, lost) VALUES (?, ?, ?, ?)",
        [device_id, int(now), sent, lost],
    )
    return True


def of(db: Records, device_id: str) -> dict[str, Any] | None:
    row = db.one(
        "SELECT reported_at, sent, lost FROM device_wipes WHERE device_id = ?", [device_id]
    )
    return None if row is None else _shown(row)


def every(db: Records) -> dict[str, dict[str, Any]]:
    """Every device's wipe report, by device id."""
    rows = db.rows("SELECT device_id, reported_at, sent, lost FROM device_wipes", [])
    return {str(r[0]): _shown(r[1:]) for r in rows}


def _shown(row: Any) -> dict[str, Any]:
    return {
        "reported": instant(int(row[0])),
        "sent": int(row[1]),
        "lost": int(row[2]),
        "drained": int(row[2]) == 0,
    }


def words(status: str, wiped: dict[str, Any] | None) -> str:
    """One sentence on the wipe for the console and the CLI ("" for an active device)."""
    if wiped is not None:
        if wiped["drained"]:
            return "Wiped after sending everything: fully drained, nothing was lost."
        n = wiped["lost"]
        return (
            f"Wiped undrained: {n} event{'s' if n != 1 else ''} recorded on it never reached "
            "the server and were lost with it."
        )
    if status == "wipe":
        return "Not wiped yet: it sends what it can, then wipes, at its next contact."
    return ""


def short(status: str, wiped: dict[str, Any] | None) -> str:
    """The same, in a table cell: "drained", "3 lost", "ordered" or ""."""
    if wiped is not None:
        return "drained" if wiped["drained"] else f"{wiped['lost']} lost"
    return "ordered" if status == "wipe" else ""
