"""What a SMART grant lets an app see, and how people control it, over HTTP: types unticked on
the consent page, granular scopes, the patient compartment, the user's list of authorized apps,
sign-in lockout, and EHR and clinician launches.

The row-level rules (granular scopes, compartments) are enforced by the FHIR layer
(``bedside.rest.access``); these tests hold the whole chain to them end to end.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import LAB, PASSWORD, REDIRECT, Smart, smart_server

THREE_TYPES = "launch/patient patient/Patient.rs patient/Observation.rs patient/Condition.rs"


@dataclass
class World:
    smart: Smart
    carla: str  # Patient id of user "carla"
    erin: str  # Patient id of user "erin"
    lab: str  # carla's laboratory Observation
    vital: str  # carla's vital-signs Observation
    condition: str  # carla's Condition
    erin_obs: str  # erin's Observation
    practitioner: str  # Practitioner id of user "drwho"


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        carla = smart.create_patient("Romero", "Carla")
        erin = smart.create_patient("Nakamura", "Erin")
        practitioner = smart.create(
            {"resourceType": "Practitioner", "name": [{"family": "Who", "given": ["Dr"]}]}
        )
        world = World(
            smart,
            carla=carla,
            erin=erin,
            lab=smart.create_observation(carla, "laboratory", "2345-7"),
            vital=smart.create_observation(carla, "vital-signs", "8867-4"),
            condition=smart.create_condition(carla),
            erin_obs=smart.create_observation(erin, "laboratory", "2345-7"),
            practitioner=practitioner,
        )
        smart.add_user("carla", "patient", f"Patient/{carla}")
        smart.add_user("erin", "patient", f"Patient/{erin}")
        smart.add_user("drwho", "doctor", f"Practitioner/{practitioner}")
        for patient in (carla, erin):  # a clinician sees the patients assigned to them
            smart.admin("assign", "add", "--user", "drwho", "--patient", patient)
        smart.add_user("drno", "doctor")
        smart.add_app("app")
        yield world


def _claims(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def _ids(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {
        e["resource"]["id"]
        for e in r.json().get("entry", [])
        if e.get("search", {}).get("mode", "match") == "match"
    }


# --- consent and scopes --------------------------------------------------------------------------


def test_an_unticked_type_is_not_granted(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "carla", THREE_TYPES, untick=["Condition"])
    assert {"Patient", "Observation", "Condition"} <= set(flow.consent_types)
    r = smart.redeem(flow.code, flow.verifier, "app")
    assert r.status_code == 200, r.text
    body = r.json()
    granted = body["scope"].split()
    assert "patient/Observation.rs" in granted and "patient/Patient.rs" in granted
    assert not any("Condition" in s for s in granted)
    token = body["access_token"]
    r = smart.get("/Condition", token, patient=world.carla)
    assert r.status_code == 403
    assert "insufficient_scope" in r.headers.get("www-authenticate", "")
    assert smart.get(f"/Condition/{world.condition}", token).status_code == 403
    assert world.lab in _ids(smart.get("/Observation", token, patient=world.carla))


def test_an_unticked_type_is_cut_out_of_a_wildcard(world: World) -> None:
    smart = world.smart
    body = smart.login("app", "carla", "launch/patient patient/*.rs", untick=["Condition"])
    granted = body["scope"].split()
    assert "patient/*.rs" not in granted
    assert "patient/Observation.rs" in granted
    assert not any("Condition" in s for s in granted)
    assert smart.get("/Condition", body["access_token"], patient=world.carla).status_code == 403
    assert smart.get(f"/Patient/{world.carla}", body["access_token"]).status_code == 200


def test_a_granular_scope_filters_a_search(world: World) -> None:
    """Depends on granular-scope enforcement in bedside.rest (SMART 2.2 "Finer-grained")."""
    smart = world.smart
    scope = f"launch/patient patient/Observation.rs?category={LAB}"
    body = smart.login("app", "carla", scope)
    assert f"patient/Observation.rs?category={LAB}" in body["scope"].split()
    token = body["access_token"]
    found = _ids(smart.get("/Observation", token, patient=world.carla))
    assert world.lab in found
    assert world.vital not in found
    assert _ids(smart.get("/Observation", token)) == {world.lab}
    assert smart.get(f"/Observation/{world.lab}", token).status_code == 200
    assert smart.get(f"/Observation/{world.vital}", token).status_code == 404


def test_a_patient_cannot_read_another_patients_data(world: World) -> None:
    """Depends on patient-compartment enforcement in bedside.rest."""
    smart = world.smart
    body = smart.login("app", "carla", "launch/patient patient/*.rs user/*.rs")
    token = body["access_token"]
    assert body["patient"] == world.carla
    assert smart.get(f"/Observation/{world.lab}", token).status_code == 200
    assert smart.get(f"/Observation/{world.erin_obs}", token).status_code == 404
    assert smart.get(f"/Patient/{world.erin}", token).status_code == 404
    assert world.erin_obs not in _ids(smart.get("/Observation", token))
    assert world.erin_obs not in _ids(smart.get("/Observation", token, patient=world.erin))


# --- the user's authorized apps ------------------------------------------------------------------


def _grants(smart: Smart, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{smart.root}/auth/grants", headers=headers)


def _revoke_grant(smart: Smart, grant_id: str, token: str) -> httpx.Response:
    return httpx.delete(
        f"{smart.root}/auth/grants/{grant_id}", headers={"Authorization": f"Bearer {token}"}
    )


def test_a_patient_lists_and_revokes_their_apps(world: World) -> None:
    smart = world.smart
    smart.add_app("diary-app")
    scope = "launch/patient openid fhirUser offline_access patient/*.rs"
    app = smart.login("diary-app", "carla", scope)
    manager = smart.login("app", "carla", "openid fhirUser patient/Patient.rs launch/patient")
    grant_id = _claims(app["access_token"])["sid"]

    r = _grants(smart, manager["access_token"])
    assert r.status_code == 200, r.text
    listed = {g["id"]: g for g in r.json()["grants"]}
    assert listed[grant_id]["client_id"] == "diary-app"
    assert listed[grant_id]["patient"] == world.carla
    assert "offline_access" in listed[grant_id]["scope"].split()

    # Another user cannot see or revoke it.
    erin = smart.login("app", "erin", "openid fhirUser patient/Patient.rs launch/patient")
    assert grant_id not in {g["id"] for g in _grants(smart, erin["access_token"]).json()["grants"]}
    assert _revoke_grant(smart, grant_id, erin["access_token"]).status_code == 404
    assert smart.get(f"/Patient/{world.carla}", app["access_token"]).status_code == 200

    assert _revoke_grant(smart, "g-does-not-exist", manager["access_token"]).status_code == 404
    r = _revoke_grant(smart, grant_id, manager["access_token"])
    assert r.status_code == 204
    assert smart.get(f"/Patient/{world.carla}", app["access_token"]).status_code == 401
    assert smart.refresh(app["refresh_token"], "diary-app").status_code == 400
    listed_after = {g["id"] for g in _grants(smart, manager["access_token"]).json()["grants"]}
    assert grant_id not in listed_after
    assert _claims(manager["access_token"])["sid"] in listed_after


def test_the_grants_api_needs_a_token(world: World) -> None:
    r = _grants(world.smart, None)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.delete(f"{world.smart.root}/auth/grants/g-anything")
    assert r.status_code == 401


# --- sign-in lockout -----------------------------------------------------------------------------


def _signin_error(r: httpx.Response) -> str:
    m = re.search(r'<p class="error" role="alert">(.*?)</p>', r.text, re.S)
    assert m, r.text
    return html.unescape(m.group(1)).strip()


def test_lockout_after_five_failures_and_reset(world: World) -> None:
    smart = world.smart
    smart.add_user("locky", "patient", f"Patient/{world.erin}")
    params = smart.authorize_params(
        "app", "launch/patient patient/*.rs", challenge="A" * 43, state="s"
    )

    def attempt(b: httpx.Client, rid: str, username: str, password: str) -> httpx.Response:
        return b.post(
            "/auth/signin", data={"request": rid, "username": username, "password": password}
        )

    with smart.browser() as b:
        r = b.get("/auth/authorize", params=params)
        assert r.status_code == 303
        rid = r.headers["location"].split("request=")[1]
        messages = set()
        for i in range(5):
            r = attempt(b, rid, "locky", f"wrong password {i}")
            assert r.status_code == 401
            messages.add(_signin_error(r))
        r = attempt(b, rid, "nobody-by-this-name", PASSWORD)
        assert r.status_code == 401
        messages.add(_signin_error(r))
        r = attempt(b, rid, "locky", PASSWORD)  # the right password, but locked
        assert r.status_code == 401
        assert "location" not in r.headers
        messages.add(_signin_error(r))
        assert len(messages) == 1, messages
        assert messages.pop().startswith("Sign-in failed.")

        smart.admin(
            "user", "reset-password", "locky", "--password-stdin", stdin="a new passphrase 42\n"
        )
        r = attempt(b, rid, "locky", PASSWORD)  # the old password no longer works
        assert r.status_code == 401
        r = attempt(b, rid, "locky", "a new passphrase 42")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/auth/consent")


# --- EHR launch and clinician standalone launch --------------------------------------------------


def test_ehr_launch_from_the_cli(world: World) -> None:
    smart = world.smart
    launch = smart.admin("launch", "--patient", world.carla).strip().splitlines()[-1]
    body = smart.login("app", "drwho", "launch openid fhirUser patient/*.rs", launch=launch)
    assert body["patient"] == world.carla
    assert body["need_patient_banner"] is False
    assert "launch" in body["scope"].split()
    assert smart.get(f"/Patient/{world.carla}", body["access_token"]).status_code == 200
    assert world.lab in _ids(smart.get("/Observation", body["access_token"], patient=world.carla))


def test_ehr_launch_from_the_api_is_bound_to_the_clinician(world: World) -> None:
    smart = world.smart
    doctor = smart.login("app", "drwho", "openid fhirUser user/*.rs")
    r = httpx.post(
        f"{smart.root}/auth/launch",
        json={"patient": world.erin},
        headers={"Authorization": f"Bearer {doctor['access_token']}"},
    )
    assert r.status_code == 201, r.text
    launch = r.json()["launch"]
    # Another clinician cannot complete a launch made by drwho.
    flow = smart.browser_flow("app", "drno", "launch patient/*.rs", launch=launch)
    assert flow.params.get("error") == "access_denied"
    assert "code" not in flow.params
    body = smart.login("app", "drwho", "launch openid fhirUser patient/*.rs", launch=launch)
    assert body["patient"] == world.erin
    assert body["need_patient_banner"] is False
    # A patient may not create launches.
    carla = smart.login("app", "carla", "launch/patient patient/Patient.rs")
    r = httpx.post(
        f"{smart.root}/auth/launch",
        json={"patient": world.carla},
        headers={"Authorization": f"Bearer {carla['access_token']}"},
    )
    assert r.status_code == 403


def test_an_unknown_launch_is_refused(world: World) -> None:
    flow = world.smart.browser_flow("app", "drwho", "launch patient/*.rs", launch="l-bogus")
    assert flow.location.startswith(REDIRECT)
    assert flow.params["error"] == "invalid_request"
    assert "code" not in flow.params


def test_a_clinician_picks_the_patient_in_a_standalone_launch(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow(
        "app", "drwho", "launch/patient openid fhirUser patient/*.rs", patient=world.erin
    )
    assert {world.carla, world.erin} <= set(flow.picker_patients)
    r = smart.redeem(flow.code, flow.verifier, "app")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patient"] == world.erin
    assert body["need_patient_banner"] is True
    assert smart.get(f"/Patient/{world.erin}", body["access_token"]).status_code == 200
    assert _ids(smart.get("/Observation", body["access_token"])) == {world.erin_obs}


def test_a_patient_user_never_sees_the_picker(world: World) -> None:
    flow = world.smart.browser_flow("app", "carla", "launch/patient patient/*.rs")
    assert flow.picker_patients == []
    r = world.smart.redeem(flow.code, flow.verifier, "app")
    assert r.json()["patient"] == world.carla
