"""The search parameter table checked against the FHIR R4 model classes of ``fhir.resources``."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from fhir.resources import get_fhir_model_class

from bedside.fhir.search.definitions import COMMON_PARAMETERS, SEARCH_PARAMETERS

KINDS = {"token", "string", "date", "reference", "quantity", "uri", "number"}

# What the last element of a path may be, per kind (FHIR type names).
END_TYPES: dict[str, set[str]] = {
    "reference": {"Reference", "Canonical"},
    "quantity": {"Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count", "Money"},
    "date": {"Date", "DateTime", "Instant", "Period", "Timing"},
    "token": {
        "Boolean",
        "Code",
        "Coding",
        "CodeableConcept",
        "ContactPoint",
        "Id",
        "Identifier",
        "String",
        "Uri",
    },
    "string": {"String", "Markdown", "HumanName", "Address"},
    "uri": {"Uri", "Url", "Canonical", "Oid"},
    "number": {"Decimal", "Integer", "PositiveInt", "UnsignedInt"},
}

# The resource types the table covers; Binary has nothing beyond the common parameters.
COVERED_TYPES = {
    "AllergyIntolerance",
    "Appointment",
    "AuditEvent",
    "Bundle",
    "CarePlan",
    "CareTeam",
    "Claim",
    "Communication",
    "Composition",
    "Condition",
    "Consent",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "ExplanationOfBenefit",
    "Flag",
    "Goal",
    "Group",
    "ImagingStudy",
    "Immunization",
    "Location",
    "Medication",
    "MedicationAdministration",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "QuestionnaireResponse",
    "ServiceRequest",
    "Task",
}


def _type_name(field: Any) -> str:
    """FHIR type name of a model field: ``Reference``, ``ObservationComponent``, ``DateTime``..."""
    if field.type_ is bool:  # fhir.resources declares FHIR boolean as a plain bool
        return "Boolean"
    return str(getattr(field.type_, "__resource_type__", None) or field.type_.__name__)


@cache
def _elements(type_name: str) -> dict[str, tuple[str, bool]]:
    """JSON element name -> (FHIR type name, whether that type has elements of its own)."""
    model = get_fhir_model_class(type_name)
    return {
        field.alias: (_type_name(field), hasattr(field.type_, "__resource_type__"))
        for field in model.__fields__.values()
    }


def _step(type_name: str, segment: str) -> list[tuple[str, bool]]:
    """Types reached from ``type_name`` by one path segment (several for a ``[x]`` choice)."""
    elements = _elements(type_name)
    if segment.endswith("[x]"):
        prefix = segment[:-3]
        return [
            t
            for name, t in elements.items()
            if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isupper()
        ]
    return [elements[segment]] if segment in elements else []


def _split(path: str) -> tuple[list[str], list[str]]:
    body, _, targets = path.partition("|")
    return body.split("."), targets.split(",") if targets else []


def _end_types(resource_type: str, path: str) -> list[str]:
    """Types a path ends at; raises AssertionError naming the first segment that does not exist."""
    segments, _ = _split(path)
    current = [(resource_type, True)]
    for i, segment in enumerate(segments):
        where = ".".join([resource_type, *segments[:i]])
        parents = [name for name, is_complex in current if is_complex]
        assert parents, f"{where} is a primitive, it has no element {segment!r}"
        current = [t for parent in parents for t in _step(parent, segment)]
        assert current, f"{where} has no element {segment!r}"
    return [name for name, _ in current]


ROWS = [pytest.param(row, id=f"{row[0]}.{row[1]}") for row in SEARCH_PARAMETERS]
ROW_PATHS = [
    pytest.param(row[0], row[2], path, id=f"{row[0]}.{row[1]}:{path}")
    for row in SEARCH_PARAMETERS
    for path in row[3]
]


@pytest.mark.parametrize(("resource_type", "kind", "path"), ROW_PATHS)
def test_every_path_names_real_elements_of_the_r4_model(
    resource_type: str, kind: str, path: str
) -> None:
    _end_types(resource_type, path)


@pytest.mark.parametrize(("resource_type", "kind", "path"), ROW_PATHS)
def test_every_path_ends_at_an_element_of_a_type_its_kind_can_search(
    resource_type: str, kind: str, path: str
) -> None:
    ends = _end_types(resource_type, path)
    allowed = END_TYPES[kind]
    if path.partition("|")[0].endswith("[x]"):
        assert set(ends) & allowed, f"no choice of {path} is one of {sorted(allowed)}: {ends}"
    else:
        assert set(ends) <= allowed, f"{path} ends at {ends}, not one of {sorted(allowed)}"


@pytest.mark.parametrize(("resource_type", "kind", "path"), ROW_PATHS)
def test_target_type_filters_only_on_reference_paths_and_name_real_resource_types(
    resource_type: str, kind: str, path: str
) -> None:
    _, targets = _split(path)
    if targets:
        assert kind == "reference"
        for target in targets:
            assert get_fhir_model_class(target).get_resource_type() == target


@pytest.mark.parametrize(("code", "kind", "paths"), COMMON_PARAMETERS)
def test_common_parameters_name_real_elements_of_every_covered_type(
    code: str, kind: str, paths: tuple[str, ...]
) -> None:
    for resource_type in sorted(COVERED_TYPES | {"Binary"}):
        for path in paths:
            assert set(_end_types(resource_type, path)) <= END_TYPES[kind]


def test_each_resource_type_and_code_appears_once() -> None:
    pairs = [(rtype, code) for rtype, code, _, _ in SEARCH_PARAMETERS]
    duplicates = sorted({p for p in pairs if pairs.count(p) > 1})
    assert duplicates == []


def test_rows_are_ordered_by_resource_type_then_code() -> None:
    pairs = [(rtype, code) for rtype, code, _, _ in SEARCH_PARAMETERS]
    assert pairs == sorted(pairs)


@pytest.mark.parametrize("row", ROWS)
def test_every_row_has_an_allowed_kind_and_at_least_one_path(
    row: tuple[str, str, str, tuple[str, ...]],
) -> None:
    _, _, kind, paths = row
    assert kind in KINDS
    assert paths
    assert len(set(paths)) == len(paths)


def test_common_parameters_use_allowed_kinds_and_distinct_codes() -> None:
    codes = [code for code, _, _ in COMMON_PARAMETERS]
    assert len(set(codes)) == len(codes)
    assert {kind for _, kind, _ in COMMON_PARAMETERS} <= KINDS
    assert {"_id", "_lastUpdated", "_tag", "_security", "_profile"} <= set(codes)


def test_table_covers_exactly_the_supported_types_and_binary_has_no_rows() -> None:
    assert {rtype for rtype, _, _, _ in SEARCH_PARAMETERS} == COVERED_TYPES


def test_no_composite_or_special_parameters_are_listed() -> None:
    codes = {(rtype, code) for rtype, code, _, _ in SEARCH_PARAMETERS}
    for left_out in [
        ("Observation", "code-value-quantity"),
        ("Observation", "component-code-value-concept"),
        ("Location", "near"),
        ("DocumentReference", "relationship"),
        ("Patient", "deceased"),
        ("Patient", "email"),
        ("Bundle", "composition"),
    ]:
        assert left_out not in codes


def test_patient_parameters_only_reach_patients() -> None:
    for rtype, code, kind, paths in SEARCH_PARAMETERS:
        if code != "patient":
            continue
        assert kind == "reference", rtype
        for path in paths:
            body, targets = _split(path)
            # a bare path only where the spec's element can only point at a Patient
            assert targets == ["Patient"] or body[-1] in {"patient", "beneficiary"}, (
                f"{rtype}.patient path {path}"
            )


def test_subject_parameters_are_the_bare_reference() -> None:
    subjects = {rtype: paths for rtype, code, _, paths in SEARCH_PARAMETERS if code == "subject"}
    assert subjects
    for rtype, paths in subjects.items():
        assert all("|" not in p for p in paths), rtype


def _row(resource_type: str, code: str) -> tuple[str, tuple[str, ...]]:
    for rtype, c, kind, paths in SEARCH_PARAMETERS:
        if (rtype, c) == (resource_type, code):
            return kind, paths
    raise AssertionError(f"{resource_type}.{code} is not in the table")


@pytest.mark.parametrize(
    ("resource_type", "code", "kind", "paths"),
    [
        ("Observation", "code", "token", ("code",)),
        ("Observation", "date", "date", ("effective[x]",)),
        ("Observation", "patient", "reference", ("subject|Patient",)),
        ("Observation", "subject", "reference", ("subject",)),
        ("Observation", "value-quantity", "quantity", ("valueQuantity",)),
        ("Observation", "value-string", "string", ("valueString", "valueCodeableConcept.text")),
        ("Observation", "combo-code", "token", ("code", "component.code")),
        ("Patient", "name", "string", ("name",)),
        ("Patient", "family", "string", ("name.family",)),
        ("Patient", "given", "string", ("name.given",)),
        ("Patient", "birthdate", "date", ("birthDate",)),
        ("Patient", "identifier", "token", ("identifier",)),
        ("Patient", "general-practitioner", "reference", ("generalPractitioner",)),
        ("Patient", "address-city", "string", ("address.city",)),
        ("Patient", "death-date", "date", ("deceasedDateTime",)),
        ("Encounter", "date", "date", ("period",)),
        ("Encounter", "class", "token", ("class",)),
        ("Encounter", "practitioner", "reference", ("participant.individual|Practitioner",)),
        ("MedicationRequest", "authoredon", "date", ("authoredOn",)),
        ("MedicationRequest", "code", "token", ("medicationCodeableConcept",)),
        ("MedicationRequest", "medication", "reference", ("medicationReference",)),
        ("Condition", "clinical-status", "token", ("clinicalStatus",)),
        ("Condition", "onset-date", "date", ("onsetDateTime", "onsetPeriod")),
        ("AllergyIntolerance", "code", "token", ("code", "reaction.substance")),
        ("AllergyIntolerance", "patient", "reference", ("patient",)),
        ("DocumentReference", "identifier", "token", ("masterIdentifier", "identifier")),
        ("DocumentReference", "encounter", "reference", ("context.encounter",)),
        ("Coverage", "patient", "reference", ("beneficiary",)),
        ("Task", "patient", "reference", ("for|Patient",)),
        ("AuditEvent", "patient", "reference", ("agent.who|Patient", "entity.what|Patient")),
        ("Immunization", "date", "date", ("occurrence[x]",)),
        ("Bundle", "timestamp", "date", ("timestamp",)),
    ],
)
def test_well_known_parameters_follow_the_spec(
    resource_type: str, code: str, kind: str, paths: tuple[str, ...]
) -> None:
    assert _row(resource_type, code) == (kind, paths)
