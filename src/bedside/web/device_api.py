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

The work lives in :mod:`bedside.fleet.registry`; this module authenticates, parses, decides
who may ask, and audits. Every decision is audited: a change in the transaction that makes it,
a refusal on its own once the transaction rolled back. A device that was revoked or flagged for
wipe must still be able to hear so, so ``status`` and ``unlock-key`` also accept a token whose
grant stopped working because of that (and only that): :class:`~bedside.web.device_auth.
DeviceAuth`, as for sync.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import (
    ConfigurationError,
    FhirError,
    Forbidden,
    InvalidRequest,
    Unauthorized,
)
from bedside.fhir import json_body
from bedside.fleet import registry
from bedside.fleet.access import (
    PAST,
    reaches,
    require_active,
    require_admin,
    require_device,
    well_formed,
)
from bedside.fleet.audit import device_entry
from bedside.fleet.enrolment import check_id, parse_registration
from bedside.fleet.escrow import EscrowSeal, encode_key
from bedside.policy.breakglass import instant
from bedside.policy.decide import Policy
from bedside.store.base import Session, Store
from bedside.web import responses
from bedside.web.device_auth import DeviceAuth, refuse_inactive
from bedside.web.fhir_http import bearer_token

T = TypeVar("T")


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

    # --- plumbing ------------------------------------------------------------------------------

    async def _run(
        self, request: Request, work: Callable[[Caller], Response], *, lenient: bool = False
    ) -> Response:
        """Authenticate (401 before anything else), then run ``work`` off the event loop."""
        token = bearer_token(request)
        authenticate = self.devices.caller if lenient else self.auth.caller
        caller = await run_in_threadpool(authenticate, token)
        return await run_in_threadpool(work, caller)

    def _audited(
        self,
        caller: Caller,
        request: Request,
        event: tuple[str, str],
        device: str | None,
        work: Callable[[Session], tuple[T, str]],
        *,
        patient: str | None = None,
    ) -> T:
        """Run ``work`` in a write transaction that also records its audit entry.

        ``event`` is (subtype, action); ``work`` returns its result and the entry's description.
        A refusal (any FhirError) rolls back and is then audited as a failure on its own.
        """
        subtype, action = event
        network = request.client.host if request.client else None
        now = self.policy.clock()
        try:
            with self.store.write() as session:
                result, description = work(session)
                entry = device_entry(
                    subtype,
                    action,
                    SUCCESS,
                    device=device,
                    caller=caller,
                    now=now,
                    description=description,
                    patient=patient,
                    network=network,
                )
                self.auth.auditor.append(session.records(), [entry])
            return result
        except FhirError as exc:
            self._refused(caller, request, event, device, exc, patient=patient)
            raise

    def _refused(
        self,
        caller: Caller,
        request: Request,
        event: tuple[str, str],
        device: str | None,
        exc: FhirError,
        *,
        patient: str | None = None,
    ) -> None:
        """Audit a refusal on its own (its transaction, if any, rolled back)."""
        refused = device_entry(
            *event,
            SERIOUS_FAILURE if exc.status >= 500 else MINOR_FAILURE,
            device=device,
            caller=caller,
            now=self.policy.clock(),
            description=f"refused ({exc.status}): {exc.message}",
            patient=patient,
            network=request.client.host if request.client else None,
        )
        self.auth.auditor.submit([refused])

    # --- the device's own routes ---------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        # authenticate before reading the body
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        raw = await request.body()

        def work(caller: Caller) -> Response:
            unreadable: InvalidRequest | None = None
            try:
                body: Any = json_body.loads(raw)
            except InvalidRequest as exc:  # not JSON, or too deep: refused (and audited) below
                body, unreadable = None, exc
            sent = body.get("device_id") if isinstance(body, dict) else None
            named = well_formed(sent) if isinstance(sent, str) else None

            def enrol(session: Session) -> tuple[tuple[registry.Device, bool], str]:
                if caller.role is None or caller.grant_id is None:
                    raise Forbidden("Device registration needs a token from a user's sign-in.")
                if unreadable is not None:
                    raise unreadable
                reg = parse_registration(body)
                done = registry.register(
                    session.records(),
                    reg,
                    user_id=caller.subject,
                    client_id=caller.client_id,
                    grant_id=caller.grant_id,
                    seal=self.seal,
                    now=self.policy.clock(),
                )
                return done, "device registered" if done[1] else "device registered again"

            event = ("device-register", "C")
            device, created = self._audited(caller, request, event, named, enrol)
            return responses.json(
                201 if created else 200,
                {
                    "device_id": device.device_id,
                    "status": device.status,
                    "registered_at": instant(device.registered_at),
                },
            )

        return await run_in_threadpool(work, caller)

    async def status(self, request: Request) -> Response:
        named = request.query_params.get("device_id")
        event = ("device-status", "R")

        def work(caller: Caller) -> Response:
            if caller.device and named and named != caller.device:
                raise Forbidden("This token belongs to another device.")
            device_id = caller.device or named
            if not device_id:
                raise InvalidRequest("Use a device's token, or name the device with ?device_id=.")
            try:
                with self.store.records() as db:
                    device = registry.own(db, check_id(device_id, "device_id"), caller.subject)
            except FhirError as exc:  # e.g. asking about someone else's device
                self._refused(caller, request, event, well_formed(device_id), exc)
                raise
            if not device.active:  # record that the order reached the device

                def noted(session: Session) -> tuple[None, str]:
                    return None, f"device told it was {PAST[device.status]}"

                self._audited(caller, request, event, device.device_id, noted)
            return responses.json(200, {"device_id": device.device_id, "status": device.status})

        return await self._run(request, work, lenient=True)

    async def unlock_key(self, request: Request) -> Response:
        rules = self.policy.rules

        def work(caller: Caller) -> Response:
            device_id = caller.device

            def release(session: Session) -> tuple[bytes, str]:
                device = registry.own(session.records(), require_device(caller), caller.subject)
                refuse_inactive(device)
                now = self.policy.clock()
                if caller.auth_time is None or now - caller.auth_time > rules.max_auth_age:
                    raise Unauthorized(
                        "Unlocking needs a recent sign-in: sign in again and retry.",
                        headers={
                            "WWW-Authenticate": 'Bearer error="insufficient_user_authentication",'
                            ' error_description="A more recent authentication is required",'
                            f" max_age={rules.max_auth_age}"
                        },
                    )
                try:
                    key = self.seal.open(
                        device.sealed_escrow, device_id=device.device_id, user_id=device.user_id
                    )
                except ConfigurationError:
                    raise FhirError("The server cannot open this device's escrow key.") from None
                return key, "escrow key released"

            event = ("device-unlock-key", "E")
            key = self._audited(caller, request, event, device_id, release)
            return responses.json(200, {"escrow_key": encode_key(key)})

        return await self._run(request, work, lenient=True)

    async def list_pins(self, request: Request) -> Response:
        def work(caller: Caller) -> Response:
            device_id = require_device(caller)

            def read(session: Session) -> tuple[list[str], str]:
                db = session.records()
                require_active(registry.own(db, device_id, caller.subject))
                return registry.pins(db, device_id), "pins listed"

            pins = self._audited(caller, request, ("device-pins", "R"), device_id, read)
            return responses.json(200, {"pins": pins})

        return await self._run(request, work)

    async def change_pin(self, request: Request) -> Response:
        adding = request.method == "PUT"
        patient = request.path_params["patient"]

        def work(caller: Caller) -> Response:
            device_id = require_device(caller)
            pid = check_id(patient, "The patient id")

            def change(session: Session) -> tuple[None, str]:
                db = session.records()
                require_active(registry.own(db, device_id, caller.subject))
                if not adding:
                    gone = registry.unpin(db, device_id, pid)
                    return None, "patient unpinned" if gone else "patient was not pinned"
                found = session.current("Patient", pid)
                view = self.policy.view(db, caller)
                if found is None or found.deleted or not reaches(view, caller, pid):
                    raise Forbidden("You can pin only patients you may see now.")
                added = registry.pin(db, device_id, pid, now=self.policy.clock())
                return None, "patient pinned" if added else "patient was already pinned"

            event = ("device-pin", "C") if adding else ("device-unpin", "D")
            self._audited(caller, request, event, device_id, change, patient=pid)
            return responses.empty()

        return await self._run(request, work)

    # --- administration ------------------------------------------------------------------------

    async def list_devices(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        user = request.query_params.get("user") or None

        def work(caller: Caller) -> Response:
            def read(session: Session) -> tuple[list[dict[str, Any]], str]:
                require_admin(caller)
                found = registry.listing(session.records(), status=status, user_id=user)
                return found, "devices listed"

            devices = self._audited(caller, request, ("device-list", "R"), None, read)
            return responses.json(200, {"devices": devices})

        return await self._run(request, work)

    async def revoke(self, request: Request) -> Response:
        return await self._set_status(request, "device-revoke", registry.revoke)

    async def wipe(self, request: Request) -> Response:
        return await self._set_status(request, "device-wipe", registry.wipe)

    async def _set_status(
        self,
        request: Request,
        subtype: str,
        change: Callable[..., tuple[registry.Device, bool]],
    ) -> Response:
        device_id = request.path_params["device_id"]

        def work(caller: Caller) -> Response:
            named = well_formed(device_id)

            def apply(session: Session) -> tuple[registry.Device, str]:
                require_admin(caller)
                device, changed = change(session.records(), device_id, now=self.policy.clock())
                words = PAST[device.status]
                return device, f"device {words}" if changed else f"device was already {words}"

            device = self._audited(caller, request, (subtype, "U"), named, apply)
            return responses.json(200, device.summary())

        return await self._run(request, work)
