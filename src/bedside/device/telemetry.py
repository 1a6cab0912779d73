"""The health report a device sends at the end of each sync (docs/sync-protocol.md
"Telemetry"): built from the same :class:`~bedside.device.status.Status` that ``bedside device
status`` prints, so the server sees what the device shows its user, and nothing more.

PHI-free by construction: counts, ages in seconds, result codes (never the sentences that go
with them), the store's size, the app version and the posture facts. Sending it is best
effort: a sync that succeeded is not undone because the report could not be delivered.
"""

from __future__ import annotations

from typing import Any

from bedside.device.status import Status
from bedside.protocol.event import parse_time

__all__ = ["cache_age", "report"]


def cache_age(status: Status, now: float) -> int | None:
    """Seconds since the last successful pull (the end of the last sync); None if never."""
    at = parse_time(status.last_sync) if status.last_sync else None
    return None if at is None else max(0, round(now - at))


def report(status: Status, app_version: str, posture: dict[str, Any], now: float) -> dict[str, Any]:
    """The ``POST /device/telemetry`` body for an unlocked node's status at ``now``."""
    oldest = status.oldest_pending
    return {
        "protocol": 1,
        "outbox": dict(status.outbox or {}),
        "oldest_pending_age_s": None if oldest is None else max(0, round(now - oldest)),
        "last_error_codes": list(status.last_error_codes or []),
        "cache_age_s": cache_age(status, now),
        "store_bytes": status.store_bytes,
        "app_version": app_version or "unknown",
        "posture": posture,
        "snapshot_expires_at": None
        if status.snapshot_expires is None
        else int(status.snapshot_expires),
    }
