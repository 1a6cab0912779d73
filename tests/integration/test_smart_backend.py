"""SMART Backend Services over HTTP: client_credentials with an RFC 7523 client assertion signed
by an RS384 or ES384 key the service registered (as a JWK Set file or URL).

Keys are generated at run time; the JWK Set URL is served by a stdlib HTTP server on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import (
    JWT_BEARER,
    AssertionKey,
    Smart,
    client_assertion,
    generate_key,
    public_jwks,
    serve_json,
    smart_server,
)


@dataclass
class World:
    smart: Smart
    patient: str
    keys: dict[str, AssertionKey]  # client_id -> its private key


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    rsa, ec, published = generate_key("RS384"), generate_key("ES384"), generate_key("RS384")
    with (
        serve_json(public_jwks(published)) as jwks_url,
        smart_server(tmp_path_factory, str(request.param)) as smart,
    ):
        patient = smart.create_patient("Haddad", "Omar")
        smart.add_backend("svc-rsa", jwks=public_jwks(rsa))
        smart.add_backend("svc-ec", jwks=public_jwks(ec))
        smart.add_backend("svc-url", jwks_url=jwks_url)
        smart.add_app("app")
        keys = {"svc-rsa": rsa, "svc-ec": ec, "svc-url": published}
        yield World(smart, patient, keys)


def _token(
    world: World,
    client_id: str = "svc-rsa",
    *,
    assertion: str | None = None,
    scope: str = "system/*.rs",
    **form: str,
) -> httpx.Response:
    if assertion is None:
        assertion = client_assertion(world.keys[client_id], client_id, world.smart.token_url)
    body = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        **form,
    }
    return httpx.post(world.smart.token_url, data=body, timeout=30.0)


def _assert_invalid_client(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    assert "access_token" not in r.json()


def _assert_valid(world: World, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 300
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert body["scope"].split() == ["system/*.rs"]
    return body


@pytest.mark.parametrize("client_id", ["svc-rsa", "svc-ec", "svc-url"])
def test_a_valid_assertion_gets_a_token_that_reads_data(world: World, client_id: str) -> None:
    body = _assert_valid(world, _token(world, client_id))
    smart = world.smart
    r = smart.get(f"/Patient/{world.patient}", body["access_token"])
    assert r.status_code == 200
    assert r.json()["id"] == world.patient
    r = smart.get("/Patient", body["access_token"], family="Haddad")
    assert r.status_code == 200
    assert world.patient in {e["resource"]["id"] for e in r.json().get("entry", [])}
    # system/*.rs reads and searches; it does not write.
    with smart.fhir_client(body["access_token"]) as c:
        r = c.post(
            "/Patient",
            json={"resourceType": "Patient", "name": [{"family": "Nope"}]},
            headers={"Content-Type": "application/fhir+json"},
        )
    assert r.status_code == 403


def test_a_wider_scope_is_narrowed_to_the_registration(world: World) -> None:
    body = _assert_valid(world, _token(world, scope="system/*.cruds"))
    assert body["scope"] == "system/*.rs"


def test_non_system_scopes_are_refused(world: World) -> None:
    r = _token(world, scope="patient/*.rs")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_bad_grant_type(world: World) -> None:
    r = _token(world, grant_type="password")
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    r = _token(world, grant_type="")
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_bad_client_assertion_type(world: World) -> None:
    r = _token(
        world, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    )
    assert r.status_code in (400, 401)
    assert r.json()["error"] in ("invalid_request", "invalid_client")
    assert "access_token" not in r.json()


@pytest.mark.parametrize(
    "garbage", ["garbage", "a.b.c", "", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJzdmMtcnNhIn0."]
)
def test_garbage_assertion(world: World, garbage: str) -> None:
    _assert_invalid_client(_token(world, assertion=garbage))


def test_wrong_audience(world: World) -> None:
    key = world.keys["svc-rsa"]
    for aud in (world.smart.fhir, f"{world.smart.root}/auth/introspect", "https://x.example/token"):
        _assert_invalid_client(_token(world, assertion=client_assertion(key, "svc-rsa", aud)))


def test_expired_assertion(world: World) -> None:
    key, now = world.keys["svc-rsa"], time.time()
    assertion = client_assertion(key, "svc-rsa", world.smart.token_url, now=now - 600)
    _assert_invalid_client(_token(world, assertion=assertion))


def test_assertion_expiring_more_than_five_minutes_ahead(world: World) -> None:
    key = world.keys["svc-rsa"]
    assertion = client_assertion(key, "svc-rsa", world.smart.token_url, lifetime=600)
    _assert_invalid_client(_token(world, assertion=assertion))


def test_jti_replay(world: World) -> None:
    assertion = client_assertion(world.keys["svc-ec"], "svc-ec", world.smart.token_url)
    _assert_valid(world, _token(world, "svc-ec", assertion=assertion))
    _assert_invalid_client(_token(world, "svc-ec", assertion=assertion))


def test_assertion_signed_by_another_key(world: World) -> None:
    stranger = generate_key("RS384")
    assertion = client_assertion(stranger, "svc-rsa", world.smart.token_url)
    _assert_invalid_client(_token(world, assertion=assertion))
    # svc-url's keys are fetched from its URL; a key not published there fails too.
    assertion = client_assertion(stranger, "svc-url", world.smart.token_url)
    _assert_invalid_client(_token(world, "svc-url", assertion=assertion))


def test_assertion_with_a_disallowed_algorithm(world: World) -> None:
    assertion = client_assertion(
        world.keys["svc-rsa"], "svc-rsa", world.smart.token_url, alg="RS256"
    )
    _assert_invalid_client(_token(world, assertion=assertion))


def test_assertion_iss_and_sub_must_be_the_client(world: World) -> None:
    key = world.keys["svc-rsa"]
    assertion = client_assertion(key, "svc-rsa", world.smart.token_url, sub="someone-else")
    _assert_invalid_client(_token(world, assertion=assertion))
    # Claiming to be svc-ec while signing with svc-rsa's key.
    assertion = client_assertion(key, "svc-ec", world.smart.token_url)
    _assert_invalid_client(_token(world, "svc-ec", assertion=assertion))


def test_a_public_app_cannot_use_client_credentials(world: World) -> None:
    r = httpx.post(
        world.smart.token_url,
        data={"grant_type": "client_credentials", "scope": "system/*.rs", "client_id": "app"},
    )
    assert r.status_code in (400, 401)
    assert r.json()["error"] in ("unauthorized_client", "invalid_client")


def test_a_backend_service_cannot_use_the_browser_flow(world: World) -> None:
    with world.smart.browser() as b:
        params = world.smart.authorize_params(
            "svc-rsa", "system/*.rs", challenge="A" * 43, state="s"
        )
        r = b.get("/auth/authorize", params=params)
    assert r.status_code == 400
    assert "location" not in r.headers
