"""``POST /device/telemetry``: a device's health report at each sync (docs/sync-protocol.md
"Telemetry"). The device's own token (an active device of its user); the body is checked by
:func:`bedside.fleet.telemetry.parse_report` and kept as the device's latest report, with
its audit entry in the same transaction; a refusal is audited on its own. ``204`` on success.
The work is :class:`bedside.fleet.reports.DeviceReports`, bound to the caller.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.fleet.reports import DeviceReports
from bedside.metrics import daily
from bedside.web import responses
from bedside.web.device_routes import DeviceRoutes
from bedside.web.fhir_http import bearer_token

__all__ = ["TelemetryApi"]


class TelemetryApi(DeviceRoutes):
    def routes(self) -> list[Route]:
        return [Route("/device/telemetry", self.report, methods=["POST"])]

    async def report(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        # authenticate before reading the body
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        raw = await request.body()
        reports = DeviceReports(
            self.store,
            self.policy,
            self.auth.auditor,
            caller,
            devices=self.devices,
            figures=daily.note,
            network=network,
        )
        await run_in_threadpool(reports.report, raw)
        return responses.empty()
