"""Device telemetry: what a device says about its own health at each sync, PHI-free.

``POST /device/telemetry`` (docs/sync-protocol.md "Telemetry") carries, for the device its token
names: the outbox depth by state, the age of the oldest unsent event, the last error codes
(sync result codes only, never their sentences), the cache age (time since the last successful
pull), the store's size on disk, the app version, the posture facts and when its offline
policy snapshot expires. Every field is checked
against a closed shape (:func:`parse_report`): a count, an age, a code from a fixed list, short
text for the version; nothing a device sends can carry a name or a record. The last report of
each device is kept (table ``device_telemetry``) for the console, ``bedside support`` and the
metrics, which only ever aggregate it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

import orjson

from bedside.errors import InvalidRequest
from bedside.fleet.enrolment import POSTURE_KEYS, posture_facts
from bedside.protocol.results import CODES, CONFLICT, IMPLAUSIBLE_TIME
from bedside.store.base import Records

__all__ = [
    "ERROR_CODES",
    "OUTBOX_STATES",
    "Report",
    "active_reports",
    "latest",
    "parse_report",
    "record",
    "reports",
]

OUTBOX_STATES: Final = ("pending", "sending", "confirmed", "needs-review", "rejected")
#: Codes a device may report as its last errors: the sync result codes, and its own failures.
ERROR_CODES: Final = frozenset(
    {*CODES, CONFLICT, IMPLAUSIBLE_TIME, "too-large", "unreachable", "refused", "clock"}
)
_MAX_COUNT: Final = 10**9
_MAX_AGE: Final = 10 * 365 * 86400  # ten years, in seconds
_MAX_BYTES: Final = 2**50
_MAX_CODES: Final = 10
_FIELDS: Final = frozenset(
    {
        "protocol",
        "outbox",
        "oldest_pending_age_s",
        "last_error_codes",
        "cache_age_s",
        "store_bytes",
        "app_version",
        "posture",
        "snapshot_expires_at",
    }
)


@dataclass(frozen=True, slots=True)
class Report:
    """One device's report, as kept; ``reported_at`` is the server's time of receipt."""

    outbox: dict[str, int]
    oldest_pending_age_s: int | None
    last_error_codes: list[str]
    cache_age_s: int | None
    store_bytes: int | None
    app_version: str
    posture: dict[str, Any] = field(default_factory=dict)
    snapshot_expires_at: int | None = None  # when the device's offline policy stops writes
    reported_at: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def unsent(self) -> int:
        """Events the server has not yet received for sure (pending or being sent)."""
        return self.outbox.get("pending", 0) + self.outbox.get("sending", 0)


def _whole(value: Any, name: str, most: int, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise InvalidRequest(f"{name} must be a whole number from 0 to {most}.")
    return value


def parse_report(body: Any) -> Report:
    """The report in a telemetry body, or InvalidRequest saying which field is wrong."""
    if not isinstance(body, dict):
        raise InvalidRequest("Send a JSON object: the device telemetry report.")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown telemetry fields: {', '.join(unknown[:5])}.")
    if body.get("protocol") != 1:
        raise InvalidRequest('This server speaks telemetry protocol 1: send "protocol": 1.')
    outbox_in = body.get("outbox")
    if not isinstance(outbox_in, dict) or not set(outbox_in) <= set(OUTBOX_STATES):
        raise InvalidRequest(f"outbox must map states ({', '.join(OUTBOX_STATES)}) to counts.")
    outbox = {s: _whole(outbox_in.get(s, 0), f"outbox.{s}", _MAX_COUNT) or 0 for s in OUTBOX_STATES}
    codes = body.get("last_error_codes", [])
    if (
        not isinstance(codes, list)
        or len(codes) > _MAX_CODES
        or not all(isinstance(c, str) and c in ERROR_CODES for c in codes)
    ):
        raise InvalidRequest(
            f"last_error_codes must list at most {_MAX_CODES} sync result codes"
            " (such as not-permitted or conflict)."
        )
    version = body.get("app_version")
    if not isinstance(version, str) or not 0 < len(version.strip()) <= 64:
        raise InvalidRequest("app_version must be text of 1 to 64 characters.")
    return Report(
        outbox=outbox,
        oldest_pending_age_s=_whole(
            body.get("oldest_pending_age_s"), "oldest_pending_age_s", _MAX_AGE
        ),
        last_error_codes=list(codes),
        cache_age_s=_whole(body.get("cache_age_s"), "cache_age_s", _MAX_AGE),
        store_bytes=_whole(body.get("store_bytes"), "store_bytes", _MAX_BYTES),
        app_version=version.strip(),
        snapshot_expires_at=_whole(body.get("snapshot_expires_at"), "snapshot_expires_at", 2**40),
        # the known facts only: other posture text has no place in a health report
        posture={k: v for k, v in posture_facts(body.get("posture")).items() if k in POSTURE_KEYS},
    )


def record(db: Records, device_id: str, report: Report, *, now: float) -> None:
    """Keep ``report`` as the device's latest (replacing the one before)."""
    kept = {k: v for k, v in report.to_json().items() if k != "reported_at"}
    db.run(
        "INSERT INTO device_telemetry (device_id, reported_at, report) VALUES (?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET reported_at = excluded.reported_at,"
        " report = excluded.report",
        [device_id, int(now), orjson.dumps(kept).decode()],
    )


def _report(reported_at: Any, text: Any) -> Report:
    data = orjson.loads(text)
    return Report(**{**data, "reported_at": int(reported_at)})


def latest(db: Records, device_id: str) -> Report | None:
    row = db.one(
        "SELECT reported_at, report FROM device_telemetry WHERE device_id = ?", [device_id]
    )
    return _report(row[0], row[1]) if row else None


def reports(db: Records) -> dict[str, Report]:
    """Every device's latest report, by device id (for the console and the metrics)."""
    rows = db.rows("SELECT device_id, reported_at, report FROM device_telemetry", [])
    return {str(d): _report(at, text) for d, at, text in rows}


def active_reports(db: Records) -> list[tuple[int, Report | None]]:
    """Each active device's registration time and latest report (None: none yet)."""
    rows = db.rows(
        "SELECT d.registered_at, t.reported_at, t.report FROM devices d"
        " LEFT JOIN device_telemetry t ON t.device_id = d.device_id WHERE d.status = ?",
        ["active"],
    )
    return [(int(reg), None if at is None else _report(at, text)) for reg, at, text in rows]
