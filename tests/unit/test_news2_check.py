"""A NEWS2 total checked against the Observations it is derived from
(bedside.clinical.news2_check; docs/news2.md "Where it is enforced"): confirmed when it holds,
refused with a sentence naming the parameter and the scores, never the patient, when not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bedside.clinical.news2_check import check_total
from bedside.clinical.news2_read import spo2_scale_of
from bedside.errors import ClinicalRuleBroken, Unprocessable
from tests.unit.test_news2_fhir import SCORES, build, lookup_in

# --- the check of a total -------------------------------------------------------------------------


def test_a_correct_total_is_confirmed_with_its_assessment() -> None:
    made = build()
    assert made.total is not None
    checked = check_total(made.total, lookup_in(*made.parameters))
    assert checked is not None and checked.total == 12 and checked.scores == SCORES


def test_a_wrong_total_is_refused_naming_both_scores() -> None:
    made = build()
    assert made.total is not None
    wrong = {**made.total, "valueInteger": 9}
    with pytest.raises(ClinicalRuleBroken) as caught:
        check_total(wrong, lookup_in(*made.parameters))
    assert caught.value.message == (
        "The NEWS2 total says 9, but the observations it is derived from score 12; it was not"
        " stored."
    )
    assert caught.value.status == 422


def test_a_wrong_component_is_refused_naming_the_parameter() -> None:
    made = build()
    assert made.total is not None
    wrong = copy.deepcopy(made.total)
    wrong["component"][4]["valueInteger"] = 2  # pulse 95 scores 1
    with pytest.raises(
        ClinicalRuleBroken, match="the Pulse score says 2 but the Pulse observation scores 1"
    ):
        check_total(wrong, lookup_in(*made.parameters))


def test_a_total_scored_on_the_wrong_scale_is_refused() -> None:
    made = build()
    assert made.total is not None
    scale_1 = copy.deepcopy(made.total)
    scale_1["component"][1]["code"]["coding"][0]["code"] = "1104311000000102"  # 95 % scores 1
    with pytest.raises(ClinicalRuleBroken, match="say"):
        check_total(scale_1, lookup_in(*made.parameters))
    both = copy.deepcopy(made.total)
    both["component"].append(scale_1["component"][1])
    with pytest.raises(ClinicalRuleBroken, match="states two SpO2 scores"):
        check_total(both, lookup_in(*made.parameters))
    with pytest.raises(Unprocessable, match="both Scale 1 and Scale 2"):
        spo2_scale_of(both)


def _no_derived(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    del t["derivedFrom"]


def _elsewhere(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    t["derivedFrom"][0] = {"reference": "http://other.example/fhir/Observation/o1"}


def _unknown(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    t["derivedFrom"][0] = {"reference": "Observation/nowhere"}


def _other_patient(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    params[0]["subject"] = {"reference": "Patient/p2"}


def _incomplete(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    t["derivedFrom"] = t["derivedFrom"][:-1]


def _no_value(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    del t["valueInteger"]


def _no_subject(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    del t["subject"]


def _entered_in_error(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    params[2]["status"] = "entered-in-error"


def _implausible(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    params[4]["valueQuantity"]["value"] = 400


def _repeated(t: dict[str, Any], params: list[dict[str, Any]]) -> None:
    t["derivedFrom"].append(t["derivedFrom"][0])


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (_no_derived, "must name the parameter observations it was scored from"),
        (_elsewhere, "derived only from parameter observations"),
        (_unknown, "derived from Observation/nowhere, which is not on the server"),
        (_other_patient, "Observation/o1 is about another patient"),
        (_incomplete, "incomplete: Temperature not recorded"),
        (_no_value, "must state its score"),
        (_no_subject, "must name its patient"),
        (_entered_in_error, "Observation/o3 is marked entered-in-error"),
        (_implausible, "Pulse must be between 20 and 250"),
        (_repeated, "more than one Respiration rate"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_a_total_that_cannot_be_recomputed_is_refused(
    spoil: Callable[[dict[str, Any], list[dict[str, Any]]], None], says: str
) -> None:
    made = build()
    assert made.total is not None
    total, params = copy.deepcopy(made.total), copy.deepcopy(list(made.parameters))
    spoil(total, params)
    with pytest.raises(ClinicalRuleBroken, match=says) as caught:
        check_total(total, lookup_in(*params))
    assert "p1" not in caught.value.message  # never the patient


def test_a_versioned_reference_reads_that_version() -> None:
    made = build()
    assert made.total is not None
    asked: list[tuple[str, int | None]] = []
    stored = {o["id"]: o for o in made.parameters}

    def lookup(rid: str, version: int | None) -> Any:
        asked.append((rid, version))
        return stored.get(rid)

    total = copy.deepcopy(made.total)
    total["derivedFrom"][0] = {"reference": "Observation/o1/_history/3"}
    assert check_total(total, lookup) is not None
    assert asked[0] == ("o1", 3) and asked[1] == ("o2", None)


def test_other_observations_and_retracted_totals_are_not_checked() -> None:
    made = build()
    assert made.total is not None
    nothing = lookup_in()
    assert check_total(made.parameters[0], nothing) is None
    assert check_total({**made.total, "status": "entered-in-error"}, nothing) is None
    assert check_total({"resourceType": "Condition", "code": made.total["code"]}, nothing) is None
