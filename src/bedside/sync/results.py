"""The per-event result of a push (docs/sync-protocol.md "Per event"), and its exact bytes.

A result is encoded once, when the event is settled, and the replay record keeps those bytes:
a re-sent event is answered with them unchanged (byte-identical), so a device that lost an
answer gets the very same one again (G2). Sentences are written for the clinician who sees
them on the device; they never quote the record's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.errors import ClinicalRuleBroken, FhirError, Forbidden, NotFound, Unauthorized

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
    "Result",
    "Settled",
    "refused_code",
    "rejected",
]

CONFIRMED: Final = "confirmed"
MERGED: Final = "merged"
NEEDS_REVIEW: Final = "needs-review"
REJECTED: Final = "rejected"
DEFERRED: Final = "deferred"
#: States the server records in the replay table (a deferred event comes again).
SETTLED: Final = (CONFIRMED, MERGED, NEEDS_REVIEW, REJECTED)

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


def rejected(seq: int | None, key: str | None, code: str, reason: str) -> Result:
    assert code in CODES, code
    return Result(seq, key, REJECTED, code=code, reason=reason)


def refused_code(error: FhirError) -> str:
    """The rejection code of an event whose write the API refused: ``not-permitted`` for an
    access refusal, ``clinical-rule`` when a clinical rule rechecked at commit does not hold (a
    NEWS2 total that does not match its parameters), else ``invalid``."""
    if isinstance(error, Unauthorized | Forbidden | NotFound):
        return "not-permitted"
    return "clinical-rule" if isinstance(error, ClinicalRuleBroken) else "invalid"


@dataclass(frozen=True, slots=True)
class Settled:
    """A pipeline step settled an event early (a rejection or a deferral) with ``result``;
    ``record`` False keeps it out of the replay record (a deferred event comes again). Steps
    return it instead of going on: per-event results are values, never exceptions."""

    result: Result
    record: bool = True
