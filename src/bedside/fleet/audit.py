"""The audit entry of one device-registry decision (docs/audit.md, docs/device-registry.md).

Subtypes, all in Bedside's audit-event code system: ``device-register``, ``device-status`` (only
when a device learns it was revoked or flagged for wipe: proof the order reached it),
``device-unlock-key``, ``device-pins`` (the pin list read), ``device-pin``, ``device-unpin``,
``device-list`` (an administrator listed devices), ``device-revoke``, ``device-wipe``.
Each entry names the device (AuditEvent agent), the user or operator who acted, and, for pins,
the patient. Descriptions are fixed phrases: never PHI, never a key.
"""

from __future__ import annotations

from typing import Final

from bedside.audit.entry import AuditEntry
from bedside.auth.caller import Caller

__all__ = ["CLI_OPERATOR", "SUBTYPES", "device_entry"]

SUBTYPES: Final = (
    "device-register",
    "device-status",
    "device-unlock-key",
    "device-pins",
    "device-pin",
    "device-unpin",
    "device-list",
    "device-revoke",
    "device-wipe",
    "device-telemetry",
    "device-wiped",
)
#: The subject recorded for changes made with ``bedside admin device`` (no token involved).
CLI_OPERATOR: Final = "operator"


def device_entry(
    subtype: str,
    action: str,
    outcome: str,
    *,
    device: str | None,
    caller: Caller | None,
    now: float,
    description: str,
    patient: str | None = None,
    network: str | None = None,
) -> AuditEntry:
    """One entry; ``caller`` None means the admin CLI acting as the operator."""
    if subtype not in SUBTYPES:
        raise ValueError(f"unknown device audit subtype {subtype}")
    return AuditEntry(
        subtype=subtype,
        action=action,
        outcome=outcome,
        recorded_ms=int(now * 1000),
        user_ref=caller.fhir_user if caller else None,
        subject=caller.subject if caller else CLI_OPERATOR,
        client_id=caller.client_id if caller else None,
        role=caller.role if caller else None,
        device=device,
        patients=(patient,) if patient else (),
        description=description,
        network=network,
    )
