"""Code and unit normalization where the operator configured one.

Local lab codes become LOINC through a FHIR R4 ConceptMap the operator loads (``concept_map``
in ``upstream.toml``); only ``equivalent`` and ``equal`` mappings are applied, because a wider
or narrower code would change what a result means. The local coding stays beside the mapped one
so the source's code is never lost. Units become UCUM through the source's ``units`` table, or
are taken as UCUM when the sender says they are (CWE-3 ``UCUM``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from bedside.upstream.config import UpstreamError

__all__ = ["UCUM", "Terminology", "load_concept_map"]

UCUM: Final = "http://unitsofmeasure.org"
_APPLIED: Final = frozenset({"equivalent", "equal"})


@dataclass(frozen=True)
class Terminology:
    #: (source system, code) → target codings
    codes: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # local unit → UCUM code

    def translate(self, coding: dict[str, Any]) -> list[dict[str, str]]:
        """The target codings of one source coding (empty when none is configured)."""
        return list(
            self.codes.get((str(coding.get("system", "")), str(coding.get("code", ""))), [])
        )

    def normalize(self, concept: dict[str, Any]) -> dict[str, Any]:
        """A CodeableConcept with the mapped codings added after the source's."""
        codings = list(concept.get("coding") or [])
        extra: list[dict[str, str]] = []
        for c in codings:
            for target in self.translate(c):
                if target not in codings and target not in extra:
                    extra.append(target)
        if not extra:
            return concept
        return {**concept, "coding": [*extra, *codings]}

    def ucum(self, unit: str, unit_system: str) -> str | None:
        if unit in self.units:
            return self.units[unit]
        if unit_system.upper() == "UCUM" and unit:
            return unit
        return None


def load_concept_map(path: Path | None, units: dict[str, str]) -> Terminology:
    """The ConceptMap at ``path`` (R4 JSON) as a lookup table; raises UpstreamError naming the
    problem in one sentence."""
    if path is None:
        return Terminology({}, dict(units))
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        raise UpstreamError(f"The concept map {path} is not a readable JSON file.") from None
    if not isinstance(data, dict) or data.get("resourceType") != "ConceptMap":
        raise UpstreamError(f"The concept map {path} is not a FHIR ConceptMap.")
    codes: dict[tuple[str, str], list[dict[str, str]]] = {}
    for gi, group in enumerate(data.get("group") or []):
        if not isinstance(group, dict) or not group.get("source") or not group.get("target"):
            raise UpstreamError(
                f"The concept map {path}: group {gi} needs source and target systems."
            )
        for element in group.get("element") or []:
            code = element.get("code") if isinstance(element, dict) else None
            if not isinstance(code, str):
                raise UpstreamError(
                    f"The concept map {path}: group {gi} has an element without code."
                )
            for target in element.get("target") or []:
                if target.get("equivalence") in _APPLIED and target.get("code"):
                    coding = {"system": str(group["target"]), "code": str(target["code"])}
                    if target.get("display"):
                        coding["display"] = str(target["display"])
                    codes.setdefault((str(group["source"]), code), []).append(coding)
    return Terminology(codes, dict(units))
