"""Scopes in plain words, for the consent page a patient or clinician reads before allowing."""

from __future__ import annotations

import re
from typing import Final

from bedside.auth.scopes import Scope, ScopeSet

__all__ = ["WILDCARD_TYPES", "describe", "selectable_types", "type_label"]

#: The record types a wildcard scope is shown as, so a user can untick some of them.
WILDCARD_TYPES: Final = (
    "Patient",
    "AllergyIntolerance",
    "CarePlan",
    "CareTeam",
    "Condition",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Goal",
    "Immunization",
    "Medication",
    "MedicationRequest",
    "Observation",
    "Procedure",
    "Provenance",
    "Practitioner",
    "Organization",
    "Location",
)

_LETTERS: Final = (("r", "read"), ("s", "search"), ("c", "add"), ("u", "change"), ("d", "delete"))
_WHOSE: Final = {
    "patient": "the patient's",
    "user": "your",
    "system": "all",
}
_OTHER: Final = {
    "openid": "confirm who you are",
    "fhirUser": "know which person in the record you are",
    "profile": "know which person in the record you are",
    "offline_access": "keep access while you are away, until you revoke it",
    "online_access": "keep access while you are signed in",
    "launch/patient": "know which patient you chose",
    "launch/encounter": "know which encounter you are in",
    "launch": "open in the context of your current record",
}


def type_label(rtype: str) -> str:
    """``MedicationRequest`` → ``medication requests``."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", rtype).lower()
    return words + ("" if words.endswith("s") else "s")


def _verbs(scope: Scope) -> str:
    verbs = [word for letter, word in _LETTERS if letter in scope.permissions]
    return verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]


def describe(scopes: ScopeSet) -> list[str]:
    """One sentence fragment per scope, e.g. "read and search the patient's observations"."""
    lines: list[str] = []
    for s in scopes.scopes:
        what = "records of every kind" if s.resource_type == "*" else type_label(s.resource_type)
        line = f"{_verbs(s)} {_WHOSE[s.context]} {what}"
        if s.query:
            line += f" (only where {s.query.replace('&', ' and ')})"
        lines.append(line[0].upper() + line[1:])
    lines.extend(_OTHER[o][0].upper() + _OTHER[o][1:] for o in scopes.other if o in _OTHER)
    return list(dict.fromkeys(lines))


def selectable_types(scopes: ScopeSet) -> tuple[str, ...]:
    """The resource types the consent page offers as checkboxes, in a stable order."""
    types: list[str] = []
    for s in scopes.scopes:
        types.extend(WILDCARD_TYPES if s.resource_type == "*" else [s.resource_type])
    return tuple(dict.fromkeys(types))
