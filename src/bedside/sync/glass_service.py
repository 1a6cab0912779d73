"""The break-glass grants a device opened offline, for one caller (docs/policy.md "Break-glass
offline", docs/sync-protocol.md).

Built per request like ``Repository(store, caller)``: the caller is the device's own token (an
active device of its user); each grant is kept for governance review and each view it covered
becomes an AuditEvent (purposeOfUse ``BTG``, the device's time as when it occurred), all in
one transaction. A grant sent again answers the same and writes nothing twice. The reason is
never logged or echoed. The HTTP layer (:mod:`bedside.web.glass_api`) parses and answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bedside.audit.entry import AuditEntry
from bedside.auth.caller import Caller
from bedside.fhir import json_body
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy import breakglass_offline as offline
from bedside.policy.bound import CallerBound
from bedside.rest.trail import Trail

__all__ = ["OfflineGrants"]

_READS: Final = {"read": "read", "search": "search-type"}


@dataclass
class OfflineGrants(CallerBound):
    devices: DeviceAuth = field(kw_only=True)
    network: str | None = field(default=None, kw_only=True)

    def receive(self, raw: bytes) -> list[dict[str, Any]]:
        """Keep the grants in ``raw`` (the request body); one result per grant."""
        device = self.devices.active_device(self.caller)
        grants = offline.parse_grants(json_body.loads(raw))
        now = self.policy.clock()
        results = []
        with self.store.write() as session:
            db = session.records()
            for grant in grants:
                answer, new = offline.record(
                    db, self.caller, device.device_id, grant, rules=self.policy.rules, now=now
                )
                results.append(answer)
                if new:
                    self.auditor.append(db, _entries(self.caller, grant, self.network, now))
        return results


def _entries(
    caller: Caller, grant: offline.OfflineGrant, network: str | None, now: float
) -> list[AuditEntry]:
    """The grant's opening and each view under it, as the device logged them."""
    trail = Trail(caller, lambda: now, network)
    trail.occurred_ms = int(grant.started * 1000)
    trail.note(
        "break-glass",
        patients=[grant.patient],
        purpose=("BTG",),
        description="break-glass opened offline on this device",
    )
    for view in grant.views:
        trail.occurred_ms = int(view.at * 1000)
        trail.note(
            _READS.get(view.action, "read"),
            rtype=view.type if view.type != "*" else None,
            patients=[grant.patient],
            entities=[f"{view.type}/{view.resource_id}"] if view.resource_id else [],
            purpose=("BTG",),
            description=f"offline break-glass {view.action}: {view.count} records",
        )
    return trail.entries
