"""``POST /sync/break-glass``: the break-glass grants a device opened offline, sent first at
each sync (docs/policy.md "Break-glass offline", docs/sync-protocol.md).

The device's own token (an active device of its user), then the body
(:func:`bedside.policy.breakglass_offline.parse_grants`). Each grant is kept for governance
review and each view it covered becomes an AuditEvent (purposeOfUse ``BTG``, the device's
time as when it occurred), all in one transaction; the answer lists one result per grant
(``recorded``, with ``late`` and ``allowed``). A grant sent again answers the same and writes
nothing twice. The reason is never logged or echoed.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import AuditEntry
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.fhir import json_body
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy import breakglass_offline as offline
from bedside.policy.decide import Policy
from bedside.rest.trail import Trail
from bedside.store.base import Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["GlassApi"]

_READS: Final = {"read": "read", "search": "search-type"}


class GlassApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)

    def routes(self) -> list[Route]:
        return [Route("/sync/break-glass", self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        # authenticate before reading the body
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
        raw = await request.body()

        def work() -> Response:
            device = self.devices.active_device(caller)
            grants = offline.parse_grants(json_body.loads(raw))
            now = self.policy.clock()
            results = []
            with self.store.write() as session:
                db = session.records()
                for grant in grants:
                    answer, new = offline.record(
                        db, caller, device.device_id, grant, rules=self.policy.rules, now=now
                    )
                    results.append(answer)
                    if new:
                        self.auth.auditor.append(db, _entries(caller, grant, network, now))
            return responses.json(200, {"results": results})

        return await run_in_threadpool(work)


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
