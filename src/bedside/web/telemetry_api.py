"""``POST /device/telemetry``: a device's health report at each sync (docs/sync-protocol.md
"Telemetry"). The device's own token (an active device of its user); the body is checked by
:func:`bedside.fleet.telemetry.parse_report` and kept as the device's latest report, with
its audit entry in the same transaction; a refusal is audited on its own. ``204`` on success.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import FhirError
from bedside.fhir import json_body
from bedside.fleet import registry, telemetry
from bedside.fleet.audit import device_entry
from bedside.fleet.device_auth import DeviceAuth
from bedside.metrics import daily
from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.sync.posture_check import device_step
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["TelemetryApi"]

_EVENT: Final = ("device-telemetry", "U")


class TelemetryApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)

    def routes(self) -> list[Route]:
        return [Route("/device/telemetry", self.report, methods=["POST"])]

    async def report(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        # authenticate before reading the body
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        raw = await request.body()

        def work() -> Response:
            device_id = caller.device
            try:
                device = self.devices.active_device(caller)
                report = telemetry.parse_report(json_body.loads(raw))
                now = self.policy.clock()
                with self.store.write() as session:
                    db = session.records()
                    telemetry.record(db, device.device_id, report, now=now)
                    waiting = sum(r.unsent for _, r in telemetry.active_reports(db) if r)
                    daily.note(db, "unsent", waiting, now)  # the console's chart over days
                    entry = device_entry(
                        *_EVENT,
                        SUCCESS,
                        device=device.device_id,
                        caller=caller,
                        now=now,
                        description=f"telemetry: {report.unsent} events not yet sent",
                        network=network,
                    )
                    self.auth.auditor.append(db, [entry])
                    step, _ = device_step(db, device, self.policy.rules.posture)
                    if step == "wipe" and registry.wipe(db, device.device_id, now=now)[1]:
                        why = "posture: flagged for wipe by the policy's [posture] step"
                        wiped = device_entry(
                            "device-wipe",
                            "U",
                            SUCCESS,
                            device=device.device_id,
                            caller=caller,
                            now=now,
                            description=why,
                            network=network,
                        )
                        self.auth.auditor.append(db, [wiped])
            except FhirError as exc:
                self._refused(caller, device_id, network, exc)
                raise
            return responses.empty()

        return await run_in_threadpool(work)

    def _refused(
        self, caller: Caller, device: str | None, network: str | None, exc: FhirError
    ) -> None:
        entry = device_entry(
            *_EVENT,
            SERIOUS_FAILURE if exc.status >= 500 else MINOR_FAILURE,
            device=device,
            caller=caller,
            now=self.policy.clock(),
            description=f"telemetry refused ({exc.status})",
            network=network,
        )
        self.auth.auditor.submit([entry])
