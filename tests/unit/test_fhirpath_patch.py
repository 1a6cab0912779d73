"""FHIRPath Patch (fhirpatch.html) operations on a resource, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bedside.errors import InvalidRequest, Unprocessable
from bedside.fhir.fhirpath_patch import fhirpath_patch

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "active": True,
    "birthDate": "1970-01-02",
    "name": [
        {"family": "Berg", "given": ["Ada", "Maria"]},
        {"family": "Lund", "use": "maiden"},
    ],
}


def op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    out = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        key, _, typed = name.partition("__")
        out.append({"name": key, f"value{typed or 'String'}": value})
    return {"name": "operation", "part": out}


def patch(*ops: dict[str, Any]) -> dict[str, Any]:
    return fhirpath_patch(PATIENT, {"resourceType": "Parameters", "parameter": list(ops)})


def test_replace_delete_add_insert_and_move() -> None:
    got = patch(
        op("replace", "Patient.birthDate", value__Date="1970-01-03"),
        op("delete", "Patient.active"),
        op("add", "Patient", name="gender", value__Code="female"),
        op("add", "Patient.name[0]", name="given", value="Eva"),
        op("add", "Patient", name="telecom", value__ContactPoint={"system": "phone", "value": "1"}),
        op("insert", "Patient.name", index__Integer=0, value__HumanName={"family": "Ny"}),
        op("move", "Patient.name", source__Integer=2, destination__Integer=0),
        op("replace", "Patient.name[1].family", value="Storm"),
    )
    assert got["birthDate"] == "1970-01-03"
    assert "active" not in got
    assert got["gender"] == "female"
    assert got["telecom"] == [{"system": "phone", "value": "1"}]  # telecom repeats: a list
    assert [n["family"] for n in got["name"]] == ["Lund", "Storm", "Berg"]
    assert got["name"][1] == {"family": "Storm"}
    assert got["name"][2]["given"] == ["Ada", "Maria", "Eva"]
    assert PATIENT["name"][0]["given"] == ["Ada", "Maria"]  # the input is not touched


def test_delete_of_one_list_item_and_of_nothing() -> None:
    got = patch(op("delete", "Patient.name[0].given[1]"), op("delete", "Patient.deceasedBoolean"))
    assert got["name"][0]["given"] == ["Ada"]  # deleting what is not there changes nothing
    assert {k: v for k, v in got.items() if k != "name"} == {
        k: v for k, v in PATIENT.items() if k != "name"
    }
    got = patch(op("delete", "Patient.name[1]"), op("delete", "Patient.name[0]"))
    assert "name" not in got  # no empty array is left behind


def test_first_is_index_zero() -> None:
    assert patch(op("delete", "Patient.name.first()"))["name"] == [PATIENT["name"][1]]


@pytest.mark.parametrize(
    ("ops", "error"),
    [
        ([op("replace", "Patient.name", value="x")], Unprocessable),  # two names
        ([op("delete", "Patient.name.given")], Unprocessable),  # three givens
        ([op("add", "Patient", name="active", value__Boolean=False)], Unprocessable),  # has one
        ([op("move", "Patient.name", source__Integer=0, destination__Integer=5)], Unprocessable),
        ([op("insert", "Patient.active", index__Integer=0, value="x")], Unprocessable),
        ([op("replace", "Patient.name.where(use='maiden').family", value="x")], InvalidRequest),
        ([op("replace", "Observation.status", value="x")], InvalidRequest),
        ([op("remove", "Patient.active")], InvalidRequest),
        ([op("replace", "Patient.active")], InvalidRequest),  # no value
        ([{"name": "operation", "part": [{"name": "type", "valueCode": "add"},
                                         {"name": "path", "valueString": "Patient"},
                                         {"name": "value", "part": []}]}], InvalidRequest),
        ([{"name": "reason", "valueString": "x"}], InvalidRequest),
        ([], InvalidRequest),
    ],
)  # fmt: skip
def test_what_cannot_apply_is_refused_with_a_reason(ops: list[dict[str, Any]], error: type) -> None:
    with pytest.raises(error):
        fhirpath_patch(PATIENT, {"resourceType": "Parameters", "parameter": ops})
