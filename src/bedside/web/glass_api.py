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

from bedside.auth.server import AuthServer
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.decide import Policy
from bedside.protocol import GLASS_PATH
from bedside.store.base import Store
from bedside.sync.glass_service import OfflineGrants
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["GlassApi"]


class GlassApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)

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
