"""The offline policy snapshot for one caller (docs/policy-snapshot.md).

Built per request like ``Repository(store, caller)``: reads the caller's access view (and the
pins of the caller's device, when the token names one) in one transaction and signs the
claims (:func:`bedside.policy.snapshot.snapshot`, :func:`~bedside.policy.snapshot.
sign_snapshot`). The HTTP layer (:mod:`bedside.web.policy_api`) only chooses the format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.policy.decide import Policy
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.store.base import Records, Store

__all__ = ["OfflineSnapshot", "Pins"]

#: The patients the caller's device pinned (:func:`bedside.fleet.registry.pins_of`).
Pins = Callable[[Records, Caller], Sequence[str]]


class OfflineSnapshot:
    def __init__(
        self,
        store: Store,
        policy: Policy,
        caller: Caller,
        *,
        issuer: str,
        keys: Callable[[], SigningKeys],
        pins: Pins | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.caller = caller
        self.issuer = issuer
        self.keys = keys
        self.pins = pins

    def signed(self) -> tuple[str, dict[str, Any]]:
        """The compact JWS and the claims it signs."""
        caller = self.caller
        with self.store.records() as db:
            view = self.policy.view(db, caller)
            pins = self.pins(db, caller) if self.pins and caller.device else ()
        claims = snapshot(
            view, caller, issuer=self.issuer, rules=self.policy.rules, now=view.now, pins=pins
        )
        return sign_snapshot(claims, self.keys()), claims
