"""The policy snapshot as both ends know it: its type, versions, claims and verification.

The server builds and signs a snapshot (:mod:`bedside.policy.snapshot`): JWT claims (RFC 7519)
in a compact JWS (RFC 7515) signed RS256 by its current key, typed ``bedside-policy+jwt`` so it
can never be mistaken for (or replayed as) an access token. A device verifies it here against the
server's JWKS and enforces it until ``exp``. docs/policy-snapshot.md describes every claim.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bedside.errors import Unauthorized

__all__ = [
    "BREAK_GLASS_PURPOSE",
    "NBF_LEEWAY",
    "RESOURCES_VERSION",
    "SUPPORTED_VERSIONS",
    "TYP",
    "VERSION",
    "VERSION_CLAIM",
    "VOLATILE",
    "KeyHolder",
    "NotYetValid",
    "verify_snapshot",
]

TYP: Final = "bedside-policy+jwt"
#: The claim that names the snapshot's format version.
VERSION_CLAIM: Final = "bedside_policy_version"
VERSION: Final = 1
#: The format of a snapshot whose consent entries name particular resources (``resources``):
#: a device that knows only VERSION refuses it rather than show the patient's whole type.
RESOURCES_VERSION: Final = 2
SUPPORTED_VERSIONS: Final = frozenset({VERSION, RESOURCES_VERSION})
#: purposeOfUse code (v3-ActReason) a device must record on every access under break-glass.
BREAK_GLASS_PURPOSE: Final = "BTG"
#: How far ahead of the device's clock ``nbf`` may be (a device clock a little behind).
NBF_LEEWAY: Final = 60
#: Claims that change at every signing and say nothing about access.
VOLATILE: Final = frozenset({"iat", "nbf", "exp", "jti"})


class KeyHolder(Protocol):
    """Anything holding a key set as ``all`` (the server's signing keys)."""

    @property
    def all(self) -> KeySet: ...


def verify_snapshot(
    token: str,
    keys_or_jwks: KeyHolder | KeySet | dict[str, Any],
    *,
    now: float,
    issuer: str | None = None,
    expired_ok: bool = False,
) -> dict[str, Any]:
    """The claims of a valid snapshot, or Unauthorized saying why it cannot be used.

    ``expired_ok`` is for a device deciding what an expired snapshot still allows (read-only,
    then locked; docs/device.md): the signature and everything else are checked all the same.

    ``keys_or_jwks`` is the server's keys, or the JWK Set a device fetched from ``/auth/jwks``.
    The snapshot is refused at ``exp`` exactly (no leeway: offline rights end on time) and
    before ``nbf`` less a minute of clock skew.
    """
    keys = _key_set(keys_or_jwks)
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError):
        raise _invalid("its signature or format is invalid") from None
    if decoded.header.get("typ") != TYP:
        raise _invalid("it is not a policy snapshot")
    claims = dict(decoded.claims)
    if claims.get(VERSION_CLAIM) not in SUPPORTED_VERSIONS:
        raise _invalid("its format version is not supported")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int) or not isinstance(nbf, int):
        raise _invalid("it has no validity period")
    if now >= exp and not expired_ok:
        raise _invalid("it has expired")
    if now + NBF_LEEWAY < nbf:
        raise NotYetValid(nbf)
    if issuer is not None and claims.get("iss") != issuer:
        raise _invalid("it was issued by another server")
    return claims


class NotYetValid(Unauthorized):
    """A snapshot refused because its ``nbf`` lies ahead of the clock it was checked against
    (a device can then say its clock is behind)."""

    def __init__(self, nbf: int) -> None:
        super().__init__("The policy snapshot cannot be used: it is not valid yet.")
        self.nbf = nbf


def _key_set(value: KeyHolder | KeySet | dict[str, Any]) -> KeySet:
    if isinstance(value, KeySet):
        return value
    held = getattr(value, "all", None)  # the server's signing keys
    if isinstance(held, KeySet):
        return held
    try:
        return KeySet.import_key_set(value)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise _invalid("the key set cannot be read") from None


def _invalid(why: str) -> Unauthorized:
    return Unauthorized(f"The policy snapshot cannot be used: {why}.")
