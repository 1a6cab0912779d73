"""The authorization code flow over HTTP: PKCE, request validation, client authentication,
one-time codes, the token response and the OpenID Connect id_token (SMART App Launch 2.2
"App Launch: Launch and Authorization"; RFC 6749 §4.1, RFC 7636, OpenID Connect Core §2).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import BACKENDS
from tests.integration._smart import (
    PASSWORD,
    REDIRECT,
    Smart,
    pkce_pair,
    redirect_params,
    smart_server,
)

SCOPE = "launch/patient openid fhirUser patient/*.rs"


@dataclass
class World:
    smart: Smart
    patient: str  # the Patient id of user "alice"
    secret: str  # the confidential app's client secret


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        patient = smart.create_patient("Lindqvist", "Alice")
        smart.add_user("alice", "patient", f"Patient/{patient}")
        smart.add_app("app")
        secret = smart.add_confidential_app("conf-app")
        yield World(smart, patient, secret)


def _header(token: str) -> dict[str, object]:
    segment = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def _authorize(smart: Smart, **overrides: str | None) -> httpx.Response:
    _, challenge = pkce_pair()
    params = smart.authorize_params("app", SCOPE, challenge=challenge, state="s-123")
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    with smart.browser() as b:
        return b.get("/auth/authorize", params=params)


def _assert_error_redirect(r: httpx.Response, error: str) -> None:
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    assert location.startswith(REDIRECT + "?"), location
    params = redirect_params(r)
    assert params["error"] == error, params
    assert "code" not in params
    assert params["state"] == "s-123"


# --- PKCE ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"code_challenge": None}, id="missing-challenge"),
        pytest.param({"code_challenge": ""}, id="blank-challenge"),
        pytest.param({"code_challenge_method": "plain"}, id="plain-method"),
        pytest.param({"code_challenge_method": None}, id="missing-method"),
        pytest.param({"code_challenge": "too-short"}, id="short-challenge"),
    ],
)
def test_authorize_refuses_missing_or_weak_pkce(world: World, overrides: dict[str, str]) -> None:
    _assert_error_redirect(_authorize(world.smart, **overrides), "invalid_request")


@pytest.mark.parametrize("bad", ["missing", "blank", "wrong", "challenge"])
def test_token_endpoint_refuses_a_bad_code_verifier(world: World, bad: str) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "alice", SCOPE)
    verifier = {
        "missing": None,
        "blank": "",
        "wrong": pkce_pair()[0],
        # The challenge itself as the verifier: what a "plain" downgrade would send.
        "challenge": flow.challenge,
    }[bad]
    r = smart.redeem(flow.code, verifier, "app")
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert "access_token" not in r.json()


# --- request validation --------------------------------------------------------------------------


def test_wrong_aud_is_sent_back_without_a_code(world: World) -> None:
    _assert_error_redirect(
        _authorize(world.smart, aud="https://other.example.org/fhir"), "invalid_request"
    )
    _assert_error_redirect(_authorize(world.smart, aud=None), "invalid_request")


def test_wrong_response_type_is_sent_back(world: World) -> None:
    _assert_error_redirect(
        _authorize(world.smart, response_type="token"), "unsupported_response_type"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"client_id": "no-such-app"}, id="unknown-client"),
        pytest.param({"client_id": None}, id="no-client"),
        pytest.param({"redirect_uri": "https://evil.example.org/cb"}, id="foreign-redirect"),
        pytest.param({"redirect_uri": REDIRECT + "/more"}, id="longer-redirect"),
        pytest.param({"redirect_uri": REDIRECT + "?x=1"}, id="redirect-with-query"),
        pytest.param({"redirect_uri": None}, id="no-redirect"),
    ],
)
def test_bad_client_or_redirect_uri_is_never_redirected(
    world: World, overrides: dict[str, str]
) -> None:
    r = _authorize(world.smart, **overrides)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")


def test_unknown_client_at_the_token_endpoint_is_invalid_client(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "alice", SCOPE)
    r = smart.redeem(flow.code, flow.verifier, "no-such-app")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    # The failed attempt did not consume the code: its rightful client still redeems it.
    assert smart.redeem(flow.code, flow.verifier, "app").status_code == 200


def test_confidential_client_with_a_wrong_secret_is_invalid_client(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("conf-app", "alice", SCOPE)
    r = smart.redeem(flow.code, flow.verifier, "conf-app", secret=world.secret[:-1] + "x")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].lower().startswith("basic")
    # Without any authentication a confidential client is refused too.
    r = smart.redeem(flow.code, flow.verifier, "conf-app")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    r = smart.redeem(flow.code, flow.verifier, "conf-app", secret=world.secret)
    assert r.status_code == 200, r.text
    assert r.json()["patient"] == world.patient


def test_a_code_is_redeemed_once_and_reuse_revokes_its_tokens(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "alice", SCOPE)
    first = smart.redeem(flow.code, flow.verifier, "app")
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    assert smart.get(f"/Patient/{world.patient}", token).status_code == 200
    second = smart.redeem(flow.code, flow.verifier, "app")
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    r = smart.get(f"/Patient/{world.patient}", token)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_code_is_bound_to_its_client_and_redirect_uri(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "alice", SCOPE)
    r = smart.redeem(flow.code, flow.verifier, "app", redirect_uri="http://127.0.0.1:9/other")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    flow = smart.browser_flow("app", "alice", SCOPE)
    r = smart.redeem(flow.code, flow.verifier, "conf-app", secret=world.secret)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_an_invented_code_is_invalid_grant(world: World) -> None:
    verifier, _ = pkce_pair()
    r = world.smart.redeem("not-a-code", verifier, "app")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_a_sign_in_cannot_be_continued_from_another_browser(world: World) -> None:
    smart = world.smart
    with smart.browser() as b:
        r = b.get(
            "/auth/authorize",
            params=smart.authorize_params("app", SCOPE, challenge=pkce_pair()[1], state="s"),
        )
        assert r.status_code == 303
        rid = r.headers["location"].split("request=")[1]
    with smart.browser() as other:  # no cookie for this request
        assert other.get(f"/auth/signin?request={rid}").status_code == 400
        r = other.post(
            "/auth/signin", data={"request": rid, "username": "alice", "password": PASSWORD}
        )
        assert r.status_code == 400
        assert "location" not in r.headers
        r = other.post("/auth/consent", data={"request": rid, "decision": "allow"})
        assert r.status_code == 400
        assert "location" not in r.headers


def test_consent_needs_a_signed_in_user(world: World) -> None:
    smart = world.smart
    with smart.browser() as b:
        r = b.get(
            "/auth/authorize",
            params=smart.authorize_params("app", SCOPE, challenge=pkce_pair()[1], state="s"),
        )
        rid = r.headers["location"].split("request=")[1]
        r = b.post("/auth/consent", data={"request": rid, "decision": "allow"})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/auth/signin")


def test_denying_consent_sends_access_denied(world: World) -> None:
    flow = world.smart.browser_flow("app", "alice", SCOPE, decision="deny")
    assert flow.location.startswith(REDIRECT + "?")
    assert flow.params["error"] == "access_denied"
    assert flow.params["state"] == flow.state
    assert "code" not in flow.params


# --- the token response --------------------------------------------------------------------------


def test_token_response(world: World) -> None:
    smart = world.smart
    flow = smart.browser_flow("app", "alice", SCOPE)
    assert flow.location.startswith(REDIRECT + "?")
    r = smart.redeem(flow.code, flow.verifier, "app")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["access_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert set(body["scope"].split()) == set(SCOPE.split())
    assert body["patient"] == world.patient
    assert body["need_patient_banner"] is True
    assert "refresh_token" not in body  # neither offline_access nor online_access was asked
    style = httpx.get(body["smart_style_url"])
    assert style.status_code == 200
    assert style.json()["color_background"].startswith("#")
    patient = smart.get(f"/Patient/{body['patient']}", body["access_token"])
    assert patient.status_code == 200
    assert patient.json()["id"] == world.patient


def test_requests_without_a_token_are_401_with_a_challenge(world: World) -> None:
    smart = world.smart
    for token in (None, "not-a-jwt"):
        r = smart.get(f"/Patient/{world.patient}", token)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_authorize_by_post(world: World) -> None:
    smart = world.smart
    body = smart.login("app", "alice", SCOPE, method="POST")
    assert body["patient"] == world.patient
    assert smart.get(f"/Patient/{world.patient}", body["access_token"]).status_code == 200


@pytest.mark.parametrize("state", ["plain", "a b+c/d?e=f&g=%20~é", "x" * 300])
def test_state_is_echoed_exactly(world: World, state: str) -> None:
    flow = world.smart.browser_flow("app", "alice", SCOPE, state=state)
    assert flow.params["state"] == state
    assert "code" in flow.params
    r = _authorize(world.smart, state=state, code_challenge=None)
    assert redirect_params(r)["state"] == state


# --- OpenID Connect ------------------------------------------------------------------------------


def test_id_token(world: World) -> None:
    smart = world.smart
    body = smart.login("app", "alice", SCOPE, nonce="n-0S6_WzA2Mj")
    id_token = body["id_token"]
    header = _header(id_token)
    assert header["alg"] == "RS256"
    jwks = httpx.get(f"{smart.root}/auth/jwks").json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"])  # public keys only
    claims = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"]).claims
    assert claims["iss"] == smart.fhir
    assert claims["aud"] == "app" or claims["aud"] == ["app"]
    assert claims["sub"]
    assert claims["iat"] <= claims["exp"]
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    fhir_user = claims["fhirUser"]
    assert fhir_user == f"{smart.fhir}/Patient/{world.patient}"
    assert urlsplit(fhir_user).scheme == "http" and urlsplit(fhir_user).netloc
    with smart.fhir_client(body["access_token"]) as c:
        r = c.get(fhir_user)
    assert r.status_code == 200
    assert r.json()["resourceType"] == "Patient"
    assert r.json()["id"] == world.patient


def test_id_token_is_not_an_access_token(world: World) -> None:
    smart = world.smart
    body = smart.login("app", "alice", SCOPE)
    r = smart.get(f"/Patient/{world.patient}", body["id_token"])
    assert r.status_code == 401


def test_no_id_token_without_openid(world: World) -> None:
    body = world.smart.login("app", "alice", "launch/patient patient/Patient.rs")
    assert "id_token" not in body
    assert set(body["scope"].split()) == {"patient/Patient.rs", "launch/patient"}
