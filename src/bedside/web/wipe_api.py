"""``POST /device/wiped``: a device flagged for wipe says, just before it destroys its keys,
how many events its last push delivered and how many were still unsent (lost with it).

The device's own token; only a device flagged for wipe may report (409 otherwise: an active
device has nothing to confess, a revoked one 403). The first report is kept
(:mod:`bedside.fleet.wipes`), audited in the same transaction; ``204``.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import SUCCESS
from bedside.auth.server import AuthServer
from bedside.errors import Conflict
from bedside.fhir import json_body
from bedside.fleet import registry, wipes
from bedside.fleet.audit import device_entry
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["WipeApi"]


class WipeApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)

    def routes(self) -> list[Route]:
        return [Route("/device/wiped", self.report, methods=["POST"])]

    async def report(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
        raw = await request.body()

        def work() -> Response:
            device = self.devices.draining_device(caller)
            if device.status != registry.WIPE:
                raise Conflict("This device is not flagged for wipe.")
            sent, lost = wipes.parse(json_body.loads(raw))
            now = self.policy.clock()
            with self.store.write() as session:
                db = session.records()
                if wipes.record(db, device.device_id, sent=sent, lost=lost, now=now):
                    drained = "fully drained" if lost == 0 else f"{lost} events lost"
                    entry = device_entry(
                        "device-wiped",
                        "D",
                        SUCCESS,
                        device=device.device_id,
                        caller=caller,
                        now=now,
                        description=f"device wiped itself: {sent} sent first, {drained}",
                        network=network,
                    )
                    self.auth.auditor.append(db, [entry])
            return responses.empty()

        return await run_in_threadpool(work)
