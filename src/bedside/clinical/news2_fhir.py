"""A NEWS2 set as FHIR R4 Observations (docs/news2.md "FHIR"); the codes are in
:mod:`bedside.clinical.news2_codes`, reading back in :mod:`bedside.clinical.news2_read`.

:func:`build_observations` makes one Observation per reading taken, with category
``vital-signs``, the patient as ``subject`` and the time as ``effectiveDateTime``; quantities in
UCUM units under their R4 vital-signs profile. When the set is complete it adds the NEWS2 total
Observation (SNOMED CT 1104051000000101, category ``survey``, ``valueInteger``), each
parameter's score as a ``component`` and ``derivedFrom`` the parameter Observations. The SpO2
component's code says the scale the total was scored on.

Air or oxygen is recorded as the SNOMED CT finding "breathing room air" (722742002) with
``valueBoolean``: true on air, false on supplemental oxygen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bedside.clinical.news2 import (
    Assessment,
    Consciousness,
    News2Inputs,
    Parameter,
    SpO2Scale,
    assess,
)
from bedside.clinical.news2_codes import (
    ACVPU,
    ACVPU_CODES,
    COMPONENT_CODES,
    DIASTOLIC,
    LOINC,
    QUANTITIES,
    ROOM_AIR,
    SNOMED,
    SYSTOLIC,
    TOTAL_CODE,
    TOTAL_DISPLAY,
    UCUM,
    QuantityCode,
)
from bedside.errors import Unprocessable

__all__ = ["News2Observations", "build_observations"]

_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
_ABSENT: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_PROFILE: Final = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True, slots=True)
class News2Observations:
    """What :func:`build_observations` made: the parameter Observations in chart order, the
    total (None when the set is incomplete) and the assessment they record."""

    parameters: tuple[dict[str, Any], ...]
    total: dict[str, Any] | None
    assessment: Assessment

    def all(self) -> list[dict[str, Any]]:
        """Every Observation, the total last (it is derived from the others)."""
        return [*self.parameters, *([self.total] if self.total is not None else [])]


def build_observations(
    inputs: News2Inputs,
    *,
    patient: str,
    effective: str,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    diastolic_bp: int | None = None,
) -> News2Observations:
    """The Observations recording ``inputs`` for ``patient`` (an id or ``Patient/<id>``) at
    ``effective`` (a FHIR dateTime). Unprocessable, with every sentence, when a reading is
    refused: nothing implausible is ever written."""
    assessment = assess(inputs)
    if assessment.refused:
        raise Unprocessable(" ".join(assessment.problems()))
    if diastolic_bp is not None and (
        isinstance(diastolic_bp, bool)
        or not isinstance(diastolic_bp, int)
        or not 10 <= diastolic_bp <= 250
    ):
        raise Unprocessable("Diastolic blood pressure must be a whole number from 10 to 250 mmHg.")
    patient_ref = f"Patient/{patient.removeprefix('Patient/')}"
    base = {"resourceType": "Observation", "status": "final"}
    made: list[dict[str, Any]] = []
    readings = {
        Parameter.RESPIRATION_RATE: inputs.respiration_rate,
        Parameter.SPO2: inputs.spo2,
        Parameter.AIR_OR_OXYGEN: inputs.on_oxygen,
        Parameter.SYSTOLIC_BP: inputs.systolic_bp,
        Parameter.PULSE: inputs.pulse,
        Parameter.CONSCIOUSNESS: inputs.consciousness,
        Parameter.TEMPERATURE: inputs.temperature,
    }
    for parameter, value in readings.items():
        if value is None:
            continue
        body: dict[str, Any] = {
            **base,
            "id": new_id(),
            "category": [_category("vital-signs", "Vital Signs")],
            **_value(parameter, value, diastolic_bp),
            "subject": {"reference": patient_ref},
            "effectiveDateTime": effective,
        }
        made.append(_ordered(body))
    total = None
    if assessment.total is not None:
        scale = inputs.spo2_scale
        total = _ordered(
            {
                **base,
                "id": new_id(),
                "category": [_category("survey", "Survey")],
                "code": {"coding": [_coding(SNOMED, TOTAL_CODE, TOTAL_DISPLAY)], "text": "NEWS2"},
                "subject": {"reference": patient_ref},
                "effectiveDateTime": effective,
                "valueInteger": assessment.total,
                "derivedFrom": [{"reference": f"Observation/{o['id']}"} for o in made],
                "component": [
                    {
                        "code": {"coding": [_coding(SNOMED, *_component_code(p, scale))]},
                        "valueInteger": score,
                    }
                    for p, score in assessment.scores.items()  # chart order
                ],
            }
        )
    return News2Observations(tuple(made), total, assessment)


_KEYS: Final = ("resourceType", "id", "meta", "status", "category", "code", "subject")


def _ordered(body: dict[str, Any]) -> dict[str, Any]:
    """The usual FHIR element order, so a stored Observation reads like the spec's examples."""
    return {**{k: body[k] for k in _KEYS if k in body}, **body}


def _value(parameter: Parameter, value: object, diastolic: int | None) -> dict[str, Any]:
    if parameter is Parameter.CONSCIOUSNESS:
        assert isinstance(value, Consciousness)
        answer = ACVPU_CODES[value]
        return {
            "code": {
                "coding": [
                    _coding(
                        SNOMED,
                        ACVPU,
                        "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score",
                    )
                ],
                "text": "Consciousness",
            },
            "valueCodeableConcept": {"coding": [_coding(SNOMED, *answer)], "text": value.label},
        }
    if parameter is Parameter.AIR_OR_OXYGEN:
        # Bedside's convention: the "breathing room air" finding, true on air, false on oxygen.
        return {
            "code": {
                "coding": [_coding(SNOMED, ROOM_AIR, "Breathing room air")],
                "text": "Air or oxygen",
            },
            "valueBoolean": value is False,
        }
    spec = QUANTITIES[parameter]
    assert isinstance(value, int | Decimal)
    code = {"coding": [_coding(*c) for c in spec.codings], "text": parameter.label}
    out: dict[str, Any] = {"meta": {"profile": [_PROFILE + spec.profile]}, "code": code}
    if parameter is not Parameter.SYSTOLIC_BP:
        out["valueQuantity"] = _quantity(value, spec)
        return out
    diastolic_part: dict[str, Any] = (
        {"valueQuantity": _quantity(diastolic, spec)}
        if diastolic is not None
        else {"dataAbsentReason": {"coding": [{"system": _ABSENT, "code": "unknown"}]}}
    )
    out["component"] = [
        {
            "code": {"coding": [_coding(LOINC, SYSTOLIC, "Systolic blood pressure")]},
            "valueQuantity": _quantity(value, spec),
        },
        {
            "code": {"coding": [_coding(LOINC, DIASTOLIC, "Diastolic blood pressure")]},
            **diastolic_part,
        },
    ]
    return out


def _quantity(value: int | Decimal, spec: QuantityCode) -> dict[str, Any]:
    number: int | float = value if isinstance(value, int) else float(value)  # one decimal: exact
    return {"value": number, "unit": spec.unit, "system": UCUM, "code": spec.ucum}


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(_CATEGORY, code, display)]}


def _component_code(parameter: Parameter, scale: SpO2Scale) -> tuple[str, str]:
    return COMPONENT_CODES[(parameter, scale if parameter is Parameter.SPO2 else None)]
