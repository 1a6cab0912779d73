"""A device's status as `bedside device status`, `enroll` and `unlock` show it: table or JSON.

The table is for people (plain words; the offline policy only when the device is unlocked); the
JSON is the node's status with the cache age its telemetry reports, for scripts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table

from bedside.device.telemetry import cache_age

if TYPE_CHECKING:
    from bedside.device.home import DeviceInfo
    from bedside.device.status import Status

__all__ = ["status_json", "status_table", "when"]

_STORAGE = {
    "keyring": "in the OS key store (keyring)",
    "file": "in a file in the home folder (no OS key store was usable)",
}


def when(epoch: float | None) -> str:
    """A moment as ``YYYY-MM-DD HH:MM UTC``, or ``-`` for none."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_json(status: Status, info: DeviceInfo) -> dict[str, Any]:
    """The status, with the cache age the device reports in its telemetry."""
    return {
        **status.to_json(),
        "cache_age_s": cache_age(status, time.time()) if status.unlocked else None,
        "client_id": info.client_id,
        "app_version": info.app_version,
        "enrolled_at": info.enrolled_at,
    }


def status_table(status: Status, info: DeviceInfo) -> Table:
    """The status as a table: enrollment and keys, and when unlocked the offline policy."""
    keys = status.keys
    table = Table(title="Device", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("Device id", status.device_id)
    table.add_row("User", status.user)
    table.add_row("Server", status.server)
    table.add_row("Enrolled", f"{when(info.enrolled_at)} (app {info.app_version or 'unknown'})")
    if keys.locked:
        why = f" ({keys.reason})" if keys.reason else ""
        table.add_row("Keys", f"locked{why}: only an online sign-in can open this device")
    else:
        table.add_row("Keys", f"PIN works; {keys.attempts_left} wrong PIN(s) left before lockout")
    table.add_row("Device secret", _STORAGE.get(keys.secret_storage, keys.secret_storage))
    if not status.unlocked:
        table.add_row("Offline policy", "not shown: the device is locked (give the PIN to see it)")
    else:
        table.add_row("Mode", status.mode or "-")
        table.add_row("Writes allowed until", when(status.snapshot_expires))
        table.add_row("Read-only until", when(status.read_only_until))
        table.add_row("Patients on device", str(status.working_set))
        counts = status.outbox or {}
        queued = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()) if n) or "empty"
        table.add_row("Outbox", queued)
        table.add_row("Oldest unsent", when(status.oldest_pending))
        table.add_row("Drafts", str(status.drafts))
        table.add_row("Open conflicts", str(status.open_conflicts))
        table.add_row("Last sync", status.last_sync or "never")
        age = cache_age(status, time.time())
        table.add_row("Data on device", "never pulled" if age is None else f"pulled {age} s ago")
        table.add_row("Store size", f"{(status.store_bytes or 0) / 1_048_576:.1f} MiB")
        codes = ", ".join(status.last_error_codes or []) or "none"
        table.add_row("Last error codes", codes)
    return table
