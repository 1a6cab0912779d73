"""Each event's result in a push answer (docs/sync-protocol.md "Per event"), and its bytes.

The server encodes a result once, when the event is settled, and answers a re-sent event with
those bytes unchanged; a device keeps the result it received whole, with its outbox entry.
Sentences are written for the clinician who sees them on the device; they never quote the
record's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

__all__ = [
    "CODES",
    "CONFIRMED",
    "CONFLICT",
    "DEFERRED",
    "IMPLAUSIBLE_TIME",
    "MERGED",
    "NEEDS_REVIEW",
    "REJECTED",
    "SETTLED",
    "STATES",
    "Result",
]

CONFIRMED: Final = "confirmed"
MERGED: Final = "merged"
NEEDS_REVIEW: Final = "needs-review"
REJECTED: Final = "rejected"
DEFERRED: Final = "deferred"
#: States the server records in the replay table (a deferred event comes again).
SETTLED: Final = (CONFIRMED, MERGED, NEEDS_REVIEW, REJECTED)
#: Every state a result may have.
STATES: Final = (*SETTLED, DEFERRED)

#: Rejection codes, and the review reason codes.
CODES: Final = (
    "bad-signature",
    "wrong-device",
    "seq-reused",
    "invalid",
    "not-permitted",
    "id-taken",
    "depends-on-rejected",
    "read-only-type",
    "clinical-rule",
)
CONFLICT: Final = "conflict"
IMPLAUSIBLE_TIME: Final = "implausible-time"


@dataclass(frozen=True, slots=True)
class Result:
    """One event's result; ``encode`` gives the bytes the device receives."""

    seq: int | None
    idempotency_key: str | None
    state: str
    id: str | None = None
    version: str | None = None
    at: str | None = None
    review: str | None = None
    code: str | None = None
    reason: str | None = None

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "seq": self.seq,
            "idempotency_key": self.idempotency_key,
            "state": self.state,
        }
        for name in ("id", "version", "at", "review", "code", "reason"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return orjson.dumps(body)
