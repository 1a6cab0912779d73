"""Refresh tokens, introspection and revocation over HTTP (RFC 6749 §6, RFC 9700 §4.14.2,
RFC 7662, RFC 7009; SMART App Launch 2.2 "Refresh access token").

Refresh tokens rotate on every use; presenting a rotated one again is reuse and revokes the
whole token family (the retry of a lost answer aside: test_smart_refresh_grace.py). A refresh
may narrow the granted scope, never widen it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server

SCOPE = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs"


@dataclass
class World:
    smart: Smart
    patient: str  # the Patient id of user "bea"
    secret: str  # the introspecting client's secret


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        patient = smart.create_patient("Okafor", "Bea")
        smart.create_observation(patient, "laboratory")
        smart.add_user("bea", "patient", f"Patient/{patient}")
        smart.add_app("app")
        smart.add_app("other-app")
        secret = smart.add_confidential_app("resource-server")
        yield World(smart, patient, secret)


def _login(world: World, username: str = "bea") -> dict[str, Any]:
    body = world.smart.login("app", username, SCOPE)
    assert body["refresh_token"], body
    return body


def _reads(world: World, token: str) -> int:
    return world.smart.get(f"/Patient/{world.patient}", token).status_code


def _introspect(world: World, token: str) -> dict[str, Any]:
    r = world.smart.oauth_post(
        "/auth/introspect", {"token": token}, auth=("resource-server", world.secret)
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


# --- refresh -------------------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(world: World) -> None:
    smart = world.smart
    first = _login(world)
    r = smart.refresh(first["refresh_token"], "app")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["token_type"] == "Bearer"
    assert second["expires_in"] == 900
    assert set(second["scope"].split()) == set(SCOPE.split())
    assert second["patient"] == world.patient
    assert _reads(world, second["access_token"]) == 200
    # The new refresh token works in turn.
    r = smart.refresh(second["refresh_token"], "app")
    assert r.status_code == 200, r.text
    # The first one is spent: presenting it again is reuse.
    r = smart.refresh(first["refresh_token"], "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_reuse_of_a_rotated_refresh_token_revokes_the_family(world: World) -> None:
    smart = world.smart
    first = _login(world)
    r = smart.refresh(first["refresh_token"], "app")
    assert r.status_code == 200, r.text
    r = smart.refresh(r.json()["refresh_token"], "app")  # the successor is used: no lost answer
    assert r.status_code == 200, r.text
    latest = r.json()
    assert _reads(world, latest["access_token"]) == 200
    reuse = smart.refresh(first["refresh_token"], "app")
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert _reads(world, latest["access_token"]) == 401
    assert _reads(world, first["access_token"]) == 401
    r = smart.refresh(latest["refresh_token"], "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_refresh_may_narrow_the_scope(world: World) -> None:
    smart = world.smart
    first = _login(world)
    assert (
        smart.get("/Observation", first["access_token"], patient=world.patient).status_code == 200
    )
    r = smart.refresh(first["refresh_token"], "app", scope="patient/Patient.rs")
    assert r.status_code == 200, r.text
    narrow = r.json()
    assert narrow["scope"].split() == ["patient/Patient.rs"]
    assert _reads(world, narrow["access_token"]) == 200
    r = smart.get("/Observation", narrow["access_token"], patient=world.patient)
    assert r.status_code == 403
    assert "insufficient_scope" in r.headers.get("www-authenticate", "")
    # Narrowing one access token does not shrink the grant: omitting scope asks for all of it.
    r = smart.refresh(narrow["refresh_token"], "app")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == set(SCOPE.split())


@pytest.mark.parametrize(
    "wider",
    [
        "patient/Patient.rs patient/Condition.rs",
        "patient/Patient.cruds",
        "user/*.rs",
        "patient/Patient.rs launch",
    ],
)
def test_refresh_may_not_widen_the_scope(world: World, wider: str) -> None:
    smart = world.smart
    first = _login(world)
    r = smart.refresh(first["refresh_token"], "app", scope=wider)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"
    assert "access_token" not in r.json()
    # A refused refresh hands out no new refresh token, so the client still holds the one it
    # sent; that one must still work (and must not count as reuse on the next attempt).
    r = smart.refresh(first["refresh_token"], "app")
    assert r.status_code == 200, r.text
    assert _reads(world, r.json()["access_token"]) == 200


def test_an_invented_refresh_token_is_invalid_grant(world: World) -> None:
    r = world.smart.refresh(secrets.token_urlsafe(32), "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    r = world.smart.refresh("", "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_a_refresh_token_is_bound_to_its_client(world: World) -> None:
    smart = world.smart
    first = _login(world)
    r = smart.refresh(first["refresh_token"], "other-app")
    assert r.status_code in (400, 401)
    assert r.json()["error"] in ("invalid_grant", "invalid_client")
    assert "access_token" not in r.json()
    r = smart.refresh(first["refresh_token"], "resource-server", secret=world.secret)
    assert r.status_code in (400, 401)
    assert "access_token" not in r.json()
    # Another client's attempt neither spent the token nor revoked the grant.
    assert _reads(world, first["access_token"]) == 200
    r = smart.refresh(first["refresh_token"], "app")
    assert r.status_code == 200, r.text


def test_a_disabled_user_cannot_refresh_and_their_tokens_stop(world: World) -> None:
    smart = world.smart
    patient = smart.create_patient("Mensah", "Dora")
    smart.add_user("dora", "patient", f"Patient/{patient}")
    body = smart.login("app", "dora", SCOPE)
    assert smart.get(f"/Patient/{patient}", body["access_token"]).status_code == 200
    smart.admin("user", "disable", "dora")
    r = smart.get(f"/Patient/{patient}", body["access_token"])
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = smart.refresh(body["refresh_token"], "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    # Re-enabling does not bring the revoked grant back.
    smart.admin("user", "enable", "dora")
    assert smart.refresh(body["refresh_token"], "app").status_code == 400
    assert smart.get(f"/Patient/{patient}", body["access_token"]).status_code == 401


# --- introspection (RFC 7662) --------------------------------------------------------------------


def test_introspection_of_an_active_access_token(world: World) -> None:
    body = _login(world)
    info = _introspect(world, body["access_token"])
    assert info["active"] is True
    assert set(info["scope"].split()) == set(SCOPE.split())
    assert info["client_id"] == "app"
    assert isinstance(info["exp"], int) and info["exp"] > info.get("iat", 0)
    assert info["patient"] == world.patient
    assert info["fhirUser"] == f"{world.smart.fhir}/Patient/{world.patient}"


def test_introspection_of_a_refresh_token(world: World) -> None:
    body = _login(world)
    info = _introspect(world, body["refresh_token"])
    assert info["active"] is True
    assert info["client_id"] == "app"
    assert info["patient"] == world.patient


@pytest.mark.parametrize(
    "token", ["unknown-token", secrets.token_urlsafe(32), "eyJhbGciOiJub25lIn0.e30."]
)
def test_introspection_of_an_unknown_token_is_just_inactive(world: World, token: str) -> None:
    assert _introspect(world, token) == {"active": False}


def test_introspection_needs_a_confidential_client(world: World) -> None:
    smart = world.smart
    token = _login(world)["access_token"]
    cases: list[tuple[dict[str, str], tuple[str, str] | None]] = [
        ({"token": token}, None),  # no client authentication at all
        ({"token": token, "client_id": "app"}, None),  # a public client
        ({"token": token}, ("resource-server", "x" * 40)),  # a wrong secret
        ({"token": token}, ("no-such-client", world.secret)),
    ]
    for form, auth in cases:
        r = smart.oauth_post("/auth/introspect", form, auth=auth)
        assert r.status_code == 401, (form, auth, r.text)
        assert r.json()["error"] == "invalid_client"
        assert "active" not in r.json()


# --- revocation (RFC 7009) -----------------------------------------------------------------------


def test_revoking_the_refresh_token_stops_the_whole_grant(world: World) -> None:
    smart = world.smart
    body = _login(world)
    assert _reads(world, body["access_token"]) == 200
    r = smart.oauth_post("/auth/revoke", {"token": body["refresh_token"], "client_id": "app"})
    assert r.status_code == 200, r.text
    assert _reads(world, body["access_token"]) == 401
    r = smart.refresh(body["refresh_token"], "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert _introspect(world, body["access_token"]) == {"active": False}
    assert _introspect(world, body["refresh_token"]) == {"active": False}


def test_revoking_the_access_token_stops_the_grant(world: World) -> None:
    smart = world.smart
    body = _login(world)
    r = smart.oauth_post("/auth/revoke", {"token": body["access_token"], "client_id": "app"})
    assert r.status_code == 200
    assert _reads(world, body["access_token"]) == 401
    assert smart.refresh(body["refresh_token"], "app").status_code == 400


def test_revoking_an_unknown_token_is_200(world: World) -> None:
    r = world.smart.oauth_post(
        "/auth/revoke", {"token": secrets.token_urlsafe(32), "client_id": "app"}
    )
    assert r.status_code == 200
    r = world.smart.oauth_post(
        "/auth/revoke", {"token": "whatever"}, auth=("resource-server", world.secret)
    )
    assert r.status_code == 200


def test_another_client_cannot_revoke_a_token(world: World) -> None:
    smart = world.smart
    body = _login(world)
    r = smart.oauth_post("/auth/revoke", {"token": body["refresh_token"], "client_id": "other-app"})
    assert r.status_code in (200, 400)
    assert _reads(world, body["access_token"]) == 200
    assert smart.refresh(body["refresh_token"], "app").status_code == 200


def test_revocation_needs_client_authentication(world: World) -> None:
    smart = world.smart
    body = _login(world)
    r = smart.oauth_post("/auth/revoke", {"token": body["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert _reads(world, body["access_token"]) == 200
