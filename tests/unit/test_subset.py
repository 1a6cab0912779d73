"""``_summary``/``_elements`` subsets, JSON Merge Patch and chain parsing: the pure parts."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources import get_fhir_model_class

from bedside.errors import InvalidRequest
from bedside.fhir.merge_patch import merge_patch
from bedside.fhir.search.query import parse_search
from bedside.fhir.subset import SUBSETTED, subset
from bedside.rest.capability import capability_statement

OBS: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "meta": {"versionId": "3", "tag": [{"system": "urn:t", "code": "keep"}]},
    "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>x</div>"},
    "status": "final",
    "code": {"text": "pulse"},
    "subject": {"reference": "Patient/p"},
    "valueQuantity": {"value": 60},
    "_status": {"extension": [{"url": "urn:x", "valueString": "y"}]},
    "note": [{"text": "resting"}],
    "interpretation": [{"text": "normal"}],
}


def test_summary_true_keeps_summary_elements_with_their_primitive_extensions() -> None:
    out = subset(OBS, summary="true")
    assert set(out) == {"resourceType", "id", "meta", "status", "_status", "code", "subject",
                        "valueQuantity"}  # fmt: skip
    assert out["meta"]["tag"] == [{"system": "urn:t", "code": "keep"}, SUBSETTED]
    assert out["meta"]["versionId"] == "3"
    assert OBS["meta"]["tag"] == [{"system": "urn:t", "code": "keep"}]  # the input is untouched


def test_summary_text_and_data_and_elements() -> None:
    assert set(subset(OBS, summary="text")) == {"resourceType", "id", "meta", "text", "status",
                                                "_status", "code"}  # fmt: skip
    data = subset(OBS, summary="data")
    assert "text" not in data and data["note"] == OBS["note"]
    picked = subset(OBS, summary="true", elements=("note", "Observation.interpretation"))
    assert set(picked) == {"resourceType", "id", "meta", "note", "interpretation", "status",
                           "_status", "code"}  # fmt: skip
    assert subset(OBS, summary=None) is OBS


def test_a_subset_is_still_a_valid_resource() -> None:
    for mode in ("true", "text", "data"):
        get_fhir_model_class("Observation").parse_obj(subset(OBS, summary=mode))


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": None, "y": 1}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3],
                                          "new": {"y": 1}}  # fmt: skip
    assert target["c"] == {"d": "e", "f": "g"}
    with pytest.raises(InvalidRequest):
        merge_patch(target, [{"op": "remove", "path": "/a"}])


def test_chains_and_has_parse_into_unbound_links() -> None:
    query = parse_search("Observation", [("subject:Patient.name", "x")])
    (clause,) = query.clauses
    assert clause.link is not None and not clause.link.reverse
    (branch,) = clause.link.branches
    assert branch.resource_type == "Patient" and not branch.bound
    query = parse_search("Patient", [("_has:Observation:patient:code", "1234")])
    (clause,) = query.clauses
    assert clause.link is not None and clause.link.reverse
    for bad in (("_has:Observation:code:code", "x"), ("_has:Nope:patient:code", "x"),
                ("subject:Nope.name", "x"), ("_has:Observation:patient", "x")):  # fmt: skip
        with pytest.raises(InvalidRequest):
            parse_search("Patient" if bad[0].startswith("_has") else "Observation", [bad])


def test_capability_statement_lists_operations_and_is_valid() -> None:
    cap = capability_statement("http://bedside.test/fhir", "2026-12-03")
    get_fhir_model_class("CapabilityStatement").parse_obj(cap)
    patient = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Patient")
    ops = {o["name"]: o["definition"] for o in patient["operation"]}
    assert ops["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    assert "break-glass" in ops
    assert {"code": "history-system"} in cap["rest"][0]["interaction"]
    assert "application/merge-patch+json" in cap["patchFormat"]


def test_the_references_table_of_a_policy_file_is_checked() -> None:
    from bedside.errors import PolicyError
    from bedside.policy.rules import parse

    base = "[roles.doctor]\npatients = 'related'\ntypes = { '*' = 'crus' }\n"
    rules = parse(base + "[references]\nreject = ['Patient']\n", source="t")
    assert rules.references.mode("Patient") == "reject"
    assert rules.references.mode("Encounter") == "allow"
    assert parse(base, source="t").references.checks is False
    for bad in ("default = 'maybe'", "reject = ['Nope']", "strict = true",
                "reject = ['Patient']\nallow = ['Patient']"):  # fmt: skip
        with pytest.raises(PolicyError):
            parse(base + "[references]\n" + bad + "\n", source="t")
