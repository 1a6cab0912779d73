"""Reading FHIR Observations back into a NEWS2 set (docs/news2.md "FHIR").

:func:`read_inputs` turns parameter Observations (as :mod:`bedside.clinical.news2_fhir` writes
them, or as other UK systems do: SpO2 under 2708-6 or 59408-5, systolic as the 85354-9 panel or
a lone 8480-6, "breathing room air" as a finding without a value) into
:class:`~bedside.clinical.news2.News2Inputs`; a NEWS2 total's stated scores come from
:func:`total_score`, :func:`component_scores` and :func:`spo2_scale_of`.

An Observation that cannot be read as the parameter its code names is refused
(:class:`~bedside.errors.Unprocessable`) with a sentence naming the parameter, never a value or
the patient. An Observation with no value (a ``dataAbsentReason``) is a reading not taken, so
the set is incomplete: never a 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from bedside.clinical.news2 import Consciousness, News2Inputs, Parameter, SpO2Scale
from bedside.clinical.news2_codes import (
    ACVPU_CODES,
    BP_PANEL,
    LOINC,
    QUANTITIES,
    SNOMED,
    SYSTOLIC,
    UCUM,
    codes_of,
    component_key,
    parameter_of,
)
from bedside.errors import Unprocessable

__all__ = ["component_scores", "read_inputs", "spo2_scale_of", "total_score"]

_NOT_SCORED: Final = frozenset({"entered-in-error", "cancelled"})


def read_inputs(
    observations: Iterable[Mapping[str, Any]], *, spo2_scale: SpO2Scale = SpO2Scale.SCALE_1
) -> News2Inputs:
    """The readings a set of parameter Observations records. An Observation with no value (a
    ``dataAbsentReason``) is a reading not taken; Unprocessable for an Observation that is not
    a NEWS2 parameter, one marked entered-in-error or cancelled, two of one parameter, or a
    value that is not in the parameter's unit."""
    readings: dict[Parameter, object] = {}
    for observation in observations:
        parameter = parameter_of(observation)
        if parameter is None:
            raise Unprocessable("One of the observations is not a NEWS2 parameter.")
        if observation.get("status") in _NOT_SCORED:
            raise Unprocessable(
                f"The {parameter.label} observation is marked entered-in-error or cancelled;"
                " it cannot be scored."
            )
        if parameter in readings:
            raise Unprocessable(f"The set holds more than one {parameter.label} observation.")
        readings[parameter] = _reading(parameter, observation)
    oxygen = readings.get(Parameter.AIR_OR_OXYGEN)
    level = readings.get(Parameter.CONSCIOUSNESS)
    degrees = readings.get(Parameter.TEMPERATURE)
    return News2Inputs(
        respiration_rate=_whole(
            readings.get(Parameter.RESPIRATION_RATE), Parameter.RESPIRATION_RATE
        ),
        spo2=_whole(readings.get(Parameter.SPO2), Parameter.SPO2),
        spo2_scale=spo2_scale,
        on_oxygen=None if oxygen is None else oxygen is True,
        systolic_bp=_whole(readings.get(Parameter.SYSTOLIC_BP), Parameter.SYSTOLIC_BP),
        pulse=_whole(readings.get(Parameter.PULSE), Parameter.PULSE),
        consciousness=level if isinstance(level, Consciousness) else None,
        temperature=degrees if isinstance(degrees, Decimal) else None,
    )


def _reading(parameter: Parameter, observation: Mapping[str, Any]) -> object:
    """The value of one parameter Observation: a Decimal quantity, True for oxygen (False for
    air), a Consciousness; None when it records no value."""
    if parameter is Parameter.CONSCIOUSNESS:
        answer = observation.get("valueCodeableConcept")
        if answer is None:
            return None
        wanted = {code for system, code in codes_of(answer) if system == SNOMED}
        found = [level for level, (code, _) in ACVPU_CODES.items() if code in wanted]
        if len(found) != 1:
            raise Unprocessable(
                "The Consciousness observation must be coded Alert, New confusion, Voice, Pain"
                " or Unresponsive (SNOMED CT)."
            )
        return found[0]
    if parameter is Parameter.AIR_OR_OXYGEN:
        air = observation.get("valueBoolean")
        if air is None and "dataAbsentReason" not in observation:
            air = True  # the "breathing room air" finding asserted without a value
        if air is not None and not isinstance(air, bool):
            raise Unprocessable("The Air or oxygen observation must have a boolean value.")
        return None if air is None else not air
    quantity: Any = observation.get("valueQuantity")
    if parameter is Parameter.SYSTOLIC_BP and BP_PANEL in {
        c for _, c in codes_of(observation.get("code"))
    }:
        parts = [
            c
            for c in observation.get("component") or []
            if isinstance(c, Mapping) and (LOINC, SYSTOLIC) in codes_of(c.get("code"))
        ]
        if len(parts) > 1:
            raise Unprocessable("The blood pressure observation has more than one systolic value.")
        quantity = parts[0].get("valueQuantity") if parts else None
    if quantity is None:
        return None
    spec = QUANTITIES[parameter]
    number = quantity.get("value") if isinstance(quantity, Mapping) else None
    if (
        isinstance(number, bool)
        or not isinstance(number, int | float)
        or quantity.get("code") != spec.ucum
        or quantity.get("system", UCUM) != UCUM
    ):
        raise Unprocessable(
            f"The {parameter.label} observation must give a number in {spec.ucum} (UCUM)."
        )
    # repr is the shortest text that reads back as the same float: 38.1, never 38.100000001
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def _whole(value: object, parameter: Parameter) -> int | None:
    if value is None:
        return None
    assert isinstance(value, Decimal)
    if not value.is_finite() or value != value.to_integral_value():
        raise Unprocessable(f"The {parameter.label} observation must be a whole number.")
    return int(value)


def spo2_scale_of(total: Mapping[str, Any]) -> SpO2Scale:
    """The SpO2 scale a NEWS2 total was scored on: Scale 2 when its SpO2 component has the
    scale 2 code, else Scale 1 (Scale 2 only when chosen). Unprocessable when it has both."""
    scales = {
        key[1]
        for component in _components(total)
        if (key := component_key(component.get("code"))) is not None and key[1] is not None
    }
    if len(scales) > 1:
        raise Unprocessable("The NEWS2 total has SpO2 scores on both Scale 1 and Scale 2.")
    return scales.pop() if scales else SpO2Scale.SCALE_1


def total_score(total: Mapping[str, Any]) -> int | None:
    """The aggregate a NEWS2 total states: its ``valueInteger`` (or a ``valueQuantity`` holding
    a whole number, as some UK systems send it); None when it states none."""
    return _score(total, "The NEWS2 total", high=21)


def component_scores(total: Mapping[str, Any]) -> dict[Parameter, int]:
    """The parameter scores a NEWS2 total states in its components (components with other
    codes are not NEWS2 scores and are left alone). Unprocessable for a score that is not a
    whole number from 0 to 3, or two scores for one parameter."""
    found: dict[Parameter, int] = {}
    for component in _components(total):
        key = component_key(component.get("code"))
        if key is None:
            continue
        parameter = key[0]
        score = _score(component, f"The NEWS2 total's {parameter.label} score", high=3)
        if score is None:
            continue
        if parameter in found:
            raise Unprocessable(f"The NEWS2 total states two {parameter.label} scores.")
        found[parameter] = score
    return found


def _components(total: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = total.get("component")
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def _score(holder: Mapping[str, Any], what: str, *, high: int) -> int | None:
    value = holder.get("valueInteger")
    if value is None and isinstance(holder.get("valueQuantity"), Mapping):
        value = holder["valueQuantity"].get("value")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise Unprocessable(f"{what} must be a whole number from 0 to {high}.")
    return value
