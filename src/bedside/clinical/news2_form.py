"""A NEWS2 set typed into a form: text fields to :class:`~bedside.clinical.news2.News2Inputs`,
scored as they are typed (issue 16, "Record observations").

An empty field is a reading not taken (the set is incomplete, never scored as 0); text that is
not a reading (letters, a signed or exponent number, a comma decimal) is refused with the same
kind of sentence as an implausible value, and the field's score is not shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from bedside.clinical.news2 import (
    CONSCIOUSNESS_SENTENCE,
    LIMITS,
    SCALE_SENTENCE,
    Assessment,
    Consciousness,
    News2Inputs,
    Parameter,
    SpO2Scale,
    assess,
)

__all__ = ["FORM_FIELDS", "assess_form"]

#: The form field each reading comes from: ``spo2_scale`` is "1" or "2" (empty: Scale 1),
#: ``air_or_oxygen`` "air" or "oxygen", ``consciousness`` a
#: :class:`~bedside.clinical.news2.Consciousness` value ("alert", "new-confusion", ...); the
#: others are numbers as typed (temperature in °C to one decimal place).
FORM_FIELDS: Final = (
    "respiration_rate",
    "spo2",
    "spo2_scale",
    "air_or_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)
_WHOLE: Final = re.compile(r"[0-9]{1,6}")
_DECIMAL: Final = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")
_SCALES: Final = {"1": SpO2Scale.SCALE_1, "2": SpO2Scale.SCALE_2}
_SCALES_TOO: Final = {"scale 1": SpO2Scale.SCALE_1, "scale 2": SpO2Scale.SCALE_2}
_OXYGEN: Final = {"air": False, "oxygen": True}
_TEMPERATURE_TEXT: Final = "Temperature must be a number of degrees Celsius, such as 36.8."


def assess_form(form: Mapping[str, str | None]) -> Assessment:
    """Score a set typed into a form (keys: :data:`FORM_FIELDS`; other keys are ignored)."""
    refused: dict[Parameter, str] = {}

    def text(key: str) -> str | None:
        value = (form.get(key) or "").strip()
        return value or None

    def whole(parameter: Parameter) -> int | None:
        value = text(parameter.value)
        if value is None:
            return None
        if not _WHOLE.fullmatch(value):
            unit = LIMITS[parameter].unit
            refused[parameter] = f"{parameter.label} must be a whole number of {unit}."
            return None
        return int(value)

    scale_text = (text("spo2_scale") or "1").lower()
    scale = _SCALES.get(scale_text) or _SCALES_TOO.get(scale_text)
    if scale is None:
        refused[Parameter.SPO2] = SCALE_SENTENCE
    oxygen_text = text("air_or_oxygen")
    on_oxygen = _OXYGEN.get((oxygen_text or "").lower())
    if oxygen_text is not None and on_oxygen is None:
        refused[Parameter.AIR_OR_OXYGEN] = "Air or oxygen must be air or oxygen."
    level_text = text("consciousness")
    level = None
    if level_text is not None:
        wanted = level_text.lower().replace(" ", "-")
        level = next((c for c in Consciousness if c.value == wanted), None)
        if level is None:
            refused[Parameter.CONSCIOUSNESS] = CONSCIOUSNESS_SENTENCE
    degrees_text = text("temperature")
    degrees = None
    if degrees_text is not None:
        if _DECIMAL.fullmatch(degrees_text):
            degrees = Decimal(degrees_text)
        else:
            refused[Parameter.TEMPERATURE] = _TEMPERATURE_TEXT
    inputs = News2Inputs(
        respiration_rate=whole(Parameter.RESPIRATION_RATE),
        spo2=whole(Parameter.SPO2),
        spo2_scale=scale or SpO2Scale.SCALE_1,
        on_oxygen=on_oxygen,
        systolic_bp=whole(Parameter.SYSTOLIC_BP),
        pulse=whole(Parameter.PULSE),
        consciousness=level,
        temperature=degrees,
    )
    scored = assess(inputs)
    if not refused:
        return scored
    # A field whose text was refused has no reading: it is refused, not missing, and unscored.
    return Assessment(
        inputs,
        {p: s for p, s in scored.scores.items() if p not in refused},
        tuple(p for p in scored.missing if p not in refused),
        {
            p: (refused.get(p) or scored.refused[p])
            for p in Parameter
            if p in refused or p in scored.refused
        },
    )
