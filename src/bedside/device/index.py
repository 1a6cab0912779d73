"""The device's local search index: which rows a resource contributes to the ``search`` table.

A clinician at a bedside looks for "this patient's observations with this code, this week", so
the device indexes four parameters per resource, with the meaning of the FHIR search parameters
of the same names (FHIR R4 search.html, token and date):

* ``code``: every coding of ``code``, ``vaccineCode`` or ``medicationCodeableConcept``, stored
  code first as ``code|system`` (``code|`` without a system), so one row answers all three
  FHIR token forms through the index: ``system|code`` (exact), ``|code`` (exact, no system)
  and a bare ``code`` (any system: the prefix ``code|``) — see :func:`token_query`;
* ``date``: the resource's clinically relevant time (``effective[x]``, ``occurrence[x]``,
  ``onset[x]``, ``performed[x]``, ``authoredOn``, ``recordedDate``, ``issued``, ``date``,
  ``period.start`` ...) as ISO text; a time with an offset is turned into UTC so that the text
  sorts in time order (``2026-11-21T09:30:00Z``), a bare date stays a date (``2026-11-21``);
* ``status``: ``status``;
* ``category``: every coding of ``category``, the same way (or its text when it has none).

This runs on every local write and for every resource a sync receives (100,000 on a first
sync), so it is plain dictionary walking with no model parsing, and one row per coding: on
SQLCipher every index entry costs an encrypted page write, so rows are the budget.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from bedside.numerals import is_number

__all__ = [
    "Row",
    "date_key",
    "display_of",
    "patient_of",
    "search_bounds",
    "search_rows",
    "token_query",
]

Row = tuple[str, str]

#: Elements holding a resource's main code, in the order they are looked for.
_CODE_ELEMENTS: Final = ("code", "vaccineCode", "medicationCodeableConcept")
#: Elements holding its clinically relevant time: a dateTime/instant/date, or a Period.
_DATE_ELEMENTS: Final = (
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "occurrenceDateTime",
    "occurrencePeriod",
    "onsetDateTime",
    "onsetPeriod",
    "performedDateTime",
    "performedPeriod",
    "authoredOn",
    "recordedDate",
    "issued",
    "date",
    "period",
    "recorded",
    "created",
    "authored",
    "sent",
)
#: References that name the patient a resource belongs to (its Patient compartment link; a
#: Task's is ``for``, ADR 0018).
_PATIENT_ELEMENTS: Final = ("subject", "patient", "beneficiary", "for")


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the patient ``resource`` is about, or None for a shared resource.

    A Patient is its own patient; others name theirs in ``subject`` or ``patient`` as
    ``Patient/<id>`` (relative, absolute or versioned: ``.../Patient/x/_history/2``).
    """
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    for element in _PATIENT_ELEMENTS:
        ref = resource.get(element)
        if isinstance(ref, dict):
            pid = _patient_id(ref.get("reference"))
            if pid is not None:
                return pid
    return None


def _patient_id(reference: object) -> str | None:
    if not isinstance(reference, str):
        return None
    at = reference.rfind("Patient/")
    if at < 0 or (at > 0 and reference[at - 1] != "/"):
        return None
    rest = reference[at + 8 :]
    pid = rest.split("/", 1)[0]
    return pid or None


def search_rows(resource: dict[str, Any]) -> list[Row]:
    """The ``(param, value)`` rows of ``resource`` for the local search table, without repeats."""
    rows: list[Row] = []
    for element in _CODE_ELEMENTS:
        value = resource.get(element)
        if value is not None:
            _tokens(value, "code", rows)
    for element in _DATE_ELEMENTS:
        value = resource.get(element)
        if value is None:
            continue
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str):
            key = date_key(value)
            if key is not None:
                rows.append(("date", key))
    status = resource.get("status")
    if isinstance(status, str) and status:
        rows.append(("status", status))
    category = resource.get("category")
    if category is not None:
        _tokens(category, "category", rows)
    return list(dict.fromkeys(rows)) if len(rows) > 1 else rows


def _tokens(value: object, param: str, rows: list[Row]) -> None:
    """Token rows of a CodeableConcept, a Coding, a list of either, or a plain code."""
    if isinstance(value, list):
        for item in value:
            _tokens(item, param, rows)
    elif isinstance(value, dict):
        codings = value.get("coding")
        if isinstance(codings, list):
            for coding in codings:
                if isinstance(coding, dict):
                    _coding(coding, param, rows)
        elif "code" in value:
            _coding(value, param, rows)
        if param == "category" and not codings and isinstance(value.get("text"), str):
            rows.append((param, value["text"] + "|"))
    elif isinstance(value, str) and value:
        rows.append((param, value + "|"))


def _coding(coding: dict[str, Any], param: str, rows: list[Row]) -> None:
    code = coding.get("code")
    if not isinstance(code, str) or not code:
        return
    system = coding.get("system")
    rows.append((param, f"{code}|{system}" if isinstance(system, str) else code + "|"))


def token_query(text: str) -> tuple[str, str | None]:
    """SQL bounds for a token query on ``code|system`` rows: (value, None) for an exact match,
    (low, high) for a bare code, which matches it in any system (FHIR search.html#token)."""
    system, bar, code = text.rpartition("|")
    if bar:
        return f"{code}|{system}", None
    return text + "|", text + "}"  # "}" sorts right after "|"


def date_key(text: str) -> str | None:
    """``text`` (a FHIR date, dateTime or instant) as sortable ISO text, or None if it is not.

    Dates and partial dates (``2026``, ``2026-11``) stay as they are; a time with an offset
    becomes UTC with a ``Z`` and whole seconds, so text order is time order.
    """
    if len(text) <= 10:
        return text if is_number(text[:4]) else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_bounds(date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    """SQL text bounds for ``date`` rows: ``from`` inclusive, ``to`` inclusive as a prefix.

    ``date_to="2026-11-21"`` includes every time on that day: the bound becomes
    ``"2026-11-21~"`` and ``~`` sorts after every character an ISO time contains.
    """
    low = date_key(date_from) if date_from else None
    high = date_key(date_to) if date_to else None
    if (date_from and low is None) or (date_to and high is None):
        raise ValueError("not a FHIR date")
    return low, (high + "~") if high is not None else None


def display_of(patient: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(name as the patient list shows it, birthDate, gender) of a Patient resource.

    The ``official`` name if there is one, else the first; its ``text``, else given names and
    family name joined.
    """
    names = patient.get("name")
    display = ""
    if isinstance(names, list) and names:
        chosen = next(
            (n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0]
        )
        if isinstance(chosen, dict):
            text = chosen.get("text")
            if isinstance(text, str) and text.strip():
                display = text.strip()
            else:
                given = chosen.get("given")
                parts = [g for g in given if isinstance(g, str)] if isinstance(given, list) else []
                family = chosen.get("family")
                if isinstance(family, str):
                    parts.append(family)
                display = " ".join(parts)
    birth = patient.get("birthDate")
    gender = patient.get("gender")
    return (
        display,
        birth if isinstance(birth, str) else None,
        gender if isinstance(gender, str) else None,
    )
