"""A device's compliance step, from its status and the posture it last reported.

The posture facts are the device's own word (docs/device-registry.md: they inform compliance
review, they prove nothing), so the steps say what the device reported, in order:

* ``compliant``: active, disk encryption and a screen lock both reported on;
* ``unknown``: active, one of them not reported (null);
* ``not-compliant``: active, one of them reported off;
* ``revoked``, ``wipe``: the registry's status, whatever the posture.

The latest posture wins (:func:`latest_posture`): the last health report's when it reported
any fact, else the registration's.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["STEPS", "latest_posture", "step"]

STEPS: Final = ("compliant", "unknown", "not-compliant", "revoked", "wipe")
_CHECKED: Final = ("disk_encryption", "screen_lock")


def step(status: str, posture: dict[str, Any]) -> str:
    if status != "active":
        return status if status in STEPS else "revoked"
    facts = [posture.get(k) for k in _CHECKED]
    if any(f is False for f in facts):
        return "not-compliant"
    if all(f is True for f in facts):
        return "compliant"
    return "unknown"


def latest_posture(reported: dict[str, Any] | None, registered: dict[str, Any]) -> dict[str, Any]:
    if reported and any(v is not None for v in reported.values()):
        return reported
    return registered
