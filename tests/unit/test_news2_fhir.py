"""NEWS2 in FHIR R4: the Observations a set is written as (R4 vital-signs codes, UCUM units,
the SNOMED CT NEWS2 total with components and derivedFrom), reading them back, and the check of
a total against the Observations it is derived from (docs/news2.md)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given

from bedside.clinical.news2 import Consciousness, News2Inputs, Parameter, SpO2Scale, assess
from bedside.clinical.news2_check import check_total
from bedside.clinical.news2_codes import LOINC, SNOMED, UCUM, is_total, parameter_of
from bedside.clinical.news2_fhir import News2Observations, build_observations
from bedside.clinical.news2_read import component_scores, read_inputs, spo2_scale_of
from bedside.errors import Unprocessable
from bedside.fhir.validation import check_with_models, validate_resource
from tests.unit.test_news2 import NORMAL
from tests.unit.test_news2_properties import readings

SET = News2Inputs(
    respiration_rate=22,
    spo2=95,
    spo2_scale=SpO2Scale.SCALE_2,
    on_oxygen=True,
    systolic_bp=105,
    pulse=95,
    consciousness=Consciousness.NEW_CONFUSION,
    temperature=Decimal("38.1"),
)
SCORES = {
    Parameter.RESPIRATION_RATE: 2,
    Parameter.SPO2: 2,
    Parameter.AIR_OR_OXYGEN: 2,
    Parameter.SYSTOLIC_BP: 1,
    Parameter.PULSE: 1,
    Parameter.CONSCIOUSNESS: 3,
    Parameter.TEMPERATURE: 1,
}


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"o{next(counter)}"


def build(inputs: News2Inputs = SET, **more: Any) -> News2Observations:
    return build_observations(
        inputs, patient="p1", effective="2026-11-21T10:00:00Z", new_id=ids(), **more
    )


def by_parameter(made: News2Observations) -> dict[Parameter, dict[str, Any]]:
    found = {parameter_of(o): o for o in made.parameters}
    assert None not in found
    return {p: o for p, o in found.items() if p is not None}


def lookup_in(*observations: dict[str, Any]) -> Callable[[str, int | None], Any]:
    stored = {o["id"]: o for o in observations}
    return lambda rid, version: stored.get(rid)


def codings(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in resource["code"]["coding"]]


# --- writing -------------------------------------------------------------------------------------


def test_every_observation_is_valid_fhir_r4() -> None:
    for made in (
        build(),
        build(NORMAL, diastolic_bp=80),
        build(dataclasses.replace(SET, pulse=None)),
    ):
        for observation in made.all():
            validate_resource(observation, expected_type="Observation")
            assert check_with_models(observation) == []


QUANTITY_CODES = [
    (Parameter.RESPIRATION_RATE, [(LOINC, "9279-1")], "/min", 22, "resprate"),
    (Parameter.SPO2, [(LOINC, "2708-6"), (LOINC, "59408-5")], "%", 95, "oxygensat"),
    (Parameter.PULSE, [(LOINC, "8867-4")], "/min", 95, "heartrate"),
    (Parameter.TEMPERATURE, [(LOINC, "8310-5")], "Cel", 38.1, "bodytemp"),
]


@pytest.mark.parametrize(("parameter", "codes", "unit", "value", "profile"), QUANTITY_CODES)
def test_quantities_carry_the_r4_vital_signs_codes_and_ucum_units(
    parameter: Parameter, codes: list[tuple[str, str]], unit: str, value: float, profile: str
) -> None:
    observation = by_parameter(build())[parameter]
    assert codings(observation) == codes
    assert observation["meta"]["profile"] == [f"http://hl7.org/fhir/StructureDefinition/{profile}"]
    quantity = observation["valueQuantity"]
    assert (quantity["system"], quantity["code"], quantity["value"]) == (UCUM, unit, value)
    assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
    assert observation["subject"] == {"reference": "Patient/p1"}
    assert observation["effectiveDateTime"] == "2026-11-21T10:00:00Z"
    assert observation["status"] == "final"


def test_systolic_pressure_is_a_bp_panel_component() -> None:
    panel = by_parameter(build())[Parameter.SYSTOLIC_BP]
    assert codings(panel) == [(LOINC, "85354-9")]
    systolic, diastolic = panel["component"]
    assert codings(systolic) == [(LOINC, "8480-6")]
    assert systolic["valueQuantity"] == {
        "value": 105,
        "unit": "mmHg",
        "system": UCUM,
        "code": "mm[Hg]",
    }
    assert codings(diastolic) == [(LOINC, "8462-4")] and "dataAbsentReason" in diastolic
    with_diastolic = by_parameter(build(diastolic_bp=70))[Parameter.SYSTOLIC_BP]
    assert with_diastolic["component"][1]["valueQuantity"]["value"] == 70
    with pytest.raises(Unprocessable, match="Diastolic"):
        build(diastolic_bp=400)


@pytest.mark.parametrize(
    ("level", "code"),
    [
        (Consciousness.ALERT, "248234008"),
        (Consciousness.NEW_CONFUSION, "130987000"),
        (Consciousness.VOICE, "300202002"),
        (Consciousness.PAIN, "450847001"),
        (Consciousness.UNRESPONSIVE, "422768004"),
    ],
)
def test_consciousness_is_acvpu_in_snomed_ct(level: Consciousness, code: str) -> None:
    observation = by_parameter(build(dataclasses.replace(SET, consciousness=level)))[
        Parameter.CONSCIOUSNESS
    ]
    assert codings(observation) == [(SNOMED, "1104441000000107")]
    assert observation["valueCodeableConcept"]["coding"][0]["code"] == code


@pytest.mark.parametrize(("on_oxygen", "air"), [(False, True), (True, False)])
def test_air_or_oxygen_is_the_breathing_room_air_finding(on_oxygen: bool, air: bool) -> None:
    observation = by_parameter(build(dataclasses.replace(SET, on_oxygen=on_oxygen)))[
        Parameter.AIR_OR_OXYGEN
    ]
    assert codings(observation) == [(SNOMED, "722742002")]
    assert observation["valueBoolean"] is air


def test_the_total_is_snomed_news2_with_component_scores_and_derived_from() -> None:
    made = build()
    total = made.total
    assert total is not None and is_total(total)
    assert codings(total) == [(SNOMED, "1104051000000101")]
    assert total["valueInteger"] == 12 == made.assessment.total
    assert total["derivedFrom"] == [
        {"reference": f"Observation/{o['id']}"} for o in made.parameters
    ]
    assert len(made.parameters) == 7 and made.all()[-1] is total
    assert component_scores(total) == SCORES
    codes = [c["code"]["coding"][0]["code"] for c in total["component"]]
    assert codes == [
        "1104301000000104",
        "1104321000000108",  # SpO2 on Scale 2
        "1104331000000105",
        "1104341000000101",
        "1104351000000103",
        "1104361000000100",
        "1104371000000107",
    ]
    assert spo2_scale_of(total) is SpO2Scale.SCALE_2
    scale_1 = build(dataclasses.replace(SET, spo2_scale=SpO2Scale.SCALE_1)).total
    assert scale_1 is not None and spo2_scale_of(scale_1) is SpO2Scale.SCALE_1
    assert "1104311000000102" in [c["code"]["coding"][0]["code"] for c in scale_1["component"]]


def test_an_incomplete_set_gets_its_readings_but_no_total() -> None:
    made = build(dataclasses.replace(SET, pulse=None, temperature=None))
    assert made.total is None
    assert set(by_parameter(made)) == set(Parameter) - {Parameter.PULSE, Parameter.TEMPERATURE}
    assert made.assessment.missing == (Parameter.PULSE, Parameter.TEMPERATURE)


def test_an_implausible_set_is_never_written() -> None:
    with pytest.raises(Unprocessable, match="Pulse must be between 20 and 250"):
        build(dataclasses.replace(SET, pulse=400))


# --- reading back -------------------------------------------------------------------------------


@given(readings)
def test_a_set_read_back_from_its_json_scores_the_same(inputs: News2Inputs) -> None:
    made = build(inputs)
    assert made.total is not None
    wire = orjson.loads(orjson.dumps(made.all()))  # through JSON, as stored and synced
    parameters, total = wire[:-1], wire[-1]
    back = read_inputs(parameters, spo2_scale=spo2_scale_of(total))
    assert back == inputs
    assert assess(back).total == total["valueInteger"]
    assert check_total(total, lookup_in(*parameters)) == made.assessment


def test_other_systems_codings_are_read_too() -> None:
    made = by_parameter(build())
    spo2 = copy.deepcopy(made[Parameter.SPO2])
    spo2["code"]["coding"] = [{"system": LOINC, "code": "59408-5"}]
    systolic = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
        "valueQuantity": {"value": 105, "system": UCUM, "code": "mm[Hg]"},
    }
    air = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": SNOMED, "code": "722742002"}]},
    }
    back = read_inputs([spo2, systolic, air])
    assert (back.spo2, back.systolic_bp, back.on_oxygen) == (95, 105, False)


def test_an_observation_without_a_value_is_a_reading_not_taken() -> None:
    made = by_parameter(build())
    pulse = copy.deepcopy(made[Parameter.PULSE])
    del pulse["valueQuantity"]
    pulse["dataAbsentReason"] = {"coding": [{"code": "not-performed"}]}
    air = copy.deepcopy(made[Parameter.AIR_OR_OXYGEN])
    del air["valueBoolean"]
    air["dataAbsentReason"] = {"coding": [{"code": "unknown"}]}
    back = read_inputs([pulse, air, made[Parameter.RESPIRATION_RATE]])
    assert (back.pulse, back.on_oxygen, back.respiration_rate) == (None, None, 22)


def _unit(o: dict[str, Any]) -> None:
    o["valueQuantity"]["code"] = "[degF]"


def _acvpu(o: dict[str, Any]) -> None:
    o["valueCodeableConcept"]["coding"][0]["code"] = "1234"


def _fraction(o: dict[str, Any]) -> None:
    o["valueQuantity"]["value"] = 95.5


def _error(o: dict[str, Any]) -> None:
    o["status"] = "entered-in-error"


@pytest.mark.parametrize(
    ("parameter", "spoil", "says"),
    [
        (Parameter.TEMPERATURE, _unit, "Temperature observation must give a number in Cel"),
        (Parameter.CONSCIOUSNESS, _acvpu, "coded Alert, New confusion"),
        (Parameter.PULSE, _fraction, "Pulse observation must be a whole number"),
        (Parameter.PULSE, _error, "entered-in-error"),
    ],
)
def test_an_observation_that_cannot_be_read_is_refused(
    parameter: Parameter, spoil: Callable[[dict[str, Any]], None], says: str
) -> None:
    observation = copy.deepcopy(by_parameter(build())[parameter])
    spoil(observation)
    with pytest.raises(Unprocessable, match=says):
        read_inputs([observation])


def test_two_readings_of_one_parameter_or_a_stranger_are_refused() -> None:
    pulse = by_parameter(build())[Parameter.PULSE]
    with pytest.raises(Unprocessable, match="more than one Pulse"):
        read_inputs([pulse, pulse])
    heart = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": LOINC, "code": "1234-5"}]},
    }
    with pytest.raises(Unprocessable, match="not a NEWS2 parameter"):
        read_inputs([heart])
