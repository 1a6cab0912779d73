"""SMART discovery over HTTP: .well-known/smart-configuration, OpenID configuration, the
CapabilityStatement's oauth-uris, and which endpoints carry CORS headers (SMART App Launch 2.2
§Conformance; OpenID Connect Discovery 1.0 §4).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
ORIGIN = "https://app.example.org"
REQUIRED_CAPABILITIES = {
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-banner",
    "context-style",
    "permission-offline",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "authorize-post",
}
ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
)


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        yield smart


def _absolute(url: object) -> bool:
    parts = urlsplit(str(url))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", None])
def test_smart_configuration_is_json_whatever_the_accept_header(
    smart: Smart, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    r = httpx.get(f"{smart.fhir}/.well-known/smart-configuration", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/json"
    config = r.json()
    assert config["issuer"] == smart.fhir
    for key in ENDPOINT_KEYS:
        assert _absolute(config[key]), (key, config[key])
    assert config["token_endpoint"] == smart.token_url
    assert set(config["capabilities"]) >= REQUIRED_CAPABILITIES
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_advertised_endpoints_answer(smart: Smart) -> None:
    config = httpx.get(f"{smart.fhir}/.well-known/smart-configuration").json()
    jwks = httpx.get(config["jwks_uri"])
    assert jwks.status_code == 200 and jwks.json()["keys"], jwks.text
    # The token, revocation and introspection endpoints exist (a bare POST is an OAuth error,
    # not a 404 or 405).
    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        r = httpx.post(config[key], data={})
        assert r.status_code in (400, 401), (key, r.status_code)
        assert "error" in r.json()
    r = httpx.get(config["authorization_endpoint"])
    assert r.status_code == 400 and "location" not in r.headers


def test_openid_configuration_lives_under_its_issuer(smart: Smart) -> None:
    smart_config = httpx.get(f"{smart.fhir}/.well-known/smart-configuration").json()
    r = httpx.get(f"{smart_config['issuer']}/.well-known/openid-configuration")
    assert r.status_code == 200
    oidc = r.json()
    assert oidc["issuer"] == smart.fhir
    assert oidc["jwks_uri"] == smart_config["jwks_uri"]
    assert oidc["authorization_endpoint"] == smart_config["authorization_endpoint"]
    assert oidc["token_endpoint"] == smart_config["token_endpoint"]
    assert "RS256" in oidc["id_token_signing_alg_values_supported"]


def test_capability_statement_carries_oauth_uris(smart: Smart) -> None:
    r = httpx.get(f"{smart.fhir}/metadata", headers={"Accept": "application/fhir+json"})
    assert r.status_code == 200
    security = r.json()["rest"][0]["security"]
    uris = next(e for e in security["extension"] if e["url"] == OAUTH_URIS)
    values = {e["url"]: e["valueUri"] for e in uris["extension"]}
    assert values["authorize"] == f"{smart.root}/auth/authorize"
    assert values["token"] == smart.token_url
    assert any(
        c.get("code") == "SMART-on-FHIR"
        for concept in security.get("service", [])
        for c in concept.get("coding", [])
    )


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/.well-known/smart-configuration",
        "/fhir/.well-known/openid-configuration",
        "/fhir/metadata",
        "/auth/jwks",
    ],
)
def test_cors_on_discovery_and_metadata(smart: Smart, path: str) -> None:
    r = httpx.get(f"{smart.root}{path}", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") in ("*", ORIGIN)


def test_cors_on_the_token_endpoint(smart: Smart) -> None:
    preflight = httpx.options(
        smart.token_url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers.get("access-control-allow-origin") in ("*", ORIGIN)
    assert "POST" in preflight.headers.get("access-control-allow-methods", "")
    allowed = preflight.headers.get("access-control-allow-headers", "").lower()
    assert "content-type" in allowed and "authorization" in allowed
    # The actual (failing) POST carries the header too, so the app can read the error.
    r = httpx.post(smart.token_url, data={"grant_type": "nonsense"}, headers={"Origin": ORIGIN})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    assert r.headers.get("access-control-allow-origin") in ("*", ORIGIN)


def test_no_cors_on_the_sign_in_pages(smart: Smart) -> None:
    r = httpx.get(f"{smart.root}/auth/signin?request=nothing", headers={"Origin": ORIGIN})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    preflight = httpx.options(
        f"{smart.root}/auth/signin",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    r = httpx.get(f"{smart.root}/auth/authorize", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers
