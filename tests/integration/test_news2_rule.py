"""NEWS2 rechecked at commit (brief G3, docs/news2.md "Where it is enforced"), over real HTTP
against a real `bedside serve` on each backend: a device pushes parameter Observations and the
NEWS2 total it scored; the server recomputes the total from the Observations it is derived from
and rejects one that does not match, alone (G2). The REST API refuses the same total with 422."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from bedside.clinical.news2 import Consciousness, News2Inputs, SpO2Scale
from bedside.clinical.news2_fhir import News2Observations, build_observations
from bedside.protocol.event import format_time
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    SyncDevice,
    enrol,
    new_ward,
    observation,
    push,
    read,
    results,
    sql,
)

#: Scores 2+2+2+1+1+3+1 = 12 (Scale 2 on oxygen, new confusion).
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
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def nurse_device(smart: Smart) -> tuple[str, SyncDevice]:
    ward, users = new_ward(smart, "nurse")
    return ward.patient, enrol(smart, users[0])


def recorded(patient: str, inputs: News2Inputs = SET) -> News2Observations:
    return build_observations(
        inputs,
        patient=patient,
        effective=format_time(time.time() - 60),
        new_id=lambda: str(uuid.uuid4()),
    )


def stored(smart: Smart, rid: str) -> int:
    rows = sql(
        smart,
        "SELECT COUNT(*) FROM resource_versions v JOIN resources r ON r.rid = v.rid"
        " WHERE r.type = 'Observation' AND r.id = ?",
        rid,
    )
    return int(rows[0][0])


def creates(device: SyncDevice, patient: str, resources: list[dict[str, Any]]) -> list[Any]:
    return [device.event("create", r, patient=patient) for r in resources]


# --- sync push -----------------------------------------------------------------------------------


def test_a_correct_total_pushed_with_its_parameters_is_confirmed(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    made = recorded(patient)
    out = results(push(smart, device, creates(device, patient, made.all())))
    assert [r["state"] for r in out] == ["confirmed"] * 8
    assert made.total is not None
    total = read(smart, f"/Observation/{made.total['id']}")
    assert total["valueInteger"] == 12
    assert total["derivedFrom"] == made.total["derivedFrom"]


def test_a_wrong_total_is_rejected_alone_with_the_sentence(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    made = recorded(patient)
    assert made.total is not None
    wrong = {**made.total, "valueInteger": 9}
    after = observation(patient)
    events = creates(device, patient, [*made.parameters, wrong, after])
    out = results(push(smart, device, events))
    assert [r["state"] for r in out] == ["confirmed"] * 7 + ["rejected", "confirmed"]
    rejected = out[7]
    assert rejected["code"] == "clinical-rule"
    assert rejected["reason"] == (
        "The NEWS2 total says 9, but the observations it is derived from score 12; it was not"
        " stored."
    )
    assert stored(smart, wrong["id"]) == 0
    assert all(stored(smart, p["id"]) == 1 for p in made.parameters)
    assert stored(smart, after["id"]) == 1
    # a re-sent rejection is answered the same, byte for byte, and still nothing is stored
    again = results(push(smart, device, [events[7]]))
    assert again == [rejected]
    assert stored(smart, wrong["id"]) == 0


def test_a_total_is_checked_against_parameters_stored_by_an_earlier_push(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    made = recorded(patient, dataclasses.replace(SET, spo2_scale=SpO2Scale.SCALE_1))
    assert made.total is not None and made.total["valueInteger"] == 12 - 2 + 1  # 95 % scores 1
    first = results(push(smart, device, creates(device, patient, list(made.parameters))))
    assert [r["state"] for r in first] == ["confirmed"] * 7
    (result,) = results(push(smart, device, creates(device, patient, [made.total])))
    assert result["state"] == "confirmed"
    # the same parameters, a total claiming Scale 2 bands for them: rejected
    claimed = {**made.total, "id": str(uuid.uuid4()), "valueInteger": 12}
    claimed["component"] = [dict(c) for c in made.total["component"]]
    claimed["component"][1] = {**claimed["component"][1], "valueInteger": 2}
    (result,) = results(push(smart, device, creates(device, patient, [claimed])))
    assert (result["state"], result["code"]) == ("rejected", "clinical-rule")
    assert "the SpO2 score says 2 but the SpO2 observation scores 1" in result["reason"]


def test_a_total_sent_before_its_parameters_is_rejected_and_they_are_kept(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    made = recorded(patient)
    assert made.total is not None
    out = results(push(smart, device, creates(device, patient, [made.total, *made.parameters])))
    assert [r["state"] for r in out] == ["rejected"] + ["confirmed"] * 7
    assert out[0]["code"] == "clinical-rule"
    assert "send the parameter observations before the total" in out[0]["reason"]
    assert patient not in out[0]["reason"]


def test_an_incomplete_set_syncs_without_a_total_and_a_total_for_it_is_rejected(
    smart: Smart,
) -> None:
    patient, device = nurse_device(smart)
    made = recorded(patient, dataclasses.replace(SET, temperature=None))
    assert made.total is None
    full = recorded(patient)
    assert full.total is not None
    pretend = {
        **full.total,
        "derivedFrom": [{"reference": f"Observation/{p['id']}"} for p in made.parameters],
    }
    events = creates(device, patient, [*made.parameters, pretend])
    out = results(push(smart, device, events))
    assert [r["state"] for r in out] == ["confirmed"] * 6 + ["rejected"]
    assert "incomplete: Temperature not recorded" in out[-1]["reason"]


# --- REST ---------------------------------------------------------------------------------------


def post(smart: Smart, resource: dict[str, Any]) -> Any:
    with smart.fhir_client(smart.operator_token) as c:
        return c.post("/Observation", json=resource, headers=FHIR_JSON)


def put(smart: Smart, resource: dict[str, Any]) -> Any:
    with smart.fhir_client(smart.operator_token) as c:
        return c.put(f"/Observation/{resource['id']}", json=resource, headers=FHIR_JSON)


def test_rest_refuses_a_wrong_total_with_422_and_stores_a_right_one(smart: Smart) -> None:
    patient = smart.create_patient("Scored")
    made = recorded(patient)
    assert made.total is not None
    for parameter in made.parameters:
        assert put(smart, parameter).status_code == 201
    wrong = {**made.total, "valueInteger": 3}
    answer = post(smart, wrong)
    assert answer.status_code == 422, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    (issue,) = outcome["issue"]
    assert issue["code"] == "business-rule"
    assert issue["diagnostics"].startswith("The NEWS2 total says 3, but the observations")
    assert stored(smart, wrong["id"]) == 0
    right = post(smart, made.total)
    assert right.status_code == 201, right.text
    # an update of a stored total is checked too
    assert (
        put(smart, {**made.total, "id": right.json()["id"], "valueInteger": 11}).status_code == 422
    )


def test_a_transaction_bundle_with_its_parameters_is_checked_in_one_go(smart: Smart) -> None:
    patient = smart.create_patient("Bundled")
    made = recorded(patient)
    assert made.total is not None
    urls = {p["id"]: f"urn:uuid:{p['id']}" for p in made.parameters}
    total = {
        **made.total,
        "derivedFrom": [
            {"reference": urls[r["reference"].split("/")[1]]} for r in made.total["derivedFrom"]
        ],
    }

    def bundle(total: dict[str, Any]) -> dict[str, Any]:
        entries = [
            {
                "fullUrl": urls[p["id"]],
                "resource": {k: v for k, v in p.items() if k != "id"},
                "request": {"method": "POST", "url": "Observation"},
            }
            for p in made.parameters
        ]
        entries.append(
            {"resource": {k: v for k, v in total.items() if k != "id"},
             "request": {"method": "POST", "url": "Observation"}}
        )  # fmt: skip
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

    with smart.fhir_client(smart.operator_token) as c:
        bad = c.post("", json=bundle({**total, "valueInteger": 2}), headers=FHIR_JSON)
        good = c.post("", json=bundle(total), headers=FHIR_JSON)
    assert bad.status_code == 422, bad.text
    assert "says 2" in bad.text
    assert good.status_code == 200, good.text
    assert [e["response"]["status"][:3] for e in good.json()["entry"]] == ["201"] * 8
