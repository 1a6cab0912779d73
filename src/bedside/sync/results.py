"""How the server settles one pushed event early: a rejection, or a deferral.

The result itself (:class:`~bedside.protocol.results.Result`, its states and codes) is the
protocol's. It is encoded once, when the event is settled, and the replay record keeps those
bytes: a re-sent event is answered with them unchanged (byte-identical), so a device that lost
an answer gets the very same one again (G2).
"""

from __future__ import annotations

from dataclasses import dataclass

from bedside.errors import ClinicalRuleBroken, FhirError, Forbidden, NotFound, Unauthorized
from bedside.protocol.results import CODES, REJECTED, Result

__all__ = ["Settled", "refused_code", "rejected"]


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
