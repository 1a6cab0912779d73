"""A patient records and withdraws Consents for their own record through a SMART app granted
``patient/Consent.cu``, and nothing else (issue 18), over real HTTP on each backend.

The practitioner the Consent names sees exactly what it shares while it is active, and gets 404
(as for any invisible resource) once the patient withdraws it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server

TYPES = "http://hl7.org/fhir/resource-types"
PATIENT_APP_SCOPE = "launch/patient openid fhirUser patient/*.rs patient/Consent.cru"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@dataclass
class World:
    smart: Smart
    carla: str  # Patient id of patient user "carla"
    erin: str  # another patient
    lab: str  # carla's laboratory Observation
    lab2: str  # a second laboratory Observation of carla's
    condition: str  # carla's Condition
    specialist: str  # Practitioner id of doctor user "specialist", with no care relationship


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        carla = smart.create_patient("Romero", "Carla")
        erin = smart.create_patient("Nakamura", "Erin")
        specialist = smart.create(
            {"resourceType": "Practitioner", "name": [{"family": "Okafor", "given": ["Dr"]}]}
        )
        world = World(
            smart,
            carla=carla,
            erin=erin,
            lab=smart.create_observation(carla, "laboratory", "2345-7"),
            lab2=smart.create_observation(carla, "laboratory", "718-7"),
            condition=smart.create_condition(carla),
            specialist=specialist,
        )
        smart.add_user("carla", "patient", f"Patient/{carla}")
        smart.add_user("specialist", "doctor", f"Practitioner/{specialist}")
        smart.add_app("carla-app")
        yield world


def share_body(patient: str, actor: str, *types: str, days: int = 30) -> dict[str, Any]:
    end = (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "provision": {
            "type": "permit",
            "period": {"end": end},
            "actor": [{"role": {"text": "recipient"}, "reference": {"reference": actor}}],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}
            ],
            "class": [{"system": TYPES, "code": t} for t in types],
        },
    }


def _client(smart: Smart, token: str) -> httpx.Client:
    return smart.fhir_client(token)


@pytest.fixture(scope="module")
def carla_token(world: World) -> str:
    body = world.smart.login("carla-app", "carla", PATIENT_APP_SCOPE)
    granted = body["scope"].split()
    assert "patient/Consent.cru" in granted, granted
    return str(body["access_token"])


@pytest.fixture(scope="module")
def specialist_token(world: World) -> str:
    body = world.smart.login("carla-app", "specialist", "openid fhirUser user/*.rs")
    return str(body["access_token"])


def test_the_patient_ceiling_grants_consent_writes_and_no_other_write(world: World) -> None:
    body = world.smart.login(
        "carla-app", "carla", "launch/patient patient/*.cruds patient/Consent.cruds"
    )
    granted = body["scope"].split()
    assert "patient/Consent.crus" in granted
    assert "patient/*.rs" in granted
    assert not any(s.startswith("patient/") and "d" in s.split(".")[1] for s in granted)
    token = body["access_token"]
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Self-measured weight"},
        "subject": {"reference": f"Patient/{world.carla}"},
    }
    with _client(world.smart, token) as c:
        assert c.post("/Observation", json=obs, headers=FHIR_JSON).status_code == 403
        cond = c.get(f"/Condition/{world.condition}").json()
        cond["code"] = {"text": "Something else"}
        r = c.put(f"/Condition/{world.condition}", json=cond, headers=FHIR_JSON)
        assert r.status_code == 403


def test_a_patient_shares_with_a_practitioner_then_withdraws_it(
    world: World, carla_token: str, specialist_token: str
) -> None:
    smart = world.smart
    with _client(smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{world.lab}").status_code == 404
    consent = share_body(world.carla, f"Practitioner/{world.specialist}", "Observation")
    with _client(smart, carla_token) as c:
        r = c.post(
            "/Consent", json=consent, headers={**FHIR_JSON, "Prefer": "return=representation"}
        )
        assert r.status_code == 201, r.text
        stored = r.json()
    with _client(smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{world.lab}").status_code == 200
        assert doc.get(f"/Condition/{world.condition}").status_code == 404  # not shared
        found = doc.get("/Observation", params={"patient": world.carla}).json()
        assert world.lab in {e["resource"]["id"] for e in found.get("entry", [])}

    withdrawn = copy.deepcopy(stored)
    withdrawn["status"] = "inactive"
    with _client(smart, carla_token) as c:
        r = c.put(f"/Consent/{stored['id']}", json=withdrawn, headers=FHIR_JSON)
        assert r.status_code == 200, r.text
        assert c.delete(f"/Consent/{stored['id']}").status_code in (403, 405)
    with _client(smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{world.lab}").status_code == 404
        found = doc.get("/Observation", params={"patient": world.carla}).json()
        assert not found.get("entry")


def test_a_withdrawn_consent_cannot_be_reactivated(world: World, carla_token: str) -> None:
    consent = share_body(world.carla, f"Practitioner/{world.specialist}", "Condition")
    with _client(world.smart, carla_token) as c:
        r = c.post(
            "/Consent", json=consent, headers={**FHIR_JSON, "Prefer": "return=representation"}
        )
        assert r.status_code == 201, r.text
        stored = r.json()
        stored["status"] = "inactive"
        r = c.put(f"/Consent/{stored['id']}", json=stored, headers=FHIR_JSON)
        assert r.status_code == 200, r.text
        again = r.json()
        again["status"] = "active"
        r = c.put(f"/Consent/{stored['id']}", json=again, headers=FHIR_JSON)
        assert r.status_code == 409
        assert "inactive to active" in r.text


def test_a_patient_cannot_record_consent_for_someone_else(world: World, carla_token: str) -> None:
    consent = share_body(world.erin, f"Practitioner/{world.specialist}", "Observation")
    with _client(world.smart, carla_token) as c:
        r = c.post("/Consent", json=consent, headers=FHIR_JSON)
        assert r.status_code == 403
        assert r.json()["resourceType"] == "OperationOutcome"
        found = c.get("/Consent", params={"patient": world.erin}).json()
        assert not found.get("entry")


def test_a_patient_shares_one_result_with_a_practitioner_then_withdraws_it(
    world: World, carla_token: str, specialist_token: str
) -> None:
    smart = world.smart
    consent = share_body(world.carla, f"Practitioner/{world.specialist}", "Observation")
    consent["provision"]["data"] = [
        {"meaning": "instance", "reference": {"reference": f"Observation/{world.lab}"}}
    ]
    with _client(smart, carla_token) as c:
        r = c.post(
            "/Consent", json=consent, headers={**FHIR_JSON, "Prefer": "return=representation"}
        )
        assert r.status_code == 201, r.text
        stored = r.json()
    with _client(smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{world.lab}").status_code == 200
        assert doc.get(f"/Observation/{world.lab2}").status_code == 404  # same patient, not named
        assert doc.get(f"/Condition/{world.condition}").status_code == 404
        found = doc.get("/Observation", params={"patient": world.carla}).json()
        assert {e["resource"]["id"] for e in found.get("entry", [])} == {world.lab}
        r = doc.get(f"/Observation/{world.lab}")
        assert "no-store" in r.headers.get("cache-control", "")
    withdrawn = copy.deepcopy(stored)
    withdrawn["status"] = "inactive"
    with _client(smart, carla_token) as c:
        r = c.put(f"/Consent/{stored['id']}", json=withdrawn, headers=FHIR_JSON)
        assert r.status_code == 200, r.text
    with _client(smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{world.lab}").status_code == 404
        found = doc.get("/Observation", params={"patient": world.carla}).json()
        assert not found.get("entry")


def test_a_patient_cannot_name_someone_elses_result(
    world: World, carla_token: str, specialist_token: str
) -> None:
    theirs = world.smart.create_observation(world.erin, "laboratory", "2345-7")
    consent = share_body(world.carla, f"Practitioner/{world.specialist}", "Observation")
    consent["provision"]["data"] = [
        {"meaning": "instance", "reference": {"reference": f"Observation/{theirs}"}}
    ]
    with _client(world.smart, carla_token) as c:
        r = c.post("/Consent", json=consent, headers=FHIR_JSON)
        assert r.status_code == 422, r.text
        assert r.json()["resourceType"] == "OperationOutcome"
    with _client(world.smart, specialist_token) as doc:
        assert doc.get(f"/Observation/{theirs}").status_code == 404
