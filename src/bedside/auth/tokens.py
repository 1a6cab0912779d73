"""Server-signed JWTs (RFC 7519): access tokens for SMART apps, services and the operator, and
OpenID Connect id_tokens.

Access tokens (RFC 9068 shape, ``typ: at+jwt``) carry ``iss`` (the FHIR base URL, which is also
the OpenID issuer), ``sub``, ``aud`` (the FHIR base URL), ``iat``, ``exp``, ``jti``, ``scope`` and,
for SMART grants, ``client_id``, ``sid`` (the grant), ``patient``, ``fhirUser``, ``role``,
``auth_time`` and, once the grant is bound to a registered device, ``device``.
Verification checks the signature against the server's keys, the algorithm, expiry, issuer and
audience, and, for tokens of a grant, that the grant is still live (revocation is immediate).
Any failure is a 401 that says only what the client needs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.auth.scopes import ScopeSet
from bedside.errors import InvalidRequest, Unauthorized

__all__ = ["MAX_OPERATOR_TTL", "decode", "id_token", "issue", "missing_token", "verify"]

MAX_OPERATOR_TTL: Final = 24 * 3600
_LEEWAY: Final = 30


def _sign(keys: SigningKeys, claims: dict[str, Any], typ: str) -> str:
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": typ}
    return jwt.encode(header, claims, keys.signing)


def issue(
    keys: SigningKeys,
    *,
    subject: str,
    audience: str,
    scope: str,
    ttl: int,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign an access token for ``audience`` (the FHIR base, also the issuer)."""
    ScopeSet.parse(scope)
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": audience,
        "sub": subject,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
    }
    claims.update({k: v for k, v in (extra or {}).items() if v is not None})
    return _sign(keys, claims, "at+jwt")


def id_token(
    keys: SigningKeys,
    *,
    issuer: str,
    subject: str,
    client_id: str,
    fhir_user: str | None,
    nonce: str | None,
    ttl: int,
    now: float | None = None,
) -> str:
    """An OpenID Connect id_token (RS256) with SMART's ``fhirUser`` claim (an absolute URL)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "iat": issued,
        "exp": issued + ttl,
        "auth_time": issued,
    }
    if fhir_user:
        claims["fhirUser"] = f"{issuer}/{fhir_user}"
    if nonce:
        claims["nonce"] = nonce
    return _sign(keys, claims, "JWT")


def _challenge(error: str, description: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": f'Bearer realm="bedside", error="{error}", '
        f'error_description="{description}"'
    }


def decode(
    keys: SigningKeys, token: str, *, audience: str, now: float | None = None
) -> dict[str, Any]:
    """The claims of a valid access token issued by this server for ``audience``."""
    try:
        decoded = jwt.decode(token, keys.all, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        raise Unauthorized(
            "The access token is not valid.",
            headers=_challenge("invalid_token", "signature or format invalid"),
        ) from None
    if decoded.header.get("typ") != "at+jwt":  # an id_token is not an access token
        raise Unauthorized(
            "The access token is not valid.",
            headers=_challenge("invalid_token", "not an access token"),
        )
    claims = dict(decoded.claims)
    current = now if now is not None else time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + _LEEWAY < current:
        raise Unauthorized(
            "The access token has expired.", headers=_challenge("invalid_token", "token expired")
        )
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or nbf - _LEEWAY > current):
        # RFC 7519 §4.1.5: a token must not be accepted before its "nbf" time.
        raise Unauthorized(
            "The access token is not valid yet.",
            headers=_challenge("invalid_token", "token not yet valid"),
        )
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences or claims.get("iss") != audience:
        raise Unauthorized(
            "The access token was not issued for this server.",
            headers=_challenge("invalid_token", "wrong audience"),
        )
    return claims


def verify(
    keys: SigningKeys,
    token: str,
    *,
    audience: str,
    now: float | None = None,
    grant_active: Callable[[str], bool] | None = None,
) -> Caller:
    """The Caller a bearer token stands for, or Unauthorized (401).

    ``grant_active`` answers whether a grant id (claim ``sid``) is still live; a token with a
    ``sid`` is refused when there is no way to check it.
    """
    claims = decode(keys, token, audience=audience, now=now)
    sid = claims.get("sid")
    if sid is not None and (grant_active is None or not grant_active(str(sid))):
        raise Unauthorized(
            "The access token has been revoked.",
            headers=_challenge("invalid_token", "token revoked"),
        )
    try:
        scopes = ScopeSet.parse(str(claims.get("scope", "")))
    except InvalidRequest:
        raise Unauthorized(
            "The access token carries invalid scopes.",
            headers=_challenge("invalid_token", "invalid scope"),
        ) from None
    return Caller(
        subject=str(claims.get("sub", "")),
        scopes=scopes,
        client_id=_text(claims.get("client_id")),
        patient=_text(claims.get("patient")),
        fhir_user=_text(claims.get("fhirUser")),
        role=_text(claims.get("role")),
        grant_id=_text(sid),
        auth_time=claims["auth_time"] if isinstance(claims.get("auth_time"), int) else None,
        device=_text(claims.get("device")),
    )


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def missing_token() -> Unauthorized:
    return Unauthorized(
        "This request needs a bearer token (Authorization: Bearer ...).",
        headers={"WWW-Authenticate": 'Bearer realm="bedside"'},
    )
