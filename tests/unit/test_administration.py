"""Medication administration rules (bedside.clinical.administration) and the form's five
rights (bedside.device.app.meds_form): the dosing interval, duplicate doses, the record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bedside.clinical import administration as rules
from bedside.device.app.meds_form import effective, five_rights, read_entry
from bedside.device.app.summary import Banner
from bedside.fhir.structure import check_resource

H = 3600
NOW = 1_800_000_000.0


def order(timing: dict[str, Any] | None = None, **dosage: Any) -> dict[str, Any]:
    instruction: dict[str, Any] = {"text": "500 mg", **dosage}
    if timing is not None:
        instruction["timing"] = timing
    return {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Clarithromycin 500 mg tablets"},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [instruction],
    }


def given(hours_ago: float, status: str = "completed", request: str | None = "rx1") -> dict:
    at = effective(NOW - hours_ago * H)
    out: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{hours_ago}-{status}",
        "status": status,
        "medicationCodeableConcept": {"text": "Clarithromycin 500 mg tablets"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": at,
    }
    if request:
        out["request"] = {"reference": f"MedicationRequest/{request}"}
    return out


@pytest.mark.parametrize(
    ("timing", "seconds", "assumed"),
    [
        ({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}, 12 * H, False),
        ({"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}, 6 * H, False),
        ({"repeat": {"period": 1, "periodUnit": "wk"}}, 7 * 24 * H, False),
        ({"repeat": {"timeOfDay": ["08:00:00", "14:00:00", "20:00:00"]}}, 8 * H, False),
        ({"code": {"coding": [{"code": "QID"}]}}, 6 * H, False),
        ({"code": {"coding": [{"code": "bid"}]}}, 12 * H, False),
        ({"code": {"text": "when needed"}}, rules.DEFAULT_INTERVAL_S, True),
        (None, rules.DEFAULT_INTERVAL_S, True),
        ({"repeat": {"frequency": 0, "period": 1, "periodUnit": "d"}}, 24 * H, True),
    ],
)
def test_the_interval_comes_from_the_timing_else_the_documented_default(
    timing: dict[str, Any] | None, seconds: int, assumed: bool
) -> None:
    found = rules.interval_of(order(timing))
    assert (found.seconds, found.assumed) == (seconds, assumed)
    assert ("assumed" in found.text) is assumed


def test_a_dose_inside_the_interval_is_a_duplicate_and_one_outside_is_not() -> None:
    bid = order({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}})
    earlier = [given(11.5), given(12.5), given(30)]
    found = rules.duplicates("rx1", bid, earlier, NOW)
    assert [g["id"] for g in found] == ["ma-11.5-completed"]
    assert rules.duplicates("rx1", bid, [given(12.5)], NOW) == []


def test_only_doses_given_count_never_not_given_held_or_entered_in_error() -> None:
    earlier = [given(1, s) for s in ("not-done", "on-hold", "entered-in-error", "stopped")]
    assert rules.duplicates("rx1", order(), earlier, NOW) == []
    assert len(rules.duplicates("rx1", order(), [given(1, "in-progress")], NOW)) == 1


def test_another_order_is_not_a_duplicate_but_the_same_medicine_without_an_order_is() -> None:
    assert rules.duplicates("rx1", order(), [given(1, request="rx2")], NOW) == []
    assert len(rules.duplicates("rx1", order(), [given(1, request=None)], NOW)) == 1
    other = given(1, request=None)
    other["medicationCodeableConcept"] = {"text": "Paracetamol 1 g"}
    assert rules.duplicates("rx1", order(), [other], NOW) == []


def test_a_dose_recorded_later_than_the_proposed_time_counts_too() -> None:
    """Back-charting a dose at 10:00 when one is already recorded at 11:00."""
    assert len(rules.duplicates("rx1", order(), [given(-1)], NOW)) == 1
    assert rules.duplicates("rx1", order(), [given(-30)], NOW) == []  # beyond the interval


def test_given_builds_a_valid_r4_record_with_dose_route_performer_and_context() -> None:
    rx = order(route={"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]})
    rx["dosageInstruction"][0]["route"]["text"] = "Oral"
    made = rules.build(
        request_id="rx1",
        request=rx,
        patient="p1",
        outcome="given",
        effective="2027-01-15T10:00:00Z",
        dose="500 mg",
        route="Oral",
        performer="Practitioner/n1",
        encounter="enc-p1",
    )
    assert made["status"] == "completed"
    assert made["dosage"]["dose"] == {"value": 500, "unit": "mg"}
    assert made["dosage"]["route"]["coding"][0]["code"] == "26643006"  # the order's, kept
    assert made["performer"] == [{"actor": {"reference": "Practitioner/n1"}}]
    assert made["request"] == {"reference": "MedicationRequest/rx1"}
    assert made["context"] == {"reference": "Encounter/enc-p1"}
    assert made["subject"] == {"reference": "Patient/p1"}
    assert made["medicationCodeableConcept"] == rx["medicationCodeableConcept"]
    assert not check_resource(made, "MedicationAdministration")


def test_not_given_carries_its_reason_and_held_is_on_hold_neither_with_a_dose() -> None:
    common = {"request_id": "rx1", "request": order(), "patient": "p1"}
    refused = rules.build(
        **common, outcome="not-given", effective="2027-01-15T10:00:00Z", reason="refused"
    )
    assert refused["status"] == "not-done" and "dosage" not in refused
    (reason,) = refused["statusReason"]
    assert reason["text"] == "Patient refused"
    assert reason["coding"][0] == {
        "system": rules.REASON_SYSTEM,
        "code": "refused",
        "display": "Patient refused",
    }
    other = rules.build(
        **common,
        outcome="not-given",
        effective="2027-01-15T10:00:00Z",
        reason="other",
        reason_text="vomiting",
    )
    assert other["statusReason"][0]["text"] == "Other reason: vomiting"
    held = rules.build(**common, outcome="held", effective="2027-01-15T10:00:00Z")
    assert held["status"] == "on-hold" and "statusReason" not in held and "dosage" not in held
    noted = rules.build(
        **common, outcome="held", effective="2027-01-15T10:00:00Z", reason_text="surgery at 2"
    )
    assert noted["note"] == [{"text": "surgery at 2"}]
    for made in (refused, other, held):
        assert not check_resource(made, "MedicationAdministration")


BANNER = Banner("p1", "Alba Quennell", "3 Feb 1950", "76", "Female", "MRN MRN1001", "", "")


def test_the_five_rights_name_patient_drug_dose_route_and_time_in_plain_words() -> None:
    entry, errors = read_entry(
        {"outcome": "given", "dose": "250 mg", "route": "Oral", "time": "09:30"}, NOW
    )
    assert entry is not None and not errors
    rights = dict(five_rights(BANNER, order(), entry, NOW))
    assert list(rights) == ["Patient", "Drug", "Dose", "Route", "Time"]
    assert rights["Patient"] == "Alba Quennell, born 3 Feb 1950, MRN MRN1001"
    assert rights["Drug"] == "Clarithromycin 500 mg tablets"
    assert rights["Dose"] == "250 mg (the order says 500 mg)"  # a different dose is called out
    assert rights["Route"] == "Oral"
    assert rights["Time"].split(" (")[0].endswith("09:30")
    refused, _ = read_entry(
        {"outcome": "not-given", "reason": "nil-by-mouth", "time": "09:30"}, NOW
    )
    assert refused is not None
    said = dict(five_rights(BANNER, order(), refused, NOW))
    assert said["Dose"] == "Not given (Nil by mouth); ordered 500 mg" and said["Route"] == "—"


@pytest.mark.parametrize(
    ("form", "sentence"),
    [
        ({"time": "09:30"}, "Choose what happened"),
        ({"outcome": "given", "dose": "lots", "route": "Oral", "time": "09:30"}, "number and"),
        ({"outcome": "given", "dose": "5 mg", "route": "", "time": "09:30"}, "Enter the route"),
        ({"outcome": "given", "dose": "5 mg", "route": "Oral", "time": "9.30am"}, "hours and"),
        ({"outcome": "not-given", "time": "09:30"}, "Choose why"),
        ({"outcome": "not-given", "reason": "other", "time": "09:30"}, "Say why"),
    ],
)
def test_bad_input_is_a_plain_sentence(form: dict[str, str], sentence: str) -> None:
    entry, errors = read_entry(form, NOW)
    assert entry is None and any(sentence in e for e in errors)


def test_a_time_ahead_of_now_is_taken_as_yesterday() -> None:
    now = datetime(2027, 1, 15, 0, 10).timestamp()
    entry, _ = read_entry({"outcome": "held", "time": "23:50"}, now)
    assert entry is not None and now - entry.at == 20 * 60
