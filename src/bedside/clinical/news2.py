"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017): one pure rule
that the device and the server both run (docs/news2.md).

:func:`assess` takes a set of readings (:class:`News2Inputs`) and gives an
:class:`Assessment`: each parameter's score, the aggregate, the clinical risk :class:`Band` and
the :class:`Response` it calls for. Three rules keep it safe:

* **Exact on every boundary.** Whole numbers are compared as integers and the temperature as
  whole tenths of a degree (a :class:`~decimal.Decimal`, never a float), so 38.0 scores 0 and
  38.1 scores 1 with nothing in between to drift.
* **Missing is not zero.** A parameter with no reading is listed in ``missing``; the set is then
  incomplete and has no aggregate, band or response at all: a partial sum would look like a
  reassuring score.
* **Implausible is refused.** A reading outside the plausibility limits (:data:`LIMITS`), or not
  in the unit's resolution (a fractional pulse, a temperature to two decimals), is refused with
  a plain sentence naming the parameter and the limits, never the value or the patient.

SpO2 is scored on Scale 1 unless Scale 2 is chosen (RCP 2017: Scale 2 only for a patient with
hypercapnic respiratory failure and a prescribed target of 88-92 %, chosen by a clinician). On
Scale 2 a reading of 93 % or more scores by air or oxygen, so it stays unscored until that is
known.

:func:`bedside.clinical.news2_form.assess_form` reads the same set from a form's text fields;
the bands and responses are in :mod:`bedside.clinical.news2_risk` (and re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

from bedside.clinical.news2_risk import RESPONSES, Band, Response, risk_band

__all__ = [
    "CONSCIOUSNESS_SENTENCE",
    "LIMITS",
    "RESPONSES",
    "SCALE_SENTENCE",
    "Assessment",
    "Band",
    "Consciousness",
    "Limit",
    "News2Inputs",
    "Parameter",
    "Response",
    "SpO2Scale",
    "assess",
    "risk_band",
]


class Parameter(StrEnum):
    """The seven scored parameters, in the order of the RCP observation chart."""

    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    AIR_OR_OXYGEN = "air_or_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"

    @property
    def label(self) -> str:
        """The field label the clinician sees ("Respiration rate", "SpO2", ...)."""
        return _LABELS[self]


_LABELS: Final = {
    Parameter.RESPIRATION_RATE: "Respiration rate",
    Parameter.SPO2: "SpO2",
    Parameter.AIR_OR_OXYGEN: "Air or oxygen",
    Parameter.SYSTOLIC_BP: "Systolic blood pressure",
    Parameter.PULSE: "Pulse",
    Parameter.CONSCIOUSNESS: "Consciousness",
    Parameter.TEMPERATURE: "Temperature",
}


class Consciousness(StrEnum):
    """ACVPU: alert, or new confusion, voice, pain, unresponsive (each of those scores 3)."""

    ALERT = "alert"
    NEW_CONFUSION = "new-confusion"
    VOICE = "voice"
    PAIN = "pain"
    UNRESPONSIVE = "unresponsive"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ").capitalize()


class SpO2Scale(IntEnum):
    """SpO2 Scale 1 (the default), or Scale 2 when a clinician chose it (target 88-92 %)."""

    SCALE_1 = 1
    SCALE_2 = 2

    @property
    def label(self) -> str:
        return f"Scale {self.value}"


@dataclass(frozen=True, slots=True)
class Limit:
    """A plausibility limit: readings outside ``low``..``high`` are refused (docs/news2.md)."""

    low: Decimal
    high: Decimal
    unit: str

    def sentence(self, parameter: Parameter) -> str:
        return (
            f"{parameter.label} must be between {self.low} and {self.high} {self.unit};"
            " check the reading and enter it again."
        )


LIMITS: Final[Mapping[Parameter, Limit]] = MappingProxyType(
    {
        Parameter.RESPIRATION_RATE: Limit(Decimal(0), Decimal(80), "breaths per minute"),
        Parameter.SPO2: Limit(Decimal(50), Decimal(100), "%"),
        Parameter.SYSTOLIC_BP: Limit(Decimal(40), Decimal(300), "mmHg"),
        Parameter.PULSE: Limit(Decimal(20), Decimal(250), "beats per minute"),
        Parameter.TEMPERATURE: Limit(Decimal("25.0"), Decimal("45.0"), "°C"),
    }
)


@dataclass(frozen=True, slots=True)
class News2Inputs:
    """One set of readings; ``None`` is a reading not taken. ``on_oxygen`` False is air."""

    respiration_rate: int | None = None
    spo2: int | None = None
    spo2_scale: SpO2Scale = SpO2Scale.SCALE_1
    on_oxygen: bool | None = None
    systolic_bp: int | None = None
    pulse: int | None = None
    consciousness: Consciousness | None = None
    temperature: Decimal | None = None  # °C, one decimal place


@dataclass(frozen=True, slots=True)
class Assessment:
    """The score of one set. ``total``, ``band`` and ``response`` are None unless the set is
    complete and every reading plausible."""

    inputs: News2Inputs
    scores: Mapping[Parameter, int]
    missing: tuple[Parameter, ...]
    refused: Mapping[Parameter, str] = field(default_factory=dict)
    total: int | None = None
    band: Band | None = None
    response: Response | None = None

    @property
    def complete(self) -> bool:
        return self.total is not None

    @property
    def headline(self) -> str:
        """The line to show: "NEWS2 5", or "NEWS2 incomplete" / "NEWS2 not scored"."""
        if self.total is not None:
            return f"NEWS2 {self.total}"
        return "NEWS2 not scored" if self.refused else "NEWS2 incomplete"

    def problems(self) -> tuple[str, ...]:
        """Every reason the set has no score, one plain sentence each, in chart order."""
        said = [self.refused[p] for p in Parameter if p in self.refused]
        if self.missing:
            names = _and([p.label for p in self.missing])
            said.append(
                f"The set is incomplete: {names} not recorded. NEWS2 is scored only on a"
                " complete set."
            )
        return tuple(said)


def assess(inputs: News2Inputs) -> Assessment:
    """Score one set (RCP 2017 chart, the table in docs/news2.md)."""
    return _assess(inputs, {})


def _assess(inputs: News2Inputs, refused: dict[Parameter, str]) -> Assessment:
    scores: dict[Parameter, int] = {}
    missing: list[Parameter] = []

    def whole(parameter: Parameter, value: object) -> int | None:
        if parameter in refused:
            return None
        if value is None:
            missing.append(parameter)
            return None
        limit = LIMITS[parameter]
        if isinstance(value, bool) or not isinstance(value, int):
            refused[parameter] = f"{parameter.label} must be a whole number of {limit.unit}."
            return None
        if not limit.low <= value <= limit.high:
            refused[parameter] = limit.sentence(parameter)
            return None
        return value

    scale = _scale(inputs.spo2_scale)
    if scale is None and Parameter.SPO2 not in refused:
        refused[Parameter.SPO2] = SCALE_SENTENCE
    rate = whole(Parameter.RESPIRATION_RATE, inputs.respiration_rate)
    if rate is not None:
        scores[Parameter.RESPIRATION_RATE] = _respiration(rate)
    spo2 = whole(Parameter.SPO2, inputs.spo2)
    oxygen = _oxygen(inputs.on_oxygen, refused, missing)
    if oxygen is not None:
        scores[Parameter.AIR_OR_OXYGEN] = 2 if oxygen else 0
    if spo2 is not None and scale is not None:
        spo2_score = _spo2(spo2, scale, oxygen)
        if spo2_score is not None:
            scores[Parameter.SPO2] = spo2_score
    systolic = whole(Parameter.SYSTOLIC_BP, inputs.systolic_bp)
    if systolic is not None:
        scores[Parameter.SYSTOLIC_BP] = _systolic(systolic)
    pulse = whole(Parameter.PULSE, inputs.pulse)
    if pulse is not None:
        scores[Parameter.PULSE] = _pulse(pulse)
    level = _consciousness(inputs.consciousness, refused, missing)
    if level is not None:
        scores[Parameter.CONSCIOUSNESS] = 0 if level is Consciousness.ALERT else 3
    tenths = _tenths(inputs.temperature, refused, missing)
    if tenths is not None:
        scores[Parameter.TEMPERATURE] = _temperature(tenths)
    scores = {p: scores[p] for p in Parameter if p in scores}  # chart order
    ordered = tuple(p for p in Parameter if p in missing)
    if refused or ordered:
        return Assessment(inputs, scores, ordered, refused)
    total = sum(scores.values())
    band = risk_band(total, max(scores.values()))
    return Assessment(inputs, scores, (), refused, total, band, RESPONSES[band])


# --- the chart, one function per row (RCP 2017) ------------------------------------------------


def _respiration(rate: int) -> int:
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    return 2 if rate <= 24 else 3


def _spo2(spo2: int, scale: SpO2Scale, on_oxygen: bool | None) -> int | None:
    if scale is not SpO2Scale.SCALE_2:
        if spo2 <= 91:
            return 3
        if spo2 <= 93:
            return 2
        return 1 if spo2 <= 95 else 0
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92:
        return 0
    if on_oxygen is None:
        return None  # 93 % or more on Scale 2 scores by air or oxygen, not yet known
    if not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    return 2 if spo2 <= 96 else 3


def _systolic(bp: int) -> int:
    if bp <= 90:
        return 3
    if bp <= 100:
        return 2
    if bp <= 110:
        return 1
    return 0 if bp <= 219 else 3


def _pulse(rate: int) -> int:
    if rate <= 40:
        return 3
    if rate <= 50:
        return 1
    if rate <= 90:
        return 0
    if rate <= 110:
        return 1
    return 2 if rate <= 130 else 3


def _temperature(tenths: int) -> int:
    if tenths <= 350:
        return 3
    if tenths <= 360:
        return 1
    if tenths <= 380:
        return 0
    return 1 if tenths <= 390 else 2


# --- readings that are not whole numbers -------------------------------------------------------

SCALE_SENTENCE: Final = "SpO2 scale must be Scale 1 or Scale 2."


def _scale(value: object) -> SpO2Scale | None:
    if isinstance(value, bool) or value not in (1, 2):
        return None
    return SpO2Scale(value)


def _oxygen(value: object, refused: dict[Parameter, str], missing: list[Parameter]) -> bool | None:
    if Parameter.AIR_OR_OXYGEN in refused:
        return None
    if value is None:
        missing.append(Parameter.AIR_OR_OXYGEN)
        return None
    if not isinstance(value, bool):
        refused[Parameter.AIR_OR_OXYGEN] = "Air or oxygen must be air or oxygen."
        return None
    return value


def _consciousness(
    value: object, refused: dict[Parameter, str], missing: list[Parameter]
) -> Consciousness | None:
    if Parameter.CONSCIOUSNESS in refused:
        return None
    if value is None:
        missing.append(Parameter.CONSCIOUSNESS)
        return None
    if not isinstance(value, Consciousness):
        refused[Parameter.CONSCIOUSNESS] = CONSCIOUSNESS_SENTENCE
        return None
    return value


CONSCIOUSNESS_SENTENCE: Final = (
    "Consciousness must be Alert, New confusion, Voice, Pain or Unresponsive."
)
_TENTH: Final = Decimal("0.1")


def _tenths(value: object, refused: dict[Parameter, str], missing: list[Parameter]) -> int | None:
    """The temperature in whole tenths of a degree, exactly (a float is never compared)."""
    parameter = Parameter.TEMPERATURE
    if parameter in refused:
        return None
    if value is None:
        missing.append(parameter)
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Decimal | int)
        or not Decimal(value).is_finite()
    ):
        refused[parameter] = "Temperature must be a number of degrees Celsius, such as 36.8."
        return None
    degrees = Decimal(value)
    limit = LIMITS[parameter]
    if not limit.low <= degrees <= limit.high:
        refused[parameter] = limit.sentence(parameter)
        return None
    if degrees % _TENTH != 0:
        refused[parameter] = "Temperature must be given to one decimal place, such as 36.8."
        return None
    return int(degrees * 10)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
