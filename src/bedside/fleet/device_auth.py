"""Authenticating a device's token for the sync routes (docs/device-registry.md, sync-protocol.md).

A device must hear that it was revoked or flagged for wipe, even though that stopped its grant:
:meth:`DeviceAuth.caller` accepts such a token (and no other stopped one), and
:meth:`DeviceAuth.active_device` then refuses it with the device API's status issue — 403
``{"status":"revoked"}`` or 410 ``{"status":"wipe"}`` (:func:`refuse_inactive`) — which the
device acts on. Push, pull and the device API's ``status`` and ``unlock-key`` use it.
"""

from __future__ import annotations

from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.auth.tokens import verify
from bedside.errors import Forbidden, Gone, NotFound, Unauthorized
from bedside.fleet import registry
from bedside.fleet.access import require_device
from bedside.store.base import Store

__all__ = ["DeviceAuth", "refuse_inactive"]


class DeviceAuth:
    def __init__(self, store: Store, auth: AuthServer) -> None:
        self.store = store
        self.auth = auth

    def caller(self, token: str) -> Caller:
        """The token's Caller; if its grant was stopped, still the Caller when the grant
        belongs to a device that was revoked or flagged for wipe, so the device hears which."""
        try:
            return self.auth.caller(token)
        except Unauthorized:
            return verify(
                self.auth.keyring.current(),
                token,
                audience=self.auth.config.fhir_base,
                grant_active=self._grant_of_flagged_device,
            )

    def _grant_of_flagged_device(self, grant_id: str) -> bool:
        with self.store.records() as db:
            row = db.one(
                "SELECT 1 FROM auth_grants g JOIN devices d ON d.device_id = g.device"
                " WHERE g.id = ? AND g.user_id = d.user_id AND d.status <> 'active'",
                [grant_id],
            )
        return row is not None

    def active_device(self, caller: Caller) -> registry.Device:
        """The token's device, registered to its user and active; else 403 (410 for wipe)."""
        device_id = require_device(caller)
        try:
            with self.store.records() as db:
                device = registry.own(db, device_id, caller.subject)
        except NotFound:
            raise Forbidden("This token's device is not registered to you.") from None
        refuse_inactive(device)
        return device

    def draining_device(self, caller: Caller) -> registry.Device:
        """As :meth:`active_device`, but a device flagged for wipe passes too: it may send what
        it holds before it wipes (docs/device-registry.md "Wipe"); a revoked one may not."""
        device_id = require_device(caller)
        try:
            with self.store.records() as db:
                device = registry.own(db, device_id, caller.subject)
        except NotFound:
            raise Forbidden("This token's device is not registered to you.") from None
        if device.status != registry.WIPE:
            refuse_inactive(device)
        return device


def refuse_inactive(device: registry.Device) -> None:
    """Nothing for an active device; else 410 ``{"status":"wipe"}`` or 403 (revoked)."""
    if device.status == registry.WIPE:
        wipe = "This device has been flagged for wipe: erase its data."
        raise registry.status_error(Gone, wipe, device.status)
    if device.status != registry.ACTIVE:
        raise registry.status_error(Forbidden, "This device has been revoked.", device.status)
