"""The authorization server's audit events, with the real AuditLog on SQLite and PostgreSQL:
sign-in (never the typed password), code exchange, refresh, reuse, revocation, services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bedside.audit.chain import AuditLog
from bedside.audit.verify import verify
from bedside.auth.keys import KeyRing
from bedside.auth.server import AuthConfig, AuthServer
from bedside.auth.token_endpoint import TokenEndpoint
from bedside.auth.users import SignInFailed
from bedside.errors import OAuthError
from bedside.store import Store
from tests.integration._smart import (
    JWT_BEARER,
    client_assertion,
    generate_key,
    pkce_pair,
    public_jwks,
)

ROOT = "http://bedside.test"
FHIR = f"{ROOT}/fhir"
REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def auth(store: Store, tmp_path: Path) -> Iterator[AuthServer]:
    server = AuthServer(
        store,
        KeyRing(tmp_path / "data"),
        AuthConfig(FHIR, ROOT),
        auditor=AuditLog(store, server=FHIR),
    )
    server.users.add("dana", "doctor", PASSWORD, "Practitioner/9")
    server.clients.add(
        "ward-app", redirect_uris=[REDIRECT], scope="openid fhirUser offline_access user/*.rs"
    )
    yield server
    server.auditor.close()  # type: ignore[attr-defined]


def events(store: Store) -> list[tuple[Any, ...]]:
    with store.records() as db:
        return db.rows(
            "SELECT subtype, action, outcome, subject, user_ref, client_id, content"
            " FROM audit_log ORDER BY n"
        )


def code_for(auth: AuthServer) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    req = auth.check_authorization(
        {
            "response_type": "code",
            "client_id": "ward-app",
            "redirect_uri": REDIRECT,
            "state": "s",
            "scope": "openid fhirUser offline_access user/Patient.rs",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "aud": FHIR,
        }
    )
    user = auth.sign_in("dana", PASSWORD, client_id="ward-app", network="10.1.2.3")
    url = auth.complete(req, user, patient=None, deselected=set(), expand=())
    return parse_qs(urlsplit(url).query)["code"][0], verifier


def exchange(auth: AuthServer, code: str, verifier: str) -> dict[str, Any]:
    return TokenEndpoint(auth).token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "ward-app",
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        None,
    )


def refresh(auth: AuthServer, token: str) -> dict[str, Any]:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "ward-app"}
    return TokenEndpoint(auth).token(form, None)


def test_sign_in_success_and_failure_are_audited_without_the_password(
    auth: AuthServer, store: Store
) -> None:
    dana = auth.sign_in("dana", PASSWORD, client_id="ward-app", network="10.1.2.3")
    with pytest.raises(SignInFailed):
        auth.sign_in("dana", "not the password", client_id="ward-app")
    with pytest.raises(SignInFailed):
        auth.sign_in("my-password-typed-as-username", "x", client_id="ward-app")
    rows = events(store)
    assert [r[:6] for r in rows] == [
        ("login", "E", "0", dana.id, "Practitioner/9", "ward-app"),
        ("login", "E", "4", dana.id, None, "ward-app"),
        ("login", "E", "4", None, None, "ward-app"),
    ]
    everything = b"".join(bytes(r[6]) for r in rows)
    assert b"not the password" not in everything
    assert b"my-password-typed-as-username" not in everything
    assert b"dana" not in everything  # the username itself is never recorded
    assert b'"address":"10.1.2.3"' in bytes(rows[0][6])


def test_code_exchange_refresh_and_revocation_are_audited(auth: AuthServer, store: Store) -> None:
    code, verifier = code_for(auth)
    first = exchange(auth, code, verifier)
    second = refresh(auth, first["refresh_token"])
    TokenEndpoint(auth).revoke({"token": second["refresh_token"], "client_id": "ward-app"}, None)
    subtypes = [(r[0], r[2], r[5]) for r in events(store)]
    assert subtypes == [
        ("login", "0", "ward-app"),
        ("token-issue", "0", "ward-app"),
        ("token-refresh", "0", "ward-app"),
        ("token-revoke", "0", "ward-app"),
    ]
    assert all(r[4] == "Practitioner/9" for r in events(store)[1:3])
    with store.records() as db:
        assert verify(db).ok


def test_refresh_token_reuse_is_audited_as_a_serious_failure(
    auth: AuthServer, store: Store
) -> None:
    code, verifier = code_for(auth)
    first = exchange(auth, code, verifier)
    second = refresh(auth, first["refresh_token"])
    refresh(auth, second["refresh_token"])
    with pytest.raises(OAuthError):
        refresh(auth, first["refresh_token"])  # the rotated one, its successor used: reuse
    with pytest.raises(OAuthError):
        refresh(auth, "never-issued")  # unknown: refused, not reuse
    last = events(store)[-1]
    assert last[:3] == ("token-reuse", "E", "8")
    assert [r[0] for r in events(store)].count("token-reuse") == 1


def test_the_retry_of_a_lost_refresh_answer_is_audited_and_reuse_after_it_too(
    auth: AuthServer, store: Store
) -> None:
    code, verifier = code_for(auth)
    first = exchange(auth, code, verifier)
    lost = refresh(auth, first["refresh_token"])
    retry = refresh(auth, first["refresh_token"])  # within the grace, successor unused
    assert retry["refresh_token"] == lost["refresh_token"]
    refresh(auth, retry["refresh_token"])  # the successor is used ...
    with pytest.raises(OAuthError):
        refresh(auth, first["refresh_token"])  # ... so the old one again is reuse
    rows = events(store)
    assert [(r[0], r[2]) for r in rows[-4:]] == [
        ("token-refresh", "0"),
        ("token-refresh", "0"),
        ("token-refresh", "0"),
        ("token-reuse", "8"),
    ]
    said = [b"retry within the refresh grace" in bytes(r[6]) for r in rows[-4:-1]]
    assert said == [False, True, False]
    everything = b"".join(bytes(r[6]) for r in rows)
    assert first["refresh_token"].encode() not in everything
    assert lost["refresh_token"].encode() not in everything
    with store.records() as db:
        assert verify(db).ok


def test_authorization_code_reuse_is_audited(auth: AuthServer, store: Store) -> None:
    code, verifier = code_for(auth)
    exchange(auth, code, verifier)
    with pytest.raises(OAuthError):
        exchange(auth, code, verifier)
    assert events(store)[-1][:3] == ("token-reuse", "E", "8")


def test_a_service_token_is_audited_with_the_client_as_subject(
    auth: AuthServer, store: Store
) -> None:
    key = generate_key("RS384")
    auth.clients.add(
        "lab-feed", redirect_uris=[], jwks=public_jwks(key), backend=True, scope="system/*.rs"
    )
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.rs",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": client_assertion(key, "lab-feed", f"{ROOT}/auth/token"),
    }
    TokenEndpoint(auth).token(form, None)
    (row,) = events(store)
    assert row[:6] == ("token-issue", "E", "0", "lab-feed", None, "lab-feed")
    assert b'"system":"urn:ietf:params:oauth:client-id","value":"lab-feed"' in bytes(row[6])
