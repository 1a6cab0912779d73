"""How Bedside authenticates to an upstream FHIR server: a bearer token, or SMART Backend
Services (SMART App Launch 2.x "Backend Services": ``client_credentials`` with a signed JWT
client assertion, RFC 7523 §2.2, RS384 or ES384 over the configured PEM key).

A backend-services token is cached until 30 s before it expires and fetched again after.
"""

from __future__ import annotations

import secrets
import threading
import time

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from bedside.upstream.config import FhirSource, UpstreamError

__all__ = ["JWT_BEARER", "Credentials"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Credentials:
    def __init__(self, source: FhirSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def token(self, http: httpx.Client) -> str | None:
        """The bearer token to send now (None: the source takes unauthenticated reads)."""
        if self.source.client_id is None:
            return self.source.bearer()
        with self._lock:
            if self._token is None or time.time() > self._expires - 30:
                self._token, lifetime = self._fetch(http)
                self._expires = time.time() + lifetime
            return self._token

    def _fetch(self, http: httpx.Client) -> tuple[str, int]:
        src = self.source
        assert src.private_key is not None and src.token_url is not None and src.client_id
        try:
            pem = src.private_key.read_bytes()
        except OSError as exc:
            raise UpstreamError(
                f"Source {src.name}: cannot read the private key ({exc.strerror})."
            ) from None
        try:
            key: RSAKey | ECKey = RSAKey.import_key(pem)
            alg = "RS384"
        except ValueError:
            try:
                key = ECKey.import_key(pem)
                alg = "ES384"
            except ValueError:
                raise UpstreamError(
                    f"Source {src.name}: the private key is neither an RSA nor an EC PEM key."
                ) from None
        now = int(time.time())
        claims = {
            "iss": src.client_id,
            "sub": src.client_id,
            "aud": src.token_url,
            "exp": now + 240,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
        }
        header = {"alg": alg, "typ": "JWT", "kid": src.key_id or key.thumbprint()}
        assertion = jwt.encode(header, claims, key, algorithms=[alg])
        try:
            resp = http.post(
                src.token_url,
                data={
                    "grant_type": "client_credentials",
                    "scope": src.scope,
                    "client_assertion_type": JWT_BEARER,
                    "client_assertion": assertion,
                },
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Source {src.name}: the token endpoint could not be reached "
                f"({type(exc).__name__})."
            ) from None
        if resp.status_code != 200:
            raise UpstreamError(
                f"Source {src.name}: the token endpoint refused the credentials "
                f"({resp.status_code})."
            )
        try:
            body = orjson.loads(resp.content)
            return str(body["access_token"]), int(body.get("expires_in", 300))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise UpstreamError(
                f"Source {src.name}: the token endpoint's answer is not a token."
            ) from None
