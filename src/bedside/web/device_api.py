"""HTTP for the device registry (bearer-token JSON APIs; docs/device-registry.md).

Device routes (a user's token; ``device`` routes want the token of a registered device)::

    POST   /device/register          enrol the device, bind the token's grant to it
    GET    /device/status            active | revoked | wipe (also ?device_id= after a sign-in)
    POST   /device/unlock-key        the escrow key, after a fresh sign-in
    GET    /device/pins              the patients the device pinned
    PUT    /device/pins/{patient}    pin a patient the user may see now (Policy.view)
    DELETE /device/pins/{patient}    unpin

Administration (role ``admin``, or an operator token)::

    GET    /devices                  every device (?status=, ?user=)
    POST   /devices/{id}/revoke      revoke it and its grants
    POST   /devices/{id}/wipe        flag it for wipe

The work, who may ask, the transactions and the audit live in the caller-bound
:class:`bedside.fleet.service.Devices`; this module authenticates, parses and answers. Every
decision is audited: a change in the transaction that makes it, a refusal on its own once the
transaction rolled back. A device that was revoked or flagged for wipe must still be able to
hear so, so ``status`` and ``unlock-key`` also accept a token whose grant stopped working
because of that (and only that): :class:`~bedside.fleet.device_auth.DeviceAuth`, as for sync.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.auth.server import AuthServer
from bedside.fleet.device_auth import DeviceAuth
from bedside.fleet.escrow import EscrowSeal, encode_key
from bedside.fleet.service import Devices
from bedside.policy.breakglass import instant
from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["DeviceApi"]


class DeviceApi:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy, seal: EscrowSeal) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.seal = seal
        self.devices = DeviceAuth(store, auth)

    def routes(self) -> list[Route]:
        return [
            Route("/device/register", self.register, methods=["POST"]),
            Route("/device/status", self.status, methods=["GET"]),
            Route("/device/unlock-key", self.unlock_key, methods=["POST"]),
            Route("/device/pins", self.list_pins, methods=["GET"]),
            Route("/device/pins/{patient}", self.change_pin, methods=["PUT", "DELETE"]),
            Route("/devices", self.list_devices, methods=["GET"]),
            Route("/devices/{device_id}/revoke", self.revoke, methods=["POST"]),
            Route("/devices/{device_id}/wipe", self.wipe, methods=["POST"]),
        ]

    async def _service(self, request: Request, *, lenient: bool = False) -> Devices:
        """The registry bound to the bearer token's caller (401 before anything else);
        ``lenient``: a revoked or wiped device's token too, so it hears which."""
        token = bearer_token(request)
        authenticate = self.devices.caller if lenient else self.auth.caller
        caller = await run_in_threadpool(authenticate, token)
        network = request.client.host if request.client else None
        return Devices(
            self.store, self.policy, self.auth.auditor, caller, self.seal, network=network
        )

    # --- the device's own routes ---------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        devices = await self._service(request)  # authenticate before reading the body
        raw = await request.body()
        device, created = await run_in_threadpool(devices.register, raw)
        body = {
            "device_id": device.device_id,
            "status": device.status,
            "registered_at": instant(device.registered_at),
        }
        return responses.json(201 if created else 200, body)

    async def status(self, request: Request) -> Response:
        devices = await self._service(request, lenient=True)
        device = await run_in_threadpool(devices.status, request.query_params.get("device_id"))
        return responses.json(200, {"device_id": device.device_id, "status": device.status})

    async def unlock_key(self, request: Request) -> Response:
        devices = await self._service(request, lenient=True)
        key = await run_in_threadpool(devices.unlock_key)
        return responses.json(200, {"escrow_key": encode_key(key)})

    async def list_pins(self, request: Request) -> Response:
        devices = await self._service(request)
        return responses.json(200, {"pins": await run_in_threadpool(devices.pins)})

    async def change_pin(self, request: Request) -> Response:
        adding = request.method == "PUT"
        devices = await self._service(request)
        patient = request.path_params["patient"]
        await run_in_threadpool(lambda: devices.change_pin(patient, adding=adding))
        return responses.empty()

    # --- administration ------------------------------------------------------------------------

    async def list_devices(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        user = request.query_params.get("user") or None
        devices = await self._service(request)
        found = await run_in_threadpool(devices.listing, status, user)
        return responses.json(200, {"devices": found})

    async def revoke(self, request: Request) -> Response:
        devices = await self._service(request)
        device = await run_in_threadpool(devices.revoke, request.path_params["device_id"])
        return responses.json(200, device.summary())

    async def wipe(self, request: Request) -> Response:
        devices = await self._service(request)
        device = await run_in_threadpool(devices.wipe, request.path_params["device_id"])
        return responses.json(200, device.summary())
