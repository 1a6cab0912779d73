"""Medication administration, pure: the dosing interval of an order, possible duplicate doses,
and the FHIR R4 MedicationAdministration a bedside record becomes (docs/clinician-app.md).

* :func:`interval_of` reads how often a MedicationRequest may be given from its first
  ``dosageInstruction.timing``: ``repeat.frequency`` per ``repeat.period`` ``periodUnit``, else
  the number of ``repeat.timeOfDay`` times a day, else a ``timing.code`` (BID, TID, QID, Q4H,
  ...). An order that says none of these gets :data:`DEFAULT_INTERVAL_S` (24 hours), and the
  page says it was assumed: a warning too many is safer than a double dose unseen.
* :func:`duplicates` finds the administrations of the same order (by ``request``, or of the same
  medicine when a record names no order) that were given within that interval of a proposed
  time, before or after it. Only doses given count (``completed`` or ``in-progress``): a dose
  not given, held, or marked entered in error never does.
* :func:`build` makes the record: ``completed`` (given), ``not-done`` (not given, with a
  ``statusReason``) or ``on-hold`` (held).

Nothing here blocks a dose: the app warns and the clinician confirms explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "DEFAULT_INTERVAL_S",
    "GIVEN_STATES",
    "OUTCOMES",
    "REASONS",
    "REASON_SYSTEM",
    "Interval",
    "build",
    "dose_of",
    "duplicates",
    "interval_of",
    "medicine_of",
    "route_of",
    "when_of",
]

DEFAULT_INTERVAL_S: Final = 24 * 3600
#: outcome the clinician picks -> (MedicationAdministration.status, what the page calls it)
OUTCOMES: Final[Mapping[str, tuple[str, str]]] = {
    "given": ("completed", "Given"),
    "not-given": ("not-done", "Not given"),
    "held": ("on-hold", "Held"),
}
REASON_SYSTEM: Final = "urn:bedside:medication-not-given-reason"
#: why a dose was not given: code -> plain label (``statusReason``)
REASONS: Final[Mapping[str, str]] = {
    "refused": "Patient refused",
    "nil-by-mouth": "Nil by mouth",
    "unavailable": "Medicine unavailable",
    "other": "Other reason",
}
GIVEN_STATES: Final = frozenset({"completed", "in-progress"})
_UNIT_S: Final = {"s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 7 * 86400, "mo": 30 * 86400}
_UNIT_S_A: Final = 365 * 86400
_CODES_S: Final = {
    "QD": 86400,
    "AM": 86400,
    "PM": 86400,
    "BID": 12 * 3600,
    "TID": 8 * 3600,
    "QID": 6 * 3600,
    "QOD": 2 * 86400,
    "Q1H": 3600,
    "Q2H": 2 * 3600,
    "Q3H": 3 * 3600,
    "Q4H": 4 * 3600,
    "Q6H": 6 * 3600,
    "Q8H": 8 * 3600,
    "WK": 7 * 86400,
    "MO": 30 * 86400,
}
_QUANTITY: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-zµ%][\w/%.µ ]{0,20})?\s*$")


@dataclass(frozen=True, slots=True)
class Interval:
    """How long after a dose the next one is due, and where that came from."""

    seconds: int
    assumed: bool  # True: the order says nothing usable, DEFAULT_INTERVAL_S is used

    @property
    def text(self) -> str:
        """ "every 12 hours" (or "24 hours, assumed: the order does not say how often")."""
        hours = self.seconds / 3600
        span = f"{hours:g} hours" if hours >= 1 else f"{self.seconds // 60} minutes"
        if hours == 1:
            span = "hour"
        if self.assumed:
            return f"{span}, assumed: the order does not say how often"
        return f"every {span}"


def _dosage(request: Mapping[str, Any]) -> Mapping[str, Any]:
    for dosage in request.get("dosageInstruction") or ():
        if isinstance(dosage, dict):
            return dosage
    return {}


def interval_of(request: Mapping[str, Any]) -> Interval:
    """The dosing interval of a MedicationRequest (see the module docstring)."""
    timing = _dosage(request).get("timing")
    if not isinstance(timing, dict):
        return Interval(DEFAULT_INTERVAL_S, True)
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    assert isinstance(repeat, dict)
    period, unit = repeat.get("period"), repeat.get("periodUnit")
    frequency = repeat.get("frequency", 1)
    unit_s = _UNIT_S_A if unit == "a" else _UNIT_S.get(str(unit))
    if (
        isinstance(period, int | float)
        and period > 0
        and unit_s
        and isinstance(frequency, int)
        and frequency > 0
    ):
        return Interval(max(60, round(period * unit_s / frequency)), False)
    times = repeat.get("timeOfDay")
    if isinstance(times, list) and times:
        return Interval(round(86400 / len(times)), False)
    code = timing.get("code")
    for coding in (code.get("coding") or ()) if isinstance(code, dict) else ():
        if isinstance(coding, dict) and str(coding.get("code", "")).upper() in _CODES_S:
            return Interval(_CODES_S[str(coding["code"]).upper()], False)
    return Interval(DEFAULT_INTERVAL_S, True)


def when_of(resource: Mapping[str, Any]) -> float | None:
    """When an administration happened (``effectiveDateTime`` or the period's start)."""
    text = resource.get("effectiveDateTime")
    period = resource.get("effectivePeriod")
    if not isinstance(text, str) and isinstance(period, dict):
        text = period.get("start")
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _concept_key(value: object) -> frozenset[str]:
    if not isinstance(value, dict):
        return frozenset()
    keys = {
        f"{c.get('system')}|{c.get('code')}"
        for c in value.get("coding") or ()
        if isinstance(c, dict) and c.get("code")
    }
    if not keys and isinstance(value.get("text"), str):
        keys.add("text|" + value["text"].strip().lower())
    return frozenset(keys)


def _same_medicine(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    ra, rb = a.get("medicationReference"), b.get("medicationReference")
    if isinstance(ra, dict) and isinstance(rb, dict) and ra.get("reference"):
        return bool(ra.get("reference") == rb.get("reference"))
    ka = _concept_key(a.get("medicationCodeableConcept"))
    return bool(ka & _concept_key(b.get("medicationCodeableConcept")))


def duplicates(
    request_id: str,
    request: Mapping[str, Any],
    administrations: Iterable[Mapping[str, Any]],
    at: float,
) -> list[Mapping[str, Any]]:
    """The doses given of this order (or medicine) within its interval of ``at``, newest
    first."""
    window = interval_of(request).seconds
    target = f"MedicationRequest/{request_id}"
    found: list[tuple[float, Mapping[str, Any]]] = []
    for given in administrations:
        if given.get("status") not in GIVEN_STATES:
            continue
        ref = given.get("request")
        named = isinstance(ref, dict) and isinstance(ref.get("reference"), str)
        if named and ref["reference"] != target:  # type: ignore[index]
            continue
        if not named and not _same_medicine(request, given):
            continue
        when = when_of(given)
        if when is not None and abs(at - when) < window:
            found.append((when, given))
    return [g for _, g in sorted(found, key=lambda pair: -pair[0])]


def medicine_of(request: Mapping[str, Any]) -> str:
    """The medicine's name as the order gives it."""
    concept = request.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str) and concept["text"]:
            return str(concept["text"])
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict) and coding.get("display"):
                return str(coding["display"])
    ref = request.get("medicationReference")
    if isinstance(ref, dict) and (ref.get("display") or ref.get("reference")):
        return str(ref.get("display") or ref.get("reference"))
    return "Unnamed medicine"


def dose_of(request: Mapping[str, Any]) -> str:
    """The ordered dose as text ("500 mg"), else the dosage's text, else nothing."""
    dosage = _dosage(request)
    for rate in dosage.get("doseAndRate") or ():
        quantity = rate.get("doseQuantity") if isinstance(rate, dict) else None
        if isinstance(quantity, dict) and quantity.get("value") is not None:
            unit = quantity.get("unit") or quantity.get("code") or ""
            return f"{quantity['value']:g} {unit}".strip()
    return str(dosage.get("text") or "")


def route_of(request: Mapping[str, Any]) -> str:
    """The ordered route in words ("Oral"), or nothing."""
    route = _dosage(request).get("route")
    if not isinstance(route, dict):
        return ""
    if isinstance(route.get("text"), str) and route["text"]:
        return str(route["text"])
    for coding in route.get("coding") or ():
        if isinstance(coding, dict) and coding.get("display"):
            return str(coding["display"])
    return ""


def _dose(text: str) -> dict[str, Any]:
    found = _QUANTITY.match(text)
    dosage: dict[str, Any] = {"text": text}
    if found:
        number = float(found.group(1))
        quantity: dict[str, Any] = {"value": int(number) if number.is_integer() else number}
        if found.group(2):
            quantity["unit"] = found.group(2).strip()
        dosage["dose"] = quantity
    return dosage


def build(
    *,
    request_id: str,
    request: Mapping[str, Any],
    patient: str,
    outcome: str,
    effective: str,
    dose: str = "",
    route: str = "",
    reason: str = "",
    reason_text: str = "",
    performer: str | None = None,
    performer_display: str = "",
    encounter: str | None = None,
) -> dict[str, Any]:
    """The MedicationAdministration for ``outcome`` (a key of :data:`OUTCOMES`)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    record: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "status": OUTCOMES[outcome][0],
    }
    if outcome == "not-given":
        label = REASONS.get(reason, REASONS["other"])
        text = f"{label}: {reason_text}" if reason_text else label
        coding = {"system": REASON_SYSTEM, "code": reason if reason in REASONS else "other"}
        record["statusReason"] = [{"coding": [{**coding, "display": label}], "text": text}]
    for key in ("medicationCodeableConcept", "medicationReference"):
        if key in request:
            record[key] = request[key]
            break
    else:
        record["medicationCodeableConcept"] = {"text": medicine_of(request)}
    record["subject"] = {"reference": f"Patient/{patient}"}
    if encounter:
        record["context"] = {"reference": f"Encounter/{encounter}"}
    record["effectiveDateTime"] = effective
    actor: dict[str, Any] = {"reference": performer} if performer else {}
    if performer_display:
        actor["display"] = performer_display
    if actor:
        record["performer"] = [{"actor": actor}]
    record["request"] = {"reference": f"MedicationRequest/{request_id}"}
    if outcome == "given":
        dosage = _dose(dose) if dose else {}
        ordered_route = _dosage(request).get("route")
        if route and isinstance(ordered_route, dict) and route == route_of(request):
            dosage["route"] = ordered_route
        elif route:
            dosage["route"] = {"text": route}
        if dosage:
            record["dosage"] = dosage
    if outcome != "not-given" and reason_text:  # (not given: it is in statusReason)
        record["note"] = [{"text": reason_text}]
    return record
