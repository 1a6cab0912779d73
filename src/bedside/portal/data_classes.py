"""The kinds of data a patient chooses to share, in their words, and the FHIR types behind each.

A share with a practitioner becomes a Consent whose ``provision.class`` lists these types, so
the consent machinery enforces exactly this choice; a SMART Health Link puts the same types'
resources in its Bundle. One table, so the words a patient reads and what is enforced agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bedside.errors import InvalidRequest

__all__ = ["DATA_CLASSES", "DataClass", "chosen", "types_of"]


@dataclass(frozen=True, slots=True)
class DataClass:
    name: str  # the value a form or an API sends
    words: str  # how a patient reads it: "your test results"
    types: tuple[str, ...]


DATA_CLASSES: Final = (
    DataClass("results", "your test results and measurements", ("Observation", "DiagnosticReport")),
    DataClass("medicines", "your medicines", ("MedicationRequest", "MedicationStatement")),
    DataClass("conditions", "your conditions", ("Condition",)),
    DataClass("allergies", "your allergies", ("AllergyIntolerance",)),
    DataClass("immunizations", "your vaccinations", ("Immunization",)),
    DataClass("documents", "your documents and letters", ("DocumentReference",)),
)
_BY_NAME: Final = {c.name: c for c in DATA_CLASSES}


def chosen(names: object) -> tuple[DataClass, ...]:
    """The data classes named, in the table's order; a plain sentence if any is unknown."""
    if not isinstance(names, (list, tuple)) or not names:
        raise InvalidRequest("Choose at least one kind of data to share.")
    unknown = [n for n in names if not isinstance(n, str) or n not in _BY_NAME]
    if unknown:
        raise InvalidRequest(
            "Choose what to share from: " + ", ".join(c.name for c in DATA_CLASSES) + "."
        )
    return tuple(c for c in DATA_CLASSES if c.name in names)


def types_of(classes: tuple[DataClass, ...]) -> tuple[str, ...]:
    return tuple(t for c in classes for t in c.types)
