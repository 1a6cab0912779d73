"""Graduated compliance on the device: its own posture facts against the policy's ``posture``
claim (:mod:`bedside.policy.posture`), laid over the session's policy so that every write is
checked (:meth:`bedside.device.offline.OfflinePolicy.refuse_write`) and the app can say why in
a banner. The server makes the same decision again at commit from the facts this device
reported at its last sync (G3): a write the device let through but the server refuses stays on
the device as rejected, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final

from bedside.device.offline import OfflinePolicy
from bedside.device.session import Session
from bedside.policy.posture import assess, refuses, rules_from_claim, words

__all__ = ["CLAIM", "PostureSide", "apply", "state"]

#: the claim the device adds to its own copy of the claims (never signed, never sent)
CLAIM: Final = "local_posture"


def apply(policy: OfflinePolicy, facts: Mapping[str, Any]) -> OfflinePolicy:
    """``policy`` with this device's posture step (and its reasons) laid over it."""
    rules = rules_from_claim(policy.claims.get("posture"))
    claims = dict(policy.claims)
    if rules is None:
        claims.pop(CLAIM, None)
    else:
        step, reasons = assess(facts, rules)
        claims[CLAIM] = {"step": step, "reasons": reasons}
    return OfflinePolicy(claims, policy.to_server)


def state(policy: OfflinePolicy) -> tuple[str, list[str]]:
    raw = policy.claims.get(CLAIM)
    if not isinstance(raw, Mapping):
        return "none", []
    return str(raw.get("step") or "none"), [str(r) for r in raw.get("reasons") or ()]


class PostureSide:
    home: Path

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    def posture_blocks(
        self, action: str = "create", resource: Mapping[str, Any] | None = None
    ) -> str | None:
        """The sentence when the posture step blocks ``action`` (a new record by default)."""
        with self._use(background=True) as s:
            step, reasons = state(s.policy)
        return refuses(step, reasons, action, resource or {})

    def posture_step(self) -> tuple[str, str]:
        """(step, the banner sentence, "" when nothing to say); a background read."""
        with self._use(background=True) as s:
            step, reasons = state(s.policy)
        return step, words(step, reasons)
