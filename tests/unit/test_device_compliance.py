"""A device's compliance step from its status and reported posture (docs/console.md)."""

from __future__ import annotations

import pytest

from bedside.fleet.compliance import step


@pytest.mark.parametrize(
    ("status", "posture", "expected"),
    [
        ("active", {"disk_encryption": True, "screen_lock": True}, "compliant"),
        ("active", {"disk_encryption": True, "screen_lock": None}, "unknown"),
        ("active", {}, "unknown"),
        ("active", {"disk_encryption": False, "screen_lock": True}, "not-compliant"),
        ("active", {"disk_encryption": None, "screen_lock": False}, "not-compliant"),
        ("active", {"disk_encryption": "yes", "screen_lock": True}, "unknown"),
        ("revoked", {"disk_encryption": True, "screen_lock": True}, "revoked"),
        ("wipe", {"disk_encryption": False}, "wipe"),
    ],
)
def test_the_step_follows_status_then_what_the_device_reported(
    status: str, posture: dict[str, object], expected: str
) -> None:
    assert step(status, posture) == expected
