"""The fast structural check agrees with the fhir.resources R4 models it is compiled from."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from bedside.demo.generator import generate_patients
from bedside.fhir.structure import check_resource
from bedside.fhir.validation import check_with_models
from tests.conftest import sample_bundles


def _resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sample_bundles()[:6]:
        out.extend(e["resource"] for e in orjson.loads(path.read_bytes())["entry"])
    for bundle in generate_patients(3, seed=5):
        out.extend(e["resource"] for e in bundle["entry"])
    return out


def test_models_and_fast_check_accept_the_same_valid_resources() -> None:
    for r in _resources():
        assert check_with_models(r) == [], r["resourceType"]
        assert check_resource(r, r["resourceType"]) == [], r["resourceType"]


def _unknown_element(r: dict[str, Any]) -> None:
    r["notAnElement"] = 1


def _object_as_string(r: dict[str, Any]) -> None:
    r["meta"] = "not an object"


def _array_as_single(r: dict[str, Any]) -> None:
    r["extension"] = {"url": "http://example.org"}


def _single_as_array(r: dict[str, Any]) -> None:
    r["id"] = ["a", "b"]


def _boolean_as_string_in_datatype(r: dict[str, Any]) -> None:
    r["meta"] = {"versionId": {"nested": True}}


def _missing_required_in_datatype(r: dict[str, Any]) -> None:
    r["extension"] = [{"valueString": "no url"}]


def _bad_date(r: dict[str, Any]) -> None:
    r["meta"] = {"lastUpdated": "21/11/2026"}


MUTATIONS: list[Callable[[dict[str, Any]], None]] = [
    _unknown_element,
    _object_as_string,
    _array_as_single,
    _single_as_array,
    _boolean_as_string_in_datatype,
    _bad_date,
]


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda f: f.__name__.strip("_"))
def test_models_and_fast_check_both_reject_invalid_mutations(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    for r in _resources()[:40]:
        bad = copy.deepcopy(r)
        mutate(bad)
        assert check_with_models(bad), (mutate.__name__, r["resourceType"])
        assert check_resource(bad, bad["resourceType"]), (mutate.__name__, r["resourceType"])


def test_fast_check_enforces_extension_url_which_the_models_let_through() -> None:
    # Extension.url is 1..1 in R4 (extensibility.html); the pydantic models do not enforce it.
    for r in _resources()[:10]:
        bad = copy.deepcopy(r)
        _missing_required_in_datatype(bad)
        issues = check_resource(bad, bad["resourceType"])
        assert any(i.expression[0].endswith("extension[0].url") for i in issues)


def test_fast_check_reports_missing_required_element_with_its_path() -> None:
    issues = check_resource({"resourceType": "Observation", "status": "final"}, "Observation")
    assert [i.expression for i in issues] == [("Observation.code",)]
    assert issues[0].code == "required"


def test_fast_check_refuses_two_values_of_one_choice_element() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueString": "a",
        "valueBoolean": True,
    }
    issues = check_resource(obs, "Observation")
    assert len(issues) == 1 and "only one of" in issues[0].diagnostics


def test_fast_check_validates_contained_resources_by_their_own_type() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "contained": [{"resourceType": "Patient", "id": "p", "gender": 3}],
    }
    issues = check_resource(obs, "Observation")
    assert [i.expression for i in issues] == [("Observation.contained[0].gender",)]


def test_primitive_extension_satisfies_a_required_primitive() -> None:
    obs = {
        "resourceType": "Observation",
        "_status": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                    "valueCode": "unknown",
                }
            ]
        },
        "code": {"text": "x"},
    }
    assert check_resource(obs, "Observation") == []
