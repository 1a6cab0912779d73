"""Server-signed bearer tokens (JWT, RFC 7519) for the operator and, later, SMART clients.

A token carries ``iss``, ``sub``, ``aud`` (the FHIR base URL), ``iat``, ``exp``, ``jti`` and
``scope``. Verification checks the signature against the server's keys, the algorithm, expiry
and audience, and parses the scopes; any failure is a 401 that says only what the client needs.
"""

from __future__ import annotations

import secrets
import time
from typing import Final

from joserfc import jwt
from joserfc.errors import JoseError

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.auth.scopes import ScopeSet
from bedside.errors import InvalidRequest, Unauthorized

ISSUER: Final = "bedside"
MAX_OPERATOR_TTL: Final = 24 * 3600
_LEEWAY: Final = 30


def issue(
    keys: SigningKeys,
    *,
    subject: str,
    audience: str,
    scope: str,
    ttl: int,
    now: float | None = None,
) -> str:
    """Sign an access token. ``scope`` must parse as SMART scopes."""
    ScopeSet.parse(scope)
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
    }
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": "at+jwt"}
    return jwt.encode(header, claims, keys.signing)


def _challenge(error: str, description: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": f'Bearer realm="bedside", error="{error}", '
        f'error_description="{description}"'
    }


def verify(keys: SigningKeys, token: str, *, audience: str, now: float | None = None) -> Caller:
    """The Caller a bearer token stands for, or Unauthorized (401)."""
    try:
        decoded = jwt.decode(token, keys.all, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        raise Unauthorized(
            "The access token is not valid.",
            headers=_challenge("invalid_token", "signature or format invalid"),
        ) from None
    claims = decoded.claims
    current = now if now is not None else time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + _LEEWAY < current:
        raise Unauthorized(
            "The access token has expired.", headers=_challenge("invalid_token", "token expired")
        )
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences or claims.get("iss") != ISSUER:
        raise Unauthorized(
            "The access token was not issued for this server.",
            headers=_challenge("invalid_token", "wrong audience"),
        )
    try:
        scopes = ScopeSet.parse(str(claims.get("scope", "")))
    except InvalidRequest:
        raise Unauthorized(
            "The access token carries invalid scopes.",
            headers=_challenge("invalid_token", "invalid scope"),
        ) from None
    return Caller(subject=str(claims.get("sub", "")), scopes=scopes)


def missing_token() -> Unauthorized:
    return Unauthorized(
        "This request needs a bearer token (Authorization: Bearer ...).",
        headers={"WWW-Authenticate": 'Bearer realm="bedside"'},
    )
