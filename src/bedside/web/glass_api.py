"""``POST /sync/break-glass``: the break-glass grants a device opened offline, sent first at
each sync (docs/policy.md "Break-glass offline", docs/sync-protocol.md).

The device's own token (an active device of its user), then the body
(:func:`bedside.policy.breakglass_offline.parse_grants`). Each grant is kept for governance
review and each view it covered becomes an AuditEvent (purposeOfUse ``BTG``, the device's
time as when it occurred), all in one transaction; the answer lists one result per grant
(``recorded``, with ``late`` and ``allowed``). A grant sent again answers the same and writes
nothing twice. The reason is never logged or echoed. The work is
:class:`bedside.sync.glass_service.OfflineGrants`, bound to the caller.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.protocol import GLASS_PATH
from bedside.sync.glass_service import OfflineGrants
from bedside.web import responses
from bedside.web.device_routes import DeviceRoutes
from bedside.web.fhir_http import bearer_token

__all__ = ["GlassApi"]


class GlassApi(DeviceRoutes):
    def routes(self) -> list[Route]:
        return [Route(GLASS_PATH, self.receive, methods=["POST"])]

    async def receive(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        # authenticate before reading the body
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
        raw = await request.body()
        grants = OfflineGrants(
            self.store,
            self.policy,
            self.auth.auditor,
            caller,
            devices=self.devices,
            network=network,
        )
        results = await run_in_threadpool(grants.receive, raw)
        return responses.json(200, {"results": results})
