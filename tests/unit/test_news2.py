"""NEWS2 (RCP 2017), the rule itself: every boundary on both sides of each band, the bands and
their responses, incomplete sets, implausible readings, Scale 1 and Scale 2, a form's text, and
properties over random sets (docs/news2.md)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bedside.clinical import (
    news2,
)
from bedside.clinical.news2 import (
    RESPONSES,
    Band,
    Consciousness,
    News2Inputs,
    Parameter,
    SpO2Scale,
    assess,
    risk_band,
)

#: A set that scores 0 on every parameter: one reading at a time is changed from it, so the
#: aggregate is that parameter's score alone.
NORMAL = News2Inputs(
    respiration_rate=16,
    spo2=97,
    spo2_scale=SpO2Scale.SCALE_1,
    on_oxygen=False,
    systolic_bp=120,
    pulse=70,
    consciousness=Consciousness.ALERT,
    temperature=Decimal("37.0"),
)
FIELDS = {
    Parameter.RESPIRATION_RATE: "respiration_rate",
    Parameter.SPO2: "spo2",
    Parameter.AIR_OR_OXYGEN: "on_oxygen",
    Parameter.SYSTOLIC_BP: "systolic_bp",
    Parameter.PULSE: "pulse",
    Parameter.CONSCIOUSNESS: "consciousness",
    Parameter.TEMPERATURE: "temperature",
}


def one(parameter: Parameter, value: object, **more: Any) -> news2.Assessment:
    return assess(dataclasses.replace(NORMAL, **{FIELDS[parameter]: value}, **more))


def scored(parameter: Parameter, value: object, **more: Any) -> int:
    found = one(parameter, value, **more)
    assert found.complete, found.problems()
    assert found.total == found.scores[parameter]  # the other six score 0
    return found.scores[parameter]


# --- every boundary, both sides ------------------------------------------------------------------

RESPIRATION = [
    (0, 3),
    (8, 3),
    (9, 1),
    (11, 1),
    (12, 0),
    (20, 0),
    (21, 2),
    (24, 2),
    (25, 3),
    (80, 3),
]
SPO2_SCALE_1 = [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SPO2_SCALE_2_AIR = [
    (50, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (97, 0),
    (100, 0),
]  # fmt: skip
SPO2_SCALE_2_OXYGEN = [
    (50, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 1), (94, 1),
    (95, 2), (96, 2), (97, 3), (100, 3),
]  # fmt: skip
SYSTOLIC = [
    (40, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3),
    (300, 3),
]  # fmt: skip
PULSE = [
    (20, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2),
    (131, 3), (250, 3),
]  # fmt: skip
TEMPERATURE = [
    ("25.0", 3), ("35.0", 3), ("35.1", 1), ("36.0", 1), ("36.1", 0), ("38.0", 0), ("38.1", 1),
    ("39.0", 1), ("39.1", 2), ("45.0", 2), ("37", 0), ("38.10", 1), ("35.00", 3),
]  # fmt: skip


@pytest.mark.parametrize(("rate", "score"), RESPIRATION)
def test_respiration_rate_scores_on_both_sides_of_every_band(rate: int, score: int) -> None:
    assert scored(Parameter.RESPIRATION_RATE, rate) == score


@pytest.mark.parametrize("on_oxygen", [False, True])
@pytest.mark.parametrize(("spo2", "score"), SPO2_SCALE_1)
def test_spo2_scale_1_scores_the_same_on_air_and_on_oxygen(
    spo2: int, score: int, on_oxygen: bool
) -> None:
    found = one(Parameter.SPO2, spo2, on_oxygen=on_oxygen)
    assert found.scores[Parameter.SPO2] == score
    assert found.scores[Parameter.AIR_OR_OXYGEN] == (2 if on_oxygen else 0)
    assert found.total == score + (2 if on_oxygen else 0)


@pytest.mark.parametrize(("spo2", "score"), SPO2_SCALE_2_AIR)
def test_spo2_scale_2_on_air_scores_93_and_above_as_0(spo2: int, score: int) -> None:
    assert scored(Parameter.SPO2, spo2, spo2_scale=SpO2Scale.SCALE_2) == score


@pytest.mark.parametrize(("spo2", "score"), SPO2_SCALE_2_OXYGEN)
def test_spo2_scale_2_on_oxygen_has_its_own_bands_above_92(spo2: int, score: int) -> None:
    found = one(Parameter.SPO2, spo2, spo2_scale=SpO2Scale.SCALE_2, on_oxygen=True)
    assert found.scores[Parameter.SPO2] == score
    assert found.total == score + 2  # oxygen scores 2 on either scale


def test_scale_2_is_used_only_when_chosen() -> None:
    # 88 % scores 3 on the default scale and 0 on Scale 2; 97 % on oxygen the other way round
    assert News2Inputs().spo2_scale is SpO2Scale.SCALE_1
    assert scored(Parameter.SPO2, 88) == 3
    assert scored(Parameter.SPO2, 88, spo2_scale=SpO2Scale.SCALE_2) == 0
    assert one(Parameter.SPO2, 97, on_oxygen=True).scores[Parameter.SPO2] == 0
    on_scale_2 = one(Parameter.SPO2, 97, on_oxygen=True, spo2_scale=SpO2Scale.SCALE_2)
    assert on_scale_2.scores[Parameter.SPO2] == 3


def test_scale_2_at_93_or_more_waits_for_air_or_oxygen() -> None:
    found = one(Parameter.SPO2, 95, spo2_scale=SpO2Scale.SCALE_2, on_oxygen=None)
    assert Parameter.SPO2 not in found.scores
    assert found.missing == (Parameter.AIR_OR_OXYGEN,)
    assert found.total is None
    below = one(Parameter.SPO2, 92, spo2_scale=SpO2Scale.SCALE_2, on_oxygen=None)
    assert below.scores[Parameter.SPO2] == 0


@pytest.mark.parametrize(("on_oxygen", "score"), [(False, 0), (True, 2)])
def test_air_scores_0_and_oxygen_2(on_oxygen: bool, score: int) -> None:
    assert scored(Parameter.AIR_OR_OXYGEN, on_oxygen) == score


@pytest.mark.parametrize(("systolic", "score"), SYSTOLIC)
def test_systolic_pressure_scores_on_both_sides_of_every_band(systolic: int, score: int) -> None:
    assert scored(Parameter.SYSTOLIC_BP, systolic) == score


@pytest.mark.parametrize(("pulse", "score"), PULSE)
def test_pulse_scores_on_both_sides_of_every_band(pulse: int, score: int) -> None:
    assert scored(Parameter.PULSE, pulse) == score


@pytest.mark.parametrize(
    ("level", "score"),
    [
        (Consciousness.ALERT, 0),
        (Consciousness.NEW_CONFUSION, 3),
        (Consciousness.VOICE, 3),
        (Consciousness.PAIN, 3),
        (Consciousness.UNRESPONSIVE, 3),
    ],
)
def test_new_confusion_voice_pain_and_unresponsive_score_3(
    level: Consciousness, score: int
) -> None:
    assert scored(Parameter.CONSCIOUSNESS, level) == score


@pytest.mark.parametrize(("degrees", "score"), TEMPERATURE)
def test_temperature_scores_exactly_on_the_one_decimal_edges(degrees: str, score: int) -> None:
    assert scored(Parameter.TEMPERATURE, Decimal(degrees)) == score


def test_a_whole_degree_temperature_is_scored_as_that_many_degrees() -> None:
    assert scored(Parameter.TEMPERATURE, 35) == 3
    assert scored(Parameter.TEMPERATURE, 39) == 1


# --- aggregate, bands and responses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "highest", "band"),
    [
        (0, 0, Band.ROUTINE),
        (1, 1, Band.LOW),
        (4, 2, Band.LOW),
        (3, 3, Band.LOW_MEDIUM),
        (4, 3, Band.LOW_MEDIUM),
        (5, 2, Band.MEDIUM),
        (5, 3, Band.MEDIUM),
        (6, 3, Band.MEDIUM),
        (7, 2, Band.HIGH),
        (7, 3, Band.HIGH),
        (20, 3, Band.HIGH),
    ],
)
def test_risk_bands_follow_the_rcp_thresholds(total: int, highest: int, band: Band) -> None:
    assert risk_band(total, highest) is band


@pytest.mark.parametrize(
    ("changes", "total", "band"),
    [
        ({}, 0, Band.ROUTINE),
        ({"pulse": 95}, 1, Band.LOW),
        ({"pulse": 95, "respiration_rate": 22, "temperature": Decimal("38.5")}, 4, Band.LOW),
        ({"respiration_rate": 8}, 3, Band.LOW_MEDIUM),
        ({"consciousness": Consciousness.NEW_CONFUSION}, 3, Band.LOW_MEDIUM),
        ({"consciousness": Consciousness.VOICE, "pulse": 95}, 4, Band.LOW_MEDIUM),
        ({"systolic_bp": 95, "pulse": 115, "temperature": Decimal("38.1")}, 5, Band.MEDIUM),
        ({"systolic_bp": 90, "on_oxygen": True}, 5, Band.MEDIUM),
        ({"systolic_bp": 90, "on_oxygen": True, "pulse": 95}, 6, Band.MEDIUM),
        ({"systolic_bp": 90, "on_oxygen": True, "pulse": 115}, 7, Band.HIGH),
    ],
)
def test_the_aggregate_and_its_band(changes: dict[str, Any], total: int, band: Band) -> None:
    found = assess(dataclasses.replace(NORMAL, **changes))
    assert found.total == total == sum(found.scores.values())
    assert found.band is band
    assert found.response is RESPONSES[band]
    assert found.headline == f"NEWS2 {total}"
    assert found.problems() == ()


def test_every_band_has_a_plain_response() -> None:
    assert set(RESPONSES) == set(Band)
    labels = {band: RESPONSES[band].label for band in Band}
    assert labels[Band.ROUTINE] == "Low risk: routine monitoring"
    assert labels[Band.LOW] == "Low risk: ward response"
    assert labels[Band.LOW_MEDIUM] == "Low-medium risk: urgent ward response"
    assert labels[Band.MEDIUM] == "Medium risk: urgent response"
    assert labels[Band.HIGH] == "High risk: emergency response"
    for response in RESPONSES.values():
        assert response.monitoring.endswith(".") and response.action.endswith(".")


# --- incomplete and implausible ------------------------------------------------------------------


@pytest.mark.parametrize("parameter", list(Parameter))
def test_a_missing_reading_makes_the_set_incomplete_never_zero(parameter: Parameter) -> None:
    found = one(parameter, None)
    assert found.missing == (parameter,)
    assert parameter not in found.scores
    assert (found.total, found.band, found.response) == (None, None, None)
    assert not found.complete and found.headline == "NEWS2 incomplete"
    (sentence,) = found.problems()
    assert parameter.label in sentence and "incomplete" in sentence


def test_an_empty_set_lists_every_parameter_missing_in_chart_order() -> None:
    found = assess(News2Inputs())
    assert found.missing == tuple(Parameter)
    assert found.scores == {}
    assert found.problems() == (
        "The set is incomplete: Respiration rate, SpO2, Air or oxygen, Systolic blood pressure,"
        " Pulse, Consciousness and Temperature not recorded. NEWS2 is scored only on a complete"
        " set.",
    )


IMPLAUSIBLE = [
    (Parameter.RESPIRATION_RATE, -1, "between 0 and 80 breaths per minute"),
    (Parameter.RESPIRATION_RATE, 81, "between 0 and 80 breaths per minute"),
    (Parameter.RESPIRATION_RATE, 18.5, "whole number of breaths per minute"),
    (Parameter.RESPIRATION_RATE, True, "whole number"),
    (Parameter.SPO2, 49, "between 50 and 100 %"),
    (Parameter.SPO2, 101, "between 50 and 100 %"),
    (Parameter.SYSTOLIC_BP, 39, "between 40 and 300 mmHg"),
    (Parameter.SYSTOLIC_BP, 301, "between 40 and 300 mmHg"),
    (Parameter.PULSE, 19, "between 20 and 250 beats per minute"),
    (Parameter.PULSE, 251, "between 20 and 250 beats per minute"),
    (Parameter.TEMPERATURE, Decimal("24.9"), "between 25.0 and 45.0 °C"),
    (Parameter.TEMPERATURE, Decimal("45.1"), "between 25.0 and 45.0 °C"),
    (Parameter.TEMPERATURE, Decimal("37.25"), "one decimal place"),
    (Parameter.TEMPERATURE, Decimal("NaN"), "number of degrees Celsius"),
    (Parameter.TEMPERATURE, 37.2, "number of degrees Celsius"),  # a float is never compared
    (Parameter.AIR_OR_OXYGEN, "oxygen", "air or oxygen"),
    (Parameter.CONSCIOUSNESS, "alert", "Alert, New confusion, Voice, Pain or Unresponsive"),
]


@pytest.mark.parametrize(("parameter", "value", "says"), IMPLAUSIBLE)
def test_an_implausible_reading_is_refused_with_a_sentence(
    parameter: Parameter, value: object, says: str
) -> None:
    found = one(parameter, value)
    assert set(found.refused) == {parameter}
    assert parameter not in found.scores
    assert found.total is None and found.headline == "NEWS2 not scored"
    (sentence,) = found.problems()
    assert says in sentence and sentence.startswith(parameter.label)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        assert str(value) not in sentence.replace("45.0", "").replace("25.0", "")  # not echoed


def test_an_unknown_spo2_scale_is_refused() -> None:
    found = assess(dataclasses.replace(NORMAL, spo2_scale=3))  # type: ignore[arg-type]
    assert found.refused == {Parameter.SPO2: "SpO2 scale must be Scale 1 or Scale 2."}
    assert found.total is None
    plain = assess(dataclasses.replace(NORMAL, spo2_scale=2, spo2=97, on_oxygen=True))  # type: ignore[arg-type]
    assert plain.scores[Parameter.SPO2] == 3


def test_the_limits_are_documented() -> None:
    page = (Path(__file__).parents[2] / "docs" / "news2.md").read_text()
    for parameter, limit in news2.LIMITS.items():
        assert f"| {parameter.label} | {limit.low} to {limit.high} {limit.unit} |" in page
