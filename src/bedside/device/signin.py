"""The pieces of a native app's sign-in that need no network: the server's address, PKCE, the
authorization URL, token checks and the token response as a value.

The device app is the public client ``bedside-device`` (no secret it could keep; RFC 8252 §8.4)
that the server registers at start. It asks for ``openid fhirUser`` (who signed in),
``offline_access`` (a refresh token, so the device can renew its policy snapshot and sync
without a new sign-in) and ``user/*.cruds`` (the user's own permissions, narrowed by the
server's policy). :class:`bedside.device.remote.Remote` runs the flow over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
import webbrowser
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bedside.device.clock import TOLERANCE, ServerClock
from bedside.device.errors import DeviceError

__all__ = [
    "CLIENT_ID",
    "SCOPE",
    "SIGN_IN_TIMEOUT",
    "Tokens",
    "authorize_url",
    "browser_available",
    "fhir_base_of",
    "jwt_claims",
    "pkce_pair",
    "tokens_from",
]

CLIENT_ID: Final = "bedside-device"
SCOPE: Final = "openid fhirUser offline_access user/*.cruds"
SIGN_IN_TIMEOUT: Final = 300.0


@dataclass(frozen=True)
class Tokens:
    """A token response, with the identity it stands for. ``repr`` shows no secret."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    scope: str
    subject: str  # the user id (``sub``)
    fhir_user: str | None  # e.g. "Practitioner/9" (relative), from the access token
    device: str | None  # the ``device`` claim: the grant is bound to this device
    auth_time: int | None  # when the user signed in for this grant (UNIX seconds)
    id_claims: dict[str, Any] = field(default_factory=dict, repr=False)


def fhir_base_of(server: str) -> str:
    """The FHIR base URL for what a user typed: the base itself or the server's root URL."""
    url = server.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeviceError(f"'{server}' is not an http(s) URL of a Bedside server.")
    if parts.query or parts.fragment:
        raise DeviceError("Give the server's address without a query or fragment.")
    return url if url.endswith("/fhir") else url + "/fhir"


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    challenge: str,
    nonce: str,
    aud: str,
) -> str:
    """The authorization request (RFC 6749 §4.1.1) with PKCE and SMART's ``aud``."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "aud": aud,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{endpoint}?{urlencode(query, quote_via=quote)}"


def browser_available() -> bool:
    """Whether a graphical browser can plausibly be opened (not on a headless Linux box)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def jwt_claims(
    token: str, jwks: dict[str, Any], typ: str, issuer: str, clock: ServerClock
) -> dict[str, Any] | None:
    """The claims of an RS256 JWT from ``issuer`` signed by a key of ``jwks``; else None.

    ``typ`` keeps an id_token (``JWT``) and an access token (``at+jwt``, RFC 9068) apart.
    ``exp`` is checked against the server's clock, learned from the token's own signed ``iat``
    once the signature holds (:meth:`~bedside.device.clock.ServerClock.for_token`), with
    :data:`~bedside.device.clock.TOLERANCE` of leeway.
    """
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    claims = dict(decoded.claims)
    exp = claims.get("exp")
    if decoded.header.get("typ") != typ or claims.get("iss") != issuer:
        return None
    if not isinstance(exp, int) or exp + TOLERANCE < clock.for_token(claims.get("iat")):
        return None
    return claims


def tokens_from(
    body: dict[str, Any], access: str, claims: dict[str, Any], id_claims: dict[str, Any]
) -> Tokens:
    """The token response ``body`` as a value, given its verified access-token claims."""
    refresh = body.get("refresh_token")
    auth_time = claims.get("auth_time")
    return Tokens(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) else None,
        expires_at=float(claims["exp"]),
        scope=str(body.get("scope", "")),
        subject=str(claims.get("sub", "")),
        fhir_user=_text(claims.get("fhirUser")),
        device=_text(claims.get("device")),
        auth_time=auth_time if isinstance(auth_time, int) else None,
        id_claims=id_claims,
    )


def _text(value: object) -> str | None:
    return str(value) if value is not None else None
