"""The medication administration form: what was typed, checked, and the five rights it shows.

:func:`read_entry` turns the posted fields into an :class:`Entry` (or the sentences saying what
to fix); :func:`five_rights` is the confirm step's list (patient, drug, dose, route, time) in
plain words; :func:`dose_lines` says when each possible duplicate dose was given and whether
it has reached the server yet. Pure: the page module reads the device and renders.

The time is typed as a clock time (``HH:MM``, the device's local time, default now). A time
more than 5 minutes ahead is taken as yesterday's (a dose given at 23:50 recorded at 00:10);
the confirm step shows the full date, so the clinician sees which day it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bedside.clinical import administration as rules
from bedside.device.app import views
from bedside.device.app.summary import Banner

__all__ = ["Entry", "dose_lines", "effective", "five_rights", "read_entry"]

_TIME: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DOSE: Final = re.compile(r"^\s*\d+(?:\.\d+)?\s*[A-Za-zµ%][\w/%.µ ]{0,20}$")
_MAX: Final = 200
_AHEAD_S: Final = 300


@dataclass(frozen=True, slots=True)
class Entry:
    """One administration as typed, checked."""

    outcome: str  # a key of rules.OUTCOMES
    dose: str
    route: str
    time: str  # HH:MM as typed
    at: float  # the moment it stands for (UNIX seconds)
    reason: str  # a key of rules.REASONS ("" unless not given)
    reason_text: str

    def fields(self) -> dict[str, str]:
        """The entry as the form's fields (the confirm step carries them)."""
        return {
            "outcome": self.outcome,
            "dose": self.dose,
            "route": self.route,
            "time": self.time,
            "reason": self.reason,
            "reason_text": self.reason_text,
        }


def _clean(form: Mapping[str, str], key: str) -> str:
    return " ".join(str(form.get(key) or "").split())[:_MAX]


def _moment(typed: str, now: float) -> float | None:
    found = _TIME.match(typed)
    if not found:
        return None
    today = datetime.fromtimestamp(now)
    at = today.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=0)
    if at.timestamp() > now + _AHEAD_S:
        at -= timedelta(days=1)
    return at.timestamp()


def read_entry(form: Mapping[str, str], now: float) -> tuple[Entry | None, list[str]]:
    """The entry, or None and what to fix, one sentence each."""
    outcome = _clean(form, "outcome")
    dose, route, typed = _clean(form, "dose"), _clean(form, "route"), _clean(form, "time")
    reason, reason_text = _clean(form, "reason"), _clean(form, "reason_text")
    errors: list[str] = []
    if outcome not in rules.OUTCOMES:
        errors.append("Choose what happened: given, not given, or held.")
    if outcome == "given" and not _DOSE.match(dose):
        errors.append("Enter the dose given as a number and a unit, such as 500 mg.")
    if outcome == "given" and not route:
        errors.append("Enter the route, such as Oral.")
    if outcome == "not-given" and reason not in rules.REASONS:
        errors.append("Choose why the dose was not given.")
    if outcome == "not-given" and reason == "other" and not reason_text:
        errors.append("Say why the dose was not given.")
    at = _moment(typed, now)
    if at is None:
        errors.append("Enter the time as hours and minutes, such as 14:05.")
    if errors or at is None:
        return None, errors
    if outcome != "not-given":
        reason = ""
    if outcome != "given":
        dose = route = ""
    return Entry(outcome, dose, route, typed, at, reason, reason_text), []


def effective(at: float) -> str:
    """FHIR dateTime in UTC, to the second."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def five_rights(
    banner: Banner, request: Mapping[str, Any], entry: Entry, now: float
) -> list[tuple[str, str]]:
    """Right patient, drug, dose, route and time, as the confirm step says them."""
    label = rules.OUTCOMES[entry.outcome][1]
    if entry.outcome == "given":
        dose, route = entry.dose, entry.route
    else:
        why = rules.REASONS.get(entry.reason, "")
        said = f"{why}: {entry.reason_text}" if why and entry.reason_text else why
        said = said or entry.reason_text
        dose = f"{label}{' (' + said + ')' if said else ''}; ordered {rules.dose_of(request)}"
        route = "—"
    ordered = rules.dose_of(request)
    if entry.outcome == "given" and ordered and ordered != entry.dose:
        dose = f"{entry.dose} (the order says {ordered})"
    return [
        (
            "Patient",
            f"{banner.name}, born {banner.born}, {banner.identifier}",
        ),
        ("Drug", rules.medicine_of(request)),
        ("Dose", dose),
        ("Route", route),
        ("Time", f"{views.moment(entry.at)} ({views.since(entry.at, now)})"),
    ]


def dose_lines(given: list[Mapping[str, Any]], states: Mapping[str, str], now: float) -> list[str]:
    """One sentence per earlier dose: when, how much, and its sync state."""
    out = []
    for record in given:
        when = rules.when_of(record)
        dosage = record.get("dosage") if isinstance(record.get("dosage"), dict) else {}
        assert isinstance(dosage, dict)
        dose = str(dosage.get("text") or "")
        state = states.get(str(record.get("id")), "from server")
        where = (
            "recorded on this device and not yet on the server"
            if state == views.STATE_LABELS["pending"]
            else state
        )
        out.append(
            f"Given {views.moment(when)} ({views.since(when, now)})"
            + (f", {dose}" if dose else "")
            + f": {where}."
        )
    return out
