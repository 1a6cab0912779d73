"""The device's local search rows: codes, dates, status, category and the patient of a resource."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bedside.device.index import (
    date_key,
    display_of,
    patient_of,
    search_bounds,
    search_rows,
    token_query,
)

LOINC = "http://loinc.org"
CAT = "http://terminology.hl7.org/CodeSystem/observation-category"


def heart_rate(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [{"coding": [{"system": CAT, "code": "vital-signs"}]}],
        "code": {
            "coding": [
                {"system": LOINC, "code": "8867-4"},
                {"system": "http://snomed.info/sct", "code": "364075005"},
            ],
            "text": "Heart rate",
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-21T09:30:00+01:00",
        **extra,
    }


def test_observation_rows_cover_every_coding_date_status_and_category() -> None:
    rows = search_rows(heart_rate())
    assert sorted(rows) == sorted(
        [
            ("code", f"8867-4|{LOINC}"),
            ("code", "364075005|http://snomed.info/sct"),
            ("date", "2026-11-21T08:30:00Z"),
            ("status", "final"),
            ("category", f"vital-signs|{CAT}"),
        ]
    )


def test_rows_have_no_repeats() -> None:
    obs = heart_rate()
    obs["code"]["coding"].append({"system": LOINC, "code": "8867-4"})
    rows = search_rows(obs)
    assert len(rows) == len(set(rows))


@pytest.mark.parametrize(
    ("resource", "element", "value"),
    [
        ({"resourceType": "Immunization"}, "vaccineCode", {"coding": [{"code": "207"}]}),
        (
            {"resourceType": "MedicationAdministration"},
            "medicationCodeableConcept",
            {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1"}]},
        ),
    ],
)
def test_vaccine_and_medication_codes_are_indexed_as_code(
    resource: dict[str, Any], element: str, value: dict[str, Any]
) -> None:
    rows = search_rows({**resource, element: value})
    coding = value["coding"][0]
    assert rows == [("code", coding["code"] + "|" + coding.get("system", ""))]


@pytest.mark.parametrize(
    ("element", "value", "expected"),
    [
        ("effectivePeriod", {"start": "2026-11-21T10:00:00Z"}, "2026-11-21T10:00:00Z"),
        ("authoredOn", "2026-11-20", "2026-11-20"),
        ("onsetDateTime", "2026-11", "2026-11"),
        ("recordedDate", "2026-11-19T23:30:00-02:00", "2026-11-20T01:30:00Z"),
        ("occurrenceDateTime", "2026-11-21T07:00:00.123Z", "2026-11-21T07:00:00Z"),
        ("period", {"start": "2026-01-02"}, "2026-01-02"),
        ("issued", "2026-11-21T12:00:00Z", "2026-11-21T12:00:00Z"),
    ],
)
def test_clinical_times_become_sortable_utc_text(element: str, value: Any, expected: str) -> None:
    rows = search_rows({"resourceType": "Observation", element: value})
    assert rows == [("date", expected)]


def test_unparseable_dates_are_skipped_not_fatal() -> None:
    assert search_rows({"resourceType": "Observation", "effectiveDateTime": "yesterday!"}) == []
    assert date_key("not a date at all") is None


def test_patient_from_subject_patient_or_own_id() -> None:
    assert patient_of(heart_rate()) == "p1"
    assert patient_of({"resourceType": "Patient", "id": "p7"}) == "p7"
    assert patient_of({"resourceType": "Immunization", "patient": {"reference": "Patient/p2"}}) == (
        "p2"
    )
    absolute = {"subject": {"reference": "https://h.example/fhir/Patient/p3/_history/4"}}
    assert patient_of({"resourceType": "Observation", **absolute}) == "p3"
    assert patient_of({"resourceType": "Observation", "subject": {"reference": "Group/g1"}}) is None
    assert patient_of({"resourceType": "Practitioner", "id": "d1"}) is None
    assert (
        patient_of({"resourceType": "Observation", "subject": {"reference": "XPatient/1"}}) is None
    )


@pytest.mark.parametrize(
    ("query", "matches", "misses"),
    [
        (f"{LOINC}|8867-4", [f"8867-4|{LOINC}"], ["8867-4|", "8867-4|http://other", "8867-40|"]),
        ("|8867-4", ["8867-4|"], [f"8867-4|{LOINC}"]),
        (
            "8867-4",
            ["8867-4|", f"8867-4|{LOINC}", "8867-4|urn:x"],
            ["8867-40|", "8867-|", "8867-4"],
        ),
    ],
)
def test_token_queries_follow_fhir_token_forms(
    query: str, matches: list[str], misses: list[str]
) -> None:
    low, high = token_query(query)

    def hit(value: str) -> bool:
        return value == low if high is None else low <= value < high

    assert all(hit(v) for v in matches)
    assert not any(hit(v) for v in misses)


def test_patient_display_prefers_the_official_name() -> None:
    p = {
        "resourceType": "Patient",
        "name": [
            {"use": "nickname", "text": "Nell"},
            {"use": "official", "given": ["Eleanor", "Mary"], "family": "Rigby"},
        ],
        "birthDate": "1940-01-02",
    }
    assert display_of(p) == ("Eleanor Mary Rigby", "1940-01-02", None)
    assert display_of({"resourceType": "Patient", "name": [{"text": " Ann Lee "}]})[0] == "Ann Lee"
    assert display_of({"resourceType": "Patient"}) == ("", None, None)


def test_search_bounds_include_the_whole_last_day() -> None:
    low, high = search_bounds("2026-11-20", "2026-11-21")
    assert low is not None and high is not None
    assert low <= "2026-11-20T00:00:00Z" <= high
    assert low <= "2026-11-21T23:59:59Z" <= high
    assert high < "2026-11-22"
    assert low > "2026-11-19T23:59:59Z"
    with pytest.raises(ValueError):
        search_bounds("last week", None)


def test_indexing_is_fast_enough_for_a_first_sync() -> None:
    resources = [heart_rate(id=f"o{i}") for i in range(20_000)]
    started = time.perf_counter()
    for r in resources:
        search_rows(r)
        patient_of(r)
    per_resource = (time.perf_counter() - started) / len(resources)
    assert per_resource < 100e-6  # 100,000 resources in under 10 s even on a slow CI runner
