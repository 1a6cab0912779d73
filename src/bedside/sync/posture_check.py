"""Graduated compliance at commit (G3): the step of the pushing device's last reported posture
(:mod:`bedside.policy.posture`) decides whether an event may commit. The device applies the same
step before it records (bedside.device.compliance); this catches a device whose facts changed
since, or that did not apply it. A refused event is rejected with the reason, so it stays on the
device as rejected, never lost silently.
"""

from __future__ import annotations

from bedside.fleet import compliance, registry, telemetry
from bedside.policy.posture import PostureRules, assess, refuses
from bedside.protocol.event import Event
from bedside.store.base import Records

__all__ = ["Posture", "device_step"]


def device_step(db: Records, device: registry.Device, rules: PostureRules) -> tuple[str, list[str]]:
    """(step, reasons) from the device's latest posture: its last health report's, else its
    registration's."""
    report = telemetry.latest(db, device.device_id)
    facts = compliance.latest_posture(report.posture if report else None, device.posture)
    return assess(facts, rules)


class Posture:
    """One push's posture decision, made once (the facts do not change within a push)."""

    def __init__(self, rules: PostureRules) -> None:
        self.rules = rules
        self._step: tuple[str, list[str]] | None = None

    def refusal(self, db: Records, device: registry.Device, event: Event) -> str | None:
        if self._step is None:
            self._step = device_step(db, device, self.rules)
        step, reasons = self._step
        return refuses(step, reasons, event.action, event.resource)
