"""The codes a NEWS2 set is recorded with in FHIR R4 (docs/news2.md "FHIR").

Parameters with an R4 vital-signs profile (observation-vitalsigns.html) use its LOINC code,
UCUM unit and profile: respiratory rate 9279-1, oxygen saturation 2708-6 with pulse oximetry
59408-5, blood pressure panel 85354-9 with systolic 8480-6, heart rate 8867-4, body temperature
8310-5. The others use SNOMED CT UK codes as UK NEWS2 records do: ACVPU 1104441000000107 with
the answers of the HL7 UK Care Connect ACVPU value set, "breathing room air" 722742002, the
NEWS2 total 1104051000000101 and one code per component score (SpO2 one per scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from bedside.clinical.news2 import Consciousness, Parameter, SpO2Scale

__all__ = [
    "ACVPU",
    "ACVPU_CODES",
    "BP_PANEL",
    "COMPONENT_CODES",
    "DIASTOLIC",
    "LOINC",
    "QUANTITIES",
    "ROOM_AIR",
    "SNOMED",
    "SYSTOLIC",
    "TOTAL_CODE",
    "TOTAL_DISPLAY",
    "UCUM",
    "QuantityCode",
    "codes_of",
    "component_key",
    "is_total",
    "parameter_of",
]

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"

TOTAL_CODE: Final = "1104051000000101"
TOTAL_DISPLAY: Final = (
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score"
)
BP_PANEL: Final = "85354-9"
SYSTOLIC: Final = "8480-6"
DIASTOLIC: Final = "8462-4"
ACVPU: Final = "1104441000000107"
ROOM_AIR: Final = "722742002"


@dataclass(frozen=True, slots=True)
class QuantityCode:
    """How a quantity parameter is coded: its codings, UCUM code and unit text, and the name of
    its R4 vital-signs profile."""

    codings: tuple[tuple[str, str, str], ...]  # (system, code, display)
    ucum: str
    unit: str
    profile: str


#: The quantity parameters. Systolic blood pressure is written as the 85354-9 panel with an
#: 8480-6 component (the R4 ``bp`` profile) and read from that panel or a lone 8480-6.
QUANTITIES: Final[Mapping[Parameter, QuantityCode]] = MappingProxyType(
    {
        Parameter.RESPIRATION_RATE: QuantityCode(
            ((LOINC, "9279-1", "Respiratory rate"),), "/min", "breaths/minute", "resprate"
        ),
        Parameter.SPO2: QuantityCode(
            (
                (LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
                (LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
            ),
            "%",
            "%",
            "oxygensat",
        ),
        Parameter.SYSTOLIC_BP: QuantityCode(
            ((LOINC, BP_PANEL, "Blood pressure panel with all children optional"),),
            "mm[Hg]",
            "mmHg",
            "bp",
        ),
        Parameter.PULSE: QuantityCode(
            ((LOINC, "8867-4", "Heart rate"),), "/min", "beats/minute", "heartrate"
        ),
        Parameter.TEMPERATURE: QuantityCode(
            ((LOINC, "8310-5", "Body temperature"),), "Cel", "°C", "bodytemp"
        ),
    }
)

#: ACVPU answers (SNOMED CT, the HL7 UK Care Connect ACVPU value set).
ACVPU_CODES: Final[Mapping[Consciousness, tuple[str, str]]] = MappingProxyType(
    {
        Consciousness.ALERT: ("248234008", "Mentally alert"),
        Consciousness.NEW_CONFUSION: ("130987000", "Acute confusion"),
        Consciousness.VOICE: ("300202002", "Responds to voice"),
        Consciousness.PAIN: ("450847001", "Responds to pain"),
        Consciousness.UNRESPONSIVE: ("422768004", "Unresponsive"),
    }
)

_SCORE: Final = "Royal College of Physicians NEWS2 (National Early Warning Score 2) - "
#: The NEWS2 component score codes (SNOMED CT UK), by parameter (and scale, for SpO2).
COMPONENT_CODES: Final[Mapping[tuple[Parameter, SpO2Scale | None], tuple[str, str]]] = (
    MappingProxyType(
        {
            (Parameter.RESPIRATION_RATE, None): (
                "1104301000000104",
                _SCORE + "respiration rate score",
            ),
            (Parameter.SPO2, SpO2Scale.SCALE_1): (
                "1104311000000102",
                _SCORE + "oxygen saturation scale 1 score",
            ),
            (Parameter.SPO2, SpO2Scale.SCALE_2): (
                "1104321000000108",
                _SCORE + "oxygen saturation scale 2 score",
            ),
            (Parameter.AIR_OR_OXYGEN, None): ("1104331000000105", _SCORE + "air or oxygen score"),
            (Parameter.SYSTOLIC_BP, None): (
                "1104341000000101",
                _SCORE + "systolic blood pressure score",
            ),
            (Parameter.PULSE, None): ("1104351000000103", _SCORE + "pulse score"),
            (Parameter.CONSCIOUSNESS, None): ("1104361000000100", _SCORE + "consciousness score"),
            (Parameter.TEMPERATURE, None): ("1104371000000107", _SCORE + "temperature score"),
        }
    )
)
_BY_COMPONENT: Final = {code: key for key, (code, _) in COMPONENT_CODES.items()}
_BY_CODE: Final[Mapping[tuple[str, str], Parameter]] = {
    **{(s, c): p for p, q in QUANTITIES.items() for s, c, _ in q.codings},
    (LOINC, SYSTOLIC): Parameter.SYSTOLIC_BP,
    (SNOMED, ACVPU): Parameter.CONSCIOUSNESS,
    (SNOMED, ROOM_AIR): Parameter.AIR_OR_OXYGEN,
}


def codes_of(concept: Any) -> list[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept; anything malformed is skipped."""
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    return [
        (c["system"], c["code"])
        for c in codings
        if isinstance(c, Mapping)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


def component_key(concept: Any) -> tuple[Parameter, SpO2Scale | None] | None:
    """The parameter (and SpO2 scale) a NEWS2 total's component code names, or None."""
    for system, code in codes_of(concept):
        if system == SNOMED and code in _BY_COMPONENT:
            return _BY_COMPONENT[code]
    return None


def is_total(resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` is a NEWS2 total Observation (SNOMED CT 1104051000000101)."""
    return resource.get("resourceType") == "Observation" and (SNOMED, TOTAL_CODE) in codes_of(
        resource.get("code")
    )


def parameter_of(observation: Mapping[str, Any]) -> Parameter | None:
    """The NEWS2 parameter an Observation records, by its code (None: not one, or codes that
    name two parameters)."""
    found = {_BY_CODE[c] for c in codes_of(observation.get("code")) if c in _BY_CODE}
    return found.pop() if len(found) == 1 else None
