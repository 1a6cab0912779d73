"""The synthetic demo-data generator: valid FHIR R4, self-contained, deterministic, plausible."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class

from bedside.demo.generator import generate_patients

Resource = dict[str, Any]

UCUM = "http://unitsofmeasure.org"
ORG_SID = "https://bedside.example/fhir/sid/org"
MRN_SID = "https://bedside.example/fhir/sid/mrn"
NPI = "http://hl7.org/fhir/sid/us-npi"
SHARED_TYPES = ("Organization", "Location", "Practitioner")
# LOINC code -> (UCUM code, lowest plausible, highest plausible)
VITAL_RANGES = {
    "8867-4": ("/min", 40, 150),
    "9279-1": ("/min", 8, 30),
    "8310-5": ("Cel", 35.0, 41.0),
    "2708-6": ("%", 85, 100),
    "29463-7": ("kg", 35, 200),
    "8302-2": ("cm", 140, 210),
    "8480-6": ("mm[Hg]", 80, 200),
    "8462-4": ("mm[Hg]", 40, 120),
}
DATETIME_KEYS = {
    "start",
    "end",
    "effectiveDateTime",
    "authoredOn",
    "recordedDate",
    "abatementDateTime",
    "occurrenceDateTime",
    "performedDateTime",
    "issued",
}


@pytest.fixture(scope="module")
def bundles() -> list[Resource]:
    return list(generate_patients(5, seed=7))


@pytest.fixture(scope="module")
def many_bundles() -> list[Resource]:
    return list(generate_patients(50, seed=11))


def _resources(bundle: Resource, resource_type: str | None = None) -> list[Resource]:
    resources = [entry["resource"] for entry in bundle["entry"]]
    return [r for r in resources if resource_type in (None, r["resourceType"])]


def _by_url(bundle: Resource) -> dict[str, Resource]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def _walk(node: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    """Every (key, value) pair in a JSON tree, depth first."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield child_key, child
            yield from _walk(child, child_key)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


def _references(resource: Resource) -> list[str]:
    return [value for key, value in _walk(resource) if key == "reference"]


def _shared_entries(bundle: Resource) -> list[Resource]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] in SHARED_TYPES]


def _patient_summary(bundle: Resource) -> tuple[str, str, str]:
    (patient,) = _resources(bundle, "Patient")
    name = patient["name"][0]
    return " ".join([*name["given"], name["family"]]), patient["birthDate"], patient["gender"]


def _luhn_valid_npi(npi: str) -> bool:
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 1 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def test_every_resource_validates_against_the_fhir_r4_models(bundles: list[Resource]) -> None:
    for bundle in bundles:
        for resource in _resources(bundle):
            get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
        get_fhir_model_class("Bundle").parse_obj(bundle)


def test_each_entry_is_a_post_with_a_uuid_full_url(bundles: list[Resource]) -> None:
    for bundle in bundles:
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "transaction"
        for entry in bundle["entry"]:
            assert entry["fullUrl"].startswith("urn:uuid:")
            assert uuid.UUID(entry["fullUrl"].removeprefix("urn:uuid:")).version == 4
            assert entry["request"]["method"] == "POST"
            assert entry["request"]["url"] == entry["resource"]["resourceType"]


def test_full_urls_are_unique_within_each_bundle(bundles: list[Resource]) -> None:
    for bundle in bundles:
        urls = [entry["fullUrl"] for entry in bundle["entry"]]
        assert len(urls) == len(set(urls))


def test_every_reference_points_at_an_entry_of_the_same_bundle(bundles: list[Resource]) -> None:
    for bundle in bundles:
        urls = set(_by_url(bundle))
        references = [ref for r in _resources(bundle) for ref in _references(r)]
        assert references
        assert all(ref.startswith("urn:uuid:") for ref in references)
        assert set(references) <= urls


def test_same_seed_gives_identical_output() -> None:
    assert list(generate_patients(3, seed=42)) == list(generate_patients(3, seed=42))


def test_different_seeds_give_different_patients() -> None:
    first = [_patient_summary(b) for b in generate_patients(5, seed=1)]
    second = [_patient_summary(b) for b in generate_patients(5, seed=2)]
    assert first != second
    assert set(first).isdisjoint(second)


def test_shared_resources_are_identical_in_every_bundle(bundles: list[Resource]) -> None:
    reference = _shared_entries(bundles[0])
    counts = Counter(entry["resource"]["resourceType"] for entry in reference)
    assert counts == {"Organization": 1, "Location": 3, "Practitioner": 6}
    for bundle in bundles[1:]:
        assert _shared_entries(bundle) == reference
    # ... and do not depend on how many patients were asked for
    assert _shared_entries(next(generate_patients(1, seed=7))) == reference


def test_shared_resources_are_created_conditionally_on_their_identifier(
    bundles: list[Resource],
) -> None:
    for bundle in bundles:
        for entry in _shared_entries(bundle):
            identifier = entry["resource"]["identifier"][0]
            expected = f"identifier={identifier['system']}|{identifier['value']}"
            assert entry["request"]["ifNoneExist"] == expected
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] not in SHARED_TYPES:
                assert "ifNoneExist" not in entry["request"]
    (org,) = _resources(bundles[0], "Organization")
    assert org["identifier"][0] == {
        "use": "official",
        "system": ORG_SID,
        "value": "BEDSIDE-DEMO-HOSP",
    }


def test_practitioners_carry_distinct_valid_npis(bundles: list[Resource]) -> None:
    identifiers = [p["identifier"][0] for p in _resources(bundles[0], "Practitioner")]
    assert {i["system"] for i in identifiers} == {NPI}
    npis = [i["value"] for i in identifiers]
    assert len(set(npis)) == len(npis)
    assert all(len(npi) == 10 and npi.isdigit() and _luhn_valid_npi(npi) for npi in npis)


def test_patient_mrns_are_unique_across_fifty_patients(many_bundles: list[Resource]) -> None:
    mrns = []
    for bundle in many_bundles:
        (patient,) = _resources(bundle, "Patient")
        mrns += [i["value"] for i in patient["identifier"] if i["system"] == MRN_SID]
    assert len(mrns) == 50
    assert len(set(mrns)) == 50


def test_vital_signs_use_ucum_and_plausible_values(many_bundles: list[Resource]) -> None:
    seen: set[str] = set()
    for bundle in many_bundles:
        for obs in _resources(bundle, "Observation"):
            category = obs["category"][0]["coding"][0]["code"]
            if category != "vital-signs":
                continue
            assert obs["status"] == "final"
            parts = obs.get("component", [obs])
            if "component" in obs:
                assert obs["code"]["coding"][0]["code"] == "85354-9"
                systolic, diastolic = (p["valueQuantity"]["value"] for p in parts)
                assert systolic > diastolic
            for part in parts:
                loinc = part["code"]["coding"][0]
                assert loinc["system"] == "http://loinc.org"
                quantity = part["valueQuantity"]
                ucum, low, high = VITAL_RANGES[loinc["code"]]
                assert quantity["system"] == UCUM
                assert quantity["code"] == ucum
                assert low <= quantity["value"] <= high, (loinc["code"], quantity["value"])
                seen.add(loinc["code"])
    assert seen == set(VITAL_RANGES)


def test_lab_reports_group_laboratory_observations(bundles: list[Resource]) -> None:
    for bundle in bundles:
        by_url = _by_url(bundle)
        reports = _resources(bundle, "DiagnosticReport")
        assert 1 <= len(reports) <= 2
        for report in reports:
            assert report["status"] == "final"
            assert report["category"][0]["coding"][0]["code"] == "LAB"
            for result in report["result"]:
                obs = by_url[result["reference"]]
                assert obs["category"][0]["coding"][0]["code"] == "laboratory"
                assert obs["valueQuantity"]["system"] == UCUM
                assert obs["encounter"] == report["encounter"]


def test_each_patient_gets_a_varied_but_bounded_record(many_bundles: list[Resource]) -> None:
    bounds = {
        "Patient": (1, 1),
        "Encounter": (2, 5),
        "Condition": (1, 3),
        "AllergyIntolerance": (0, 2),
        "MedicationRequest": (1, 3),
        "Immunization": (1, 2),
        "Procedure": (0, 1),
        "CareTeam": (1, 1),
        "CarePlan": (0, 1),
    }
    sizes = []
    for bundle in many_bundles:
        counts = Counter(r["resourceType"] for r in _resources(bundle))
        for resource_type, (low, high) in bounds.items():
            assert low <= counts[resource_type] <= high, resource_type
        sizes.append(len(bundle["entry"]))
    assert 40 <= sum(sizes) / len(sizes) <= 80
    assert len(set(sizes)) > 5


def test_at_most_one_encounter_is_in_progress_and_it_is_inpatient_on_a_ward(
    many_bundles: list[Resource],
) -> None:
    ongoing_seen = 0
    for bundle in many_bundles:
        by_url = _by_url(bundle)
        encounters = _resources(bundle, "Encounter")
        ongoing = [e for e in encounters if e["status"] == "in-progress"]
        assert len(ongoing) <= 1
        assert all(e["status"] in ("finished", "in-progress") for e in encounters)
        for encounter in ongoing:
            ongoing_seen += 1
            assert encounter["class"]["code"] == "IMP"
            assert "end" not in encounter["period"]
            ward = by_url[encounter["location"][0]["location"]["reference"]]
            assert ward["resourceType"] == "Location"
    assert ongoing_seen > 0


def test_administrations_follow_active_orders_within_inpatient_stays(
    many_bundles: list[Resource],
) -> None:
    administrations = 0
    for bundle in many_bundles:
        by_url = _by_url(bundle)
        for given in _resources(bundle, "MedicationAdministration"):
            administrations += 1
            order = by_url[given["request"]["reference"]]
            encounter = by_url[given["context"]["reference"]]
            assert order["status"] == "active"
            assert order["medicationCodeableConcept"] == given["medicationCodeableConcept"]
            assert encounter["class"]["code"] == "IMP"
            when = datetime.fromisoformat(given["effectiveDateTime"])
            assert datetime.fromisoformat(encounter["period"]["start"]) <= when
            if "end" in encounter["period"]:
                assert when <= datetime.fromisoformat(encounter["period"]["end"])
    assert administrations > 0


def test_penicillin_allergy_rules_out_amoxicillin(many_bundles: list[Resource]) -> None:
    allergic = 0
    for bundle in many_bundles:
        allergies = {
            a["code"]["coding"][0]["code"] for a in _resources(bundle, "AllergyIntolerance")
        }
        if "91936005" not in allergies:
            continue
        allergic += 1
        drugs = {
            m["medicationCodeableConcept"]["coding"][0]["code"]
            for m in _resources(bundle, "MedicationRequest")
        }
        assert "308191" not in drugs
    assert allergic > 0


def test_dates_have_a_timezone_and_fall_in_the_last_three_years(
    many_bundles: list[Resource],
) -> None:
    now = datetime.now(UTC)
    earliest = now - timedelta(days=3 * 366)
    for bundle in many_bundles:
        for resource in _resources(bundle):
            for key, value in _walk(resource):
                if key not in DATETIME_KEYS:
                    continue
                moment = datetime.fromisoformat(value)
                assert moment.tzinfo is not None, (key, value)
                assert earliest <= moment <= now, (resource["resourceType"], key, value)
