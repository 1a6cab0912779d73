"""A privacy Consent in plain words, for the patient whose consent it is.

A patient should be able to read back what they agreed to without knowing FHIR: who may see
what, why, until when, and whether it is still in force. :func:`describe` says exactly what
:mod:`bedside.consent.evaluate` enforces (a permit that names security labels shares only data
marked with them; nested provisions are exceptions), so the words never promise more or less
than the server does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from bedside.consent.evaluate import Provision, inherit, period_bounds, read_provision

__all__ = ["actor_words", "describe", "type_words"]

#: Resource types as a patient would call them (plural); others are split from CamelCase.
_TYPE_WORDS: Final = {
    "AllergyIntolerance": "allergies",
    "CarePlan": "care plans",
    "Condition": "conditions",
    "DiagnosticReport": "test reports",
    "DocumentReference": "documents",
    "Encounter": "visits",
    "FamilyMemberHistory": "family history",
    "Immunization": "vaccinations",
    "MedicationRequest": "prescriptions",
    "MedicationStatement": "medicines",
    "Observation": "observations (test results, vital signs)",
    "Procedure": "procedures",
    "ServiceRequest": "referrals and orders",
}
#: Security labels (v3 ActCode sensitivity, v3 Confidentiality) as the information they mark.
_LABEL_WORDS: Final = {
    "BH": "behavioural-health information",
    "ETH": "substance-use information",
    "ETHUD": "alcohol-use information",
    "GDIS": "genetic information",
    "HIV": "HIV information",
    "MH": "mental-health information",
    "OPIOIDUD": "opioid-use information",
    "PSY": "psychiatric information",
    "PSYTHPN": "psychotherapy notes",
    "SDV": "information about sexual or domestic violence",
    "SEX": "sexual-health information",
    "STD": "information about sexually transmitted infections",
    "SUD": "substance-use information",
    "R": "restricted information",
    "V": "very restricted information",
}
_PURPOSE_WORDS: Final = {
    "TREAT": "your treatment",
    "ETREAT": "emergency treatment",
    "BTG": "emergency access",
    "CAREMGT": "managing your care",
    "CLINTRL": "clinical trials",
    "HOPERAT": "running the health service",
    "HPAYMT": "payment",
    "HRESCH": "research",
    "HMARKT": "marketing",
    "PATRQT": "your own request",
    "FAMRQT": "your family's request",
    "PUBHLTH": "public health",
    "HSYSADMIN": "system administration",
}
_STATES: Final = {
    "draft": "Draft",
    "proposed": "Proposed",
    "inactive": "Withdrawn",
    "rejected": "Refused",
    "entered-in-error": "Entered in error",
}
#: How the sentence starts in each state; an Active consent needs no preface.
_LEADS: Final = {
    "Active": "",
    "Not started yet": "Not started yet: ",
    "Ended": "Ended: ",
    "Withdrawn": "Withdrawn, no longer in effect: ",
    "Draft": "Draft, not in effect: ",
    "Proposed": "Proposed, not in effect yet: ",
    "Refused": "Refused, never in effect: ",
    "Entered in error": "Entered in error, not in effect: ",
}
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def describe(
    consent: Mapping[str, Any], *, names: Mapping[str, str] | None = None, now: float
) -> dict[str, Any]:
    """The Consent as {id, status, state, who, what, why, until, sentence} in plain words.

    ``names`` maps actor references to display names ("Dr A. Clinician"); an actor without one
    is named by type and id ("Practitioner 9").
    """
    names = names or {}
    status = str(consent.get("status"))
    provision = consent.get("provision")
    raw: Mapping[str, Any] = provision if isinstance(provision, dict) else {}
    root = read_provision(raw) or Provision(type="permit")
    state = _state(status, root, now)
    who = _who(root.actors, names)
    scope = _scope(root.types, root.labels, raw) if root.data is None else _data(root, names)
    exceptions = _exceptions(root, raw, names)
    why = _why(raw)
    until = _until(raw.get("period"), now)
    if root.type == "deny" and not root.actors:
        main = f"no one may see {scope}"
    else:
        main = f"{who} {'may see' if root.type == 'permit' else 'may not see'} {scope}"
    main += (f" {why}" if why else "") + exceptions
    if state not in ("Withdrawn", "Refused", "Entered in error"):
        main += f", {until}"
    lead = _LEADS[state]
    sentence = lead + (main if lead else main[0].upper() + main[1:]) + "."
    return {
        "id": consent.get("id"),
        "status": status,
        "state": state,
        "who": who,
        "what": scope + exceptions,
        "why": why,
        "until": until,
        "sentence": sentence,
    }


def _state(status: str, root: Provision, now: float) -> str:
    if status != "active":
        return _STATES.get(status, status.capitalize())
    if root.end is not None and root.end < now:
        return "Ended"
    if root.start is not None and root.start > now:
        return "Not started yet"
    return "Active"


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def actor_words(ref: str, names: Mapping[str, str]) -> str:
    """``names[ref]``, else "Practitioner 9", "Care team 4"."""
    if ref in names:
        return names[ref]
    kind, _, rid = ref.partition("/")
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower().capitalize()
    return f"{words} {rid}".strip()


def _who(actors: frozenset[str], names: Mapping[str, str]) -> str:
    if not actors:
        return "everyone"
    return _join(sorted(actor_words(a, names) for a in actors))


def type_words(rtype: str) -> str:
    """``Observation`` → "test results and observations"; ``ServiceRequest`` → "referrals..."."""
    if rtype in _TYPE_WORDS:
        return _TYPE_WORDS[rtype]
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", rtype).lower()
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy")):
        return words[:-1] + "ies"
    return words if words.endswith("s") else words + "s"


def _label_words(labels: frozenset[tuple[str, str]], raw: Mapping[str, Any]) -> list[str]:
    displays = {
        (c.get("system"), c.get("code")): c.get("display")
        for c in raw.get("securityLabel") or ()
        if isinstance(c, dict)
    }
    return [
        _LABEL_WORDS.get(code) or f"information marked {displays.get((system, code)) or code}"
        for system, code in sorted(labels)
    ]


#: One resource of a type, when the patient's words for it are not known.
_ONE: Final = {"Observation": "one of your results", "DiagnosticReport": "one of your reports"}


def _data(root: Provision, names: Mapping[str, str]) -> str:
    """Particular resources (``provision.data``): named by ``names`` when it knows them
    ("your blood glucose result of 3 May 2026"), else "one of your results"."""
    items = [
        names.get(ref) or _ONE.get(ref.partition("/")[0]) or "one of your records"
        for ref in sorted(root.data or ())
    ]
    return ("only " + _join(items)) if items else "nothing"


def _scope(
    types: frozenset[str] | None, labels: frozenset[tuple[str, str]] | None, raw: Mapping[str, Any]
) -> str:
    """ "all your records", "your prescriptions and vaccinations", "your HIV information"..."""
    kinds = _join(sorted(type_words(t) for t in types)) if types else ""
    marks = _join(_label_words(labels, raw), "or") if labels else ""
    if kinds and marks:
        return f"your {kinds} marked as {marks}"
    if kinds or marks:
        return f"your {kinds or marks}"
    return "all your records"


def _exceptions(root: Provision, raw: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """ " except ..." for the nested provisions: those for the same people first, then those
    for particular people (", except that Dr B may not see ...")."""
    plain: list[str] = []
    own: list[str] = []
    for sub_raw in raw.get("provision") or ():
        sub = read_provision(sub_raw, 2)
        narrowed = inherit(sub, root) if sub is not None else None
        if sub is None or narrowed is None:
            continue
        named = bool(sub.types or sub.labels)
        extras = "".join(f" {e}" for e in (_why(sub_raw), _span(sub_raw.get("period"))) if e)
        if sub.actors and sub.actors != root.actors:
            scope = _scope(sub.types, sub.labels, sub_raw) if named else "any of them"
            verb = "may see" if sub.type == "permit" else "may not see"
            own.append(f", except that {_who(narrowed.actors, names)} {verb} {scope}{extras}")
        elif named or extras:
            plain.append((_scope(sub.types, sub.labels, sub_raw) if named else "") + extras)
    head = f", except {_join([p.strip() for p in plain])}" if plain else ""
    return head + "".join(own)


def _why(raw: Mapping[str, Any]) -> str | None:
    words = []
    for c in raw.get("purpose") or ():
        if isinstance(c, dict) and c.get("code"):
            words.append(_PURPOSE_WORDS.get(c["code"]) or c.get("display") or c["code"])
    return f"for {_join(words, 'or')}" if words else None


def _day(text: str, edge: str) -> str:
    """A FHIR date/dateTime as words: "21 December 2026", "the end of March 2026"."""
    parts = text[:10].split("-")
    if len(parts) == 1:
        return f"the {edge} of {parts[0]}"
    month = _MONTHS[int(parts[1]) - 1]
    if len(parts) == 2:
        return f"the {edge} of {month} {parts[0]}"
    return f"{int(parts[2])} {month} {parts[0]}"


def _span(period: Any) -> str | None:
    """A nested provision's period: "from 1 May 2026 to 1 June 2026", "until ..."."""
    if not isinstance(period, dict):
        return None
    begin, end = period.get("start"), period.get("end")
    words = [f"from {_day(begin, 'start')}"] if isinstance(begin, str) else []
    if isinstance(end, str):
        words.append(f"{'to' if words else 'until'} {_day(end, 'end')}")
    return " ".join(words) or None


def _until(period: Any, now: float) -> str:
    """ "until 21 December 2026", "no end date", "ended on 3 March 2024" (with "from ..." first
    when it has not started)."""
    period = period if isinstance(period, dict) else {}
    start, end = period_bounds(period)
    out = f"from {_day(period['start'], 'start')}, " if start is not None and start > now else ""
    if end is None:
        return out + "no end date"
    day = _day(period["end"], "end")
    if end < now:
        return out + (f"ended on {day}" if day[0].isdigit() else f"ended at {day}")
    return out + f"until {day}"
