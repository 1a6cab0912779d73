"""What every device-facing API is built from: the store, the authorization server, the policy
and the device check of the token (:class:`~bedside.fleet.device_auth.DeviceAuth`)."""

from __future__ import annotations

from bedside.auth.server import AuthServer
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.decide import Policy
from bedside.store.base import Store

__all__ = ["DeviceRoutes"]


class DeviceRoutes:
    def __init__(self, store: Store, auth: AuthServer, policy: Policy) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.devices = DeviceAuth(store, auth)
