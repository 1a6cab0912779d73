"""The device registry for one caller (docs/device-registry.md): enrol, status, escrow key,
pins, and the administrators' listing, revoke and wipe.

Built per request like ``Repository(store, caller)``: every method checks who may ask
(:mod:`bedside.fleet.access`), opens its own transaction and audits — a change in the
transaction that makes it, a refusal on its own once the transaction rolled back. SQL stays in
:mod:`bedside.fleet.registry`; the HTTP layer (:mod:`bedside.web.device_api`) only parses and
answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS
from bedside.errors import (
    ConfigurationError,
    Conflict,
    FhirError,
    Forbidden,
    InvalidRequest,
    Unauthorized,
)
from bedside.fhir import json_body
from bedside.fleet import registry, wipes
from bedside.fleet.access import (
    PAST,
    reaches,
    require_active,
    require_admin,
    require_device,
    well_formed,
)
from bedside.fleet.audit import device_entry
from bedside.fleet.device_auth import refuse_inactive
from bedside.fleet.enrolment import check_id, parse_registration
from bedside.fleet.escrow import EscrowSeal
from bedside.policy.bound import CallerBound
from bedside.store.base import Session

__all__ = ["Devices", "Event", "WipeReports"]

T = TypeVar("T")
#: An audit event: (subtype, BALP action).
Event = tuple[str, str]


@dataclass
class Devices(CallerBound):
    seal: EscrowSeal
    network: str | None = field(default=None, kw_only=True)

    # --- the device's own requests -----------------------------------------------------------

    def register(self, raw: bytes) -> tuple[registry.Device, bool]:
        """Enrol the device the JSON body ``raw`` describes and bind the token's grant to it;
        the device and whether it is new."""
        caller = self.caller
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

        return self._audited(("device-register", "C"), named, enrol)

    def status(self, named: str | None) -> registry.Device:
        """The caller's device (the token's, or ``named`` after a sign-in); telling a device
        that it was revoked or flagged for wipe is audited."""
        caller = self.caller
        event = ("device-status", "R")
        if caller.device and named and named != caller.device:
            raise Forbidden("This token belongs to another device.")
        device_id = caller.device or named
        if not device_id:
            raise InvalidRequest("Use a device's token, or name the device with ?device_id=.")
        try:
            with self.store.records() as db:
                device = registry.own(db, check_id(device_id, "device_id"), caller.subject)
        except FhirError as exc:  # e.g. asking about someone else's device
            self._refused(event, well_formed(device_id), exc)
            raise
        if not device.active:  # record that the order reached the device

            def noted(session: Session) -> tuple[None, str]:
                return None, f"device told it was {PAST[device.status]}"

            self._audited(event, device.device_id, noted)
        return device

    def unlock_key(self) -> bytes:
        """The device's escrow key, after a recent sign-in (``[auth] max_auth_age``)."""
        caller = self.caller
        rules = self.policy.rules

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

        return self._audited(("device-unlock-key", "E"), caller.device, release)

    def pins(self) -> list[str]:
        """The patients the caller's (active) device pinned."""
        caller = self.caller
        device_id = require_device(caller)

        def read(session: Session) -> tuple[list[str], str]:
            db = session.records()
            require_active(registry.own(db, device_id, caller.subject))
            return registry.pins(db, device_id), "pins listed"

        return self._audited(("device-pins", "R"), device_id, read)

    def change_pin(self, patient: str, *, adding: bool) -> None:
        """Pin a patient the user may see now (:meth:`Policy.view`), or unpin one."""
        caller = self.caller
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
        self._audited(event, device_id, change, patient=pid)

    # --- administration ------------------------------------------------------------------------

    def listing(self, status: str | None, user: str | None) -> list[dict[str, Any]]:
        """Every device (role ``admin`` or an operator token), by ``status`` and ``user``."""

        def read(session: Session) -> tuple[list[dict[str, Any]], str]:
            require_admin(self.caller)
            found = registry.listing(session.records(), status=status, user_id=user)
            return found, "devices listed"

        return self._audited(("device-list", "R"), None, read)

    def revoke(self, device_id: str) -> registry.Device:
        """Revoke a device and its grants (administrators)."""
        return self._set_status("device-revoke", registry.revoke, device_id)

    def wipe(self, device_id: str) -> registry.Device:
        """Flag a device for wipe (administrators)."""
        return self._set_status("device-wipe", registry.wipe, device_id)

    def _set_status(
        self,
        subtype: str,
        change: Callable[..., tuple[registry.Device, bool]],
        device_id: str,
    ) -> registry.Device:
        def apply(session: Session) -> tuple[registry.Device, str]:
            require_admin(self.caller)
            device, changed = change(session.records(), device_id, now=self.policy.clock())
            words = PAST[device.status]
            return device, f"device {words}" if changed else f"device was already {words}"

        return self._audited((subtype, "U"), well_formed(device_id), apply)

    # --- audit ---------------------------------------------------------------------------------

    def _audited(
        self,
        event: Event,
        device: str | None,
        work: Callable[[Session], tuple[T, str]],
        *,
        patient: str | None = None,
    ) -> T:
        """Run ``work`` in a write transaction that also records its audit entry.

        ``work`` returns its result and the entry's description. A refusal (any FhirError)
        rolls back and is then audited as a failure on its own.
        """
        subtype, action = event
        now = self.policy.clock()
        try:
            with self.store.write() as session:
                result, description = work(session)
                entry = device_entry(
                    subtype,
                    action,
                    SUCCESS,
                    device=device,
                    caller=self.caller,
                    now=now,
                    description=description,
                    patient=patient,
                    network=self.network,
                )
                self.auditor.append(session.records(), [entry])
            return result
        except FhirError as exc:
            self._refused(event, device, exc, patient=patient)
            raise

    def _refused(
        self, event: Event, device: str | None, exc: FhirError, *, patient: str | None = None
    ) -> None:
        """Audit a refusal on its own (its transaction, if any, rolled back)."""
        refused = device_entry(
            *event,
            SERIOUS_FAILURE if exc.status >= 500 else MINOR_FAILURE,
            device=device,
            caller=self.caller,
            now=self.policy.clock(),
            description=f"refused ({exc.status}): {exc.message}",
            patient=patient,
            network=self.network,
        )
        self.auditor.submit([refused])


@dataclass
class WipeReports(CallerBound):
    """``POST /device/wiped``: a device flagged for wipe says, just before it destroys its
    keys, how many events its last push delivered and how many were still unsent."""

    network: str | None = field(default=None, kw_only=True)

    def report(self, device: registry.Device, raw: bytes) -> None:
        """Keep the first report of ``device`` (the caller's, draining), audited in the same
        transaction; 409 unless the device is flagged for wipe."""
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
                    caller=self.caller,
                    now=now,
                    description=f"device wiped itself: {sent} sent first, {drained}",
                    network=self.network,
                )
                self.auditor.append(db, [entry])
