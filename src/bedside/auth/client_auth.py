"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
RFC 7523 §2.2, SMART App Launch "Client Authentication" and Backend Services).

Failures are ``invalid_client`` (401) without saying which check failed beyond what a developer
needs; a secret or an assertion never appears in a message.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from bedside.auth.clients import Client, Clients
from bedside.auth.grants import Grants
from bedside.errors import OAuthError

__all__ = ["ASSERTION_ALGORITHMS", "JWT_BEARER", "MAX_ASSERTION_LIFETIME", "ClientAuthenticator"]

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS: Final = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME: Final = 300
_JWKS_TTL: Final = 300.0
_LEEWAY: Final = 30


def _invalid(description: str, *, basic: bool = False) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="bedside"'} if basic else None
    return OAuthError("invalid_client", description, status=401, headers=headers)


class ClientAuthenticator:
    def __init__(
        self,
        clients: Clients,
        grants: Grants,
        token_url: str,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], Any] | None = None,
    ) -> None:
        self.clients = clients
        self.grants = grants
        self.token_url = token_url
        self.clock = clock
        self._fetch = fetch or _fetch_jwks
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def authenticate(self, form: dict[str, str], authorization: str | None) -> Client:
        """The client making this request, authenticated as its registration requires."""
        if authorization and authorization.lower().startswith("basic "):
            return self._basic(authorization[6:].strip(), form)
        if "client_assertion_type" in form or "client_assertion" in form:
            return self._assertion(form)
        client_id = form.get("client_id", "")
        client = self.clients.get(client_id) if client_id else None
        if client is None or client.disabled:
            raise _invalid("Unknown client.")
        if not client.public:
            raise _invalid("This client must authenticate (HTTP Basic or a signed JWT).")
        return client

    def _basic(self, encoded: str, form: dict[str, str]) -> Client:
        try:
            raw = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _invalid("Malformed HTTP Basic credentials.", basic=True) from None
        client_id, sep, secret = raw.partition(":")
        client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
        client = self.clients.get(client_id) if sep else None
        if client is None or client.disabled or not client.secret_matches(secret):
            raise _invalid("Client authentication failed.", basic=True)
        if form.get("client_id") not in (None, client_id):
            raise _invalid("client_id does not match the authenticated client.", basic=True)
        return client

    def _assertion(self, form: dict[str, str]) -> Client:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}.")
        assertion = form.get("client_assertion", "")
        try:  # read iss before verifying: it names the client whose keys verify the rest
            claims = orjson.loads(extract_compact(assertion.encode("ascii")).payload)
            client_id = str(claims.get("iss", "")) if isinstance(claims, dict) else ""
        except (JoseError, ValueError, TypeError, UnicodeEncodeError):
            raise _invalid("The client assertion is not a valid JWT.") from None
        client = self.clients.get(client_id) if client_id else None
        if client is None or client.disabled or client.auth_method != "private_key_jwt":
            raise _invalid("Unknown client, or it does not authenticate with a signed JWT.")
        keys = self._client_keys(client)
        try:
            verified = jwt.decode(assertion, keys, algorithms=list(ASSERTION_ALGORITHMS))
        except (JoseError, ValueError, TypeError):
            if client.jwks_url:  # the client may have rotated its keys: refetch once
                keys = self._client_keys(client, refresh=True)
                try:
                    verified = jwt.decode(assertion, keys, algorithms=list(ASSERTION_ALGORITHMS))
                except (JoseError, ValueError, TypeError):
                    raise _invalid("The client assertion's signature is not valid.") from None
            else:
                raise _invalid("The client assertion's signature is not valid.") from None
        self._check_claims(client, dict(verified.claims), form)
        return client

    def _check_claims(self, client: Client, claims: dict[str, Any], form: dict[str, str]) -> None:
        now = self.clock()
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise _invalid("The assertion's iss and sub must both be the client_id.")
        if form.get("client_id") not in (None, client.client_id):
            raise _invalid("client_id does not match the assertion.")
        aud = claims.get("aud")
        if self.token_url not in (aud if isinstance(aud, list) else [aud]):
            raise _invalid(f"The assertion's aud must be the token endpoint {self.token_url}.")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp + _LEEWAY < now:
            raise _invalid("The client assertion has expired (or has no exp).")
        if exp > now + MAX_ASSERTION_LIFETIME + _LEEWAY:
            raise _invalid("The assertion's exp may be at most five minutes ahead.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _invalid("The client assertion needs a jti.")
        if not self.grants.first_use_of_assertion(client.client_id, jti, exp + _LEEWAY):
            raise _invalid("This client assertion was used before (jti replay).")

    def _client_keys(self, client: Client, *, refresh: bool = False) -> KeySet:
        if client.jwks is not None:
            return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
        url = client.jwks_url or ""
        with self._lock:
            cached = self._jwks.get(url)
        if cached is None or refresh or self.clock() - cached[0] > _JWKS_TTL:
            try:
                document = self._fetch(url)
                keys = KeySet.import_key_set(document)
            except Exception:
                raise _invalid("The client's JWK Set URL could not be read.") from None
            with self._lock:
                self._jwks[url] = (self.clock(), document)
            return keys
        return KeySet.import_key_set(cached[1])  # type: ignore[arg-type]


def _fetch_jwks(url: str) -> Any:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()
