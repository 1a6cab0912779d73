"""The HL7 v2 vocabulary the segment maps use, after the HL7 v2-to-FHIR IG's vocabulary maps
(AdministrativeSex, PatientClass → EncounterClass, ObservationResultStatus, table 0396 coding
systems, ...), and the v2 data types turned into FHIR values (TS/DTM → date/dateTime, CE/CWE →
CodeableConcept). Tables only: which segment field goes where is :mod:`hl7_segments`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from bedside.numerals import is_number
from bedside.upstream.config import Hl7Source
from bedside.upstream.terminology import UCUM, Terminology

__all__ = [
    "ACT_CODE",
    "ALLERGY_CATEGORY",
    "CLASS",
    "INTERPRETATION",
    "INTERPRETATIONS",
    "NAME_USE",
    "REPORT_STATUS",
    "RESULT_STATUS",
    "SEVERITY",
    "SEX",
    "SYSTEMS",
    "V2",
    "coding_system",
    "concept",
    "fhir_datetime",
]

V2: Final = "http://terminology.hl7.org/CodeSystem/v2-"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: v2 table 0396 coding system names → FHIR system URIs (IG ConceptMap table-hl70396).
SYSTEMS: Final = {
    "LN": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "UCUM": UCUM,
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
SEX: Final = {
    "F": "female",
    "M": "male",
    "O": "other",
    "A": "other",
    "U": "unknown",
    "N": "unknown",
}
CLASS: Final = {
    "E": ("EMER", "emergency"),
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("IMP", "inpatient encounter"),
}
RESULT_STATUS: Final = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "I": "registered",
    "X": "cancelled",
    "W": "entered-in-error",
    "D": "entered-in-error",
}
REPORT_STATUS: Final = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "partial",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
}
ALLERGY_CATEGORY: Final = {
    "DA": "medication",
    "FA": "food",
    "EA": "environment",
    "AA": "environment",
    "PA": "environment",
    "LA": "environment",
}
SEVERITY: Final = {"SV": "severe", "MO": "moderate", "MI": "mild"}
NAME_USE: Final = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous"}
INTERPRETATIONS: Final = frozenset({"H", "HH", "L", "LL", "N", "A", "AA", "<", ">", "S", "R", "I"})
_TS: Final = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?")


def fhir_datetime(ts: str) -> str | None:
    """A v2 TS/DTM (YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ]) as a FHIR date or dateTime."""
    m = _TS.fullmatch(ts.strip()) if ts else None
    if m is None:
        return None
    y, mo, d, h, mi, s, tz = m.groups()
    if h is None or d is None or mo is None:
        return "-".join(x for x in (y, mo, d) if x)
    zone = f"{tz[:3]}:{tz[3:]}" if tz else "Z"
    return f"{y}-{mo}-{d}T{h}:{mi or '00'}:{s or '00'}{zone}"


def coding_system(name: str, source: Hl7Source) -> str:
    if name in SYSTEMS:
        return SYSTEMS[name]
    if name.startswith("HL7") and is_number(name[3:]):
        return V2 + name[3:]
    return f"{source.system}/code/{name or 'local'}"


def concept(
    comp: dict[int, str], source: Hl7Source, terms: Terminology | None = None
) -> dict[str, Any] | None:
    """A CE/CWE (code^text^system[^alt code^alt text^alt system]) as a CodeableConcept."""
    codings = []
    for code, text, system in ((1, 2, 3), (4, 5, 6)):
        if comp.get(code):
            c = {"system": coding_system(comp.get(system, ""), source), "code": comp[code]}
            if comp.get(text):
                c["display"] = comp[text]
            codings.append(c)
    if not codings and not comp.get(2):
        return None
    out: dict[str, Any] = {"coding": codings} if codings else {}
    if comp.get(2):
        out["text"] = comp[2]
    return terms.normalize(out) if terms else out
