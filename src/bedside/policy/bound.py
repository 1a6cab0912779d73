"""The shape of a caller-bound service: what every one is built from, per request.

Like ``Repository(store, caller)``, a service (the review queue, the device registry,
break-glass governance, ...) is built for one verified caller and holds the server's policy
and audit trail, so its methods decide, open their own transactions and audit, and the HTTP
layer only parses and answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.policy.decide import Policy
from bedside.store.base import Store

__all__ = ["CallerBound"]


@dataclass
class CallerBound:
    store: Store
    policy: Policy
    auditor: Auditor
    caller: Caller
