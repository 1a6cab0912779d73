"""``POST /device/wiped``: a device flagged for wipe says, just before it destroys its keys,
how many events its last push delivered and how many were still unsent (lost with it).

The device's own token; only a device flagged for wipe may report (409 otherwise: an active
device has nothing to confess, a revoked one 403). The first report is kept
(:class:`bedside.fleet.service.WipeReports`, over :mod:`bedside.fleet.wipes`), audited in the
same transaction; ``204``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.fleet.service import WipeReports
from bedside.web import responses
from bedside.web.device_routes import DeviceRoutes
from bedside.web.fhir_http import bearer_token

__all__ = ["WipeApi"]


class WipeApi(DeviceRoutes):
    def routes(self) -> list[Route]:
        return [Route("/device/wiped", self.report, methods=["POST"])]

    async def report(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
        raw = await request.body()
        reports = WipeReports(self.store, self.policy, self.auth.auditor, caller, network=network)
        device = await run_in_threadpool(self.devices.draining_device, caller)
        await run_in_threadpool(reports.report, device, raw)
        return responses.empty()
