"""The portal's plain words (bedside.portal.results, bedside.portal.record): results grouped by
test with readings against their own range, trends, and dose instructions in words."""

from __future__ import annotations

from typing import Any

import pytest

from bedside.portal.data_classes import chosen, types_of
from bedside.portal.record import dose_words, when_words
from bedside.portal.results import group_results, name_of, reading_of, unit_words

LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                   "code": "laboratory"}]}  # fmt: skip
VITAL = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                     "code": "vital-signs"}]}  # fmt: skip


def obs(loinc: str, value: float | None, day: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{loinc}-{day}",
        "status": "final",
        "category": [LAB],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": day,
        **extra,
    }
    if value is not None:
        out["valueQuantity"] = {"value": value, "unit": "mmol/L"}
    return out


RANGE = [{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.3, "unit": "mmol/L"}}]


@pytest.mark.parametrize(
    ("value", "reading"),
    [(3.4, "below range"), (3.5, "within range"), (5.3, "within range"), (5.4, "above range")],
)
def test_a_reading_compares_the_value_with_the_results_own_range(
    value: float, reading: str
) -> None:
    words, found = reading_of(obs("2823-3", value, "2026-01-01", referenceRange=RANGE))
    assert words == "3.5 to 5.3 mmol/L"
    assert found == reading


def test_no_range_is_said_not_guessed() -> None:
    assert reading_of(obs("2823-3", 9.9, "2026-01-01")) == ("no range given", "no range given")
    low_only = [{"low": {"value": 60, "unit": "mL/min"}}]
    assert reading_of(obs("x", 45, "2026-01-01", referenceRange=low_only)) == (
        "60 mL/min or more",
        "below range",
    )


def test_a_code_is_never_the_only_label() -> None:
    assert name_of({"coding": [{"system": "http://loinc.org", "code": "2823-3"}]}) == (
        "A test (code 2823-3)"
    )
    assert name_of({"coding": [{"code": "2823-3", "display": "Potassium"}]}) == "Potassium"
    assert name_of({"text": "Potassium level", "coding": [{"display": "K"}]}) == "Potassium level"


def test_results_are_grouped_by_test_newest_first_with_a_trend() -> None:
    found = group_results(
        [
            obs("2823-3", 4.1, "2026-01-05", referenceRange=RANGE),
            obs("2823-3", 5.6, "2026-03-05", referenceRange=RANGE),
            obs("2823-3", 4.8, "2026-02-05", referenceRange=RANGE),
            obs("718-7", 140, "2026-02-10", code={"text": "Haemoglobin"}),
            obs("8867-4", 72, "2026-04-01", category=[VITAL], code={"text": "Heart rate"}),
            obs("x", 1, "2026-05-01", category=[]),  # not a result: no lab/vital category
            obs("2823-3", 9.0, "2026-06-01", status="entered-in-error"),
        ]
    )
    assert [t.name for t in found] == ["Heart rate", "A test (code 2823-3)", "Haemoglobin"]
    potassium = found[1]
    assert [r.when for r in potassium.results] == ["2026-03-05", "2026-02-05", "2026-01-05"]
    assert potassium.latest.reading == "above range"
    assert potassium.trend == (("2026-01-05", 4.1), ("2026-02-05", 4.8), ("2026-03-05", 5.6))
    assert found[2].trend == ()  # one result: no trend
    assert found[0].kind == "Vital sign" and found[1].kind == "Lab test"


def test_a_blood_pressure_shows_both_parts_and_its_source() -> None:
    bp = obs(
        "85354-9",
        None,
        "2026-01-01",
        category=[VITAL],
        code={"text": "Blood pressure"},
        component=[  # diastolic first, as some sources send it
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": 82.1234, "unit": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 128, "unit": "mm[Hg]"},
            },
        ],
        performer=[{"reference": "Organization/lab1"}],
    )
    (test,) = group_results([bp], {"Organization/lab1": "Valley Lab"})
    assert test.latest.value == "128/82.12 mmHg"
    assert test.latest.source == "Valley Lab"


def test_dose_instructions_in_words() -> None:
    assert dose_words({"dosageInstruction": [{"text": "One tablet at night"}]}) == (
        "One tablet at night"
    )
    structured = {
        "dosageInstruction": [
            {
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablets"}}],
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            }
        ]
    }
    assert dose_words(structured) == "Take 2 tablets, twice a day"
    assert dose_words({}) == "No dose instructions recorded"


def test_dates_in_words() -> None:
    assert when_words("2026-03-04T10:00:00Z") == "4 March 2026"
    assert when_words("2026-03") == "March 2026"
    assert when_words("") == ""


def test_data_classes_name_the_types_a_share_covers() -> None:
    classes = chosen(["medicines", "results"])
    assert [c.name for c in classes] == ["results", "medicines"]
    assert types_of(classes) == (
        "Observation",
        "DiagnosticReport",
        "MedicationRequest",
        "MedicationStatement",
    )


@pytest.mark.parametrize(
    ("unit", "words"),
    [
        ("mm[Hg]", "mmHg"),
        ("{score}", ""),
        ("kg/m2", "kg/m²"),
        ("mg/dL", "mg/dL"),
        ("/min", "per minute"),
    ],
)
def test_units_are_written_for_people(unit: str, words: str) -> None:
    assert unit_words(unit) == words


def test_values_show_at_most_four_significant_figures() -> None:
    (test,) = group_results([obs("39156-5", 29.4242, "2026-01-01")])
    assert test.latest.value == "29.42 mmol/L"
    assert test.latest.number == 29.4242  # the reading and the trend use the value as recorded
