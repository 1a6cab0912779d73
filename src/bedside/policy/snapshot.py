"""The signed offline policy snapshot: what a device may let its user do while disconnected.

A device that loses the network cannot ask the server for each decision, so it asks once, while
online, for ``GET /policy/snapshot``: the caller's :class:`~bedside.policy.model.AccessView`
turned into JWT claims (RFC 7519), signed RS256 by the server's current key with
``typ: bedside-policy+jwt`` so it can never be mistaken for (or replayed as) an access token.
The device verifies it against the server's JWKS (:func:`bedside.protocol.snapshot.verify_snapshot`,
where the format's names and versions are defined) and enforces it until ``exp``; break-glass and
consent entries carry their own ``until`` and end earlier when they do. docs/policy-snapshot.md
describes every claim.

Everything here is pure: a view, a caller, an instant in; claims, a JWS out. Lists are sorted so
the same view always gives the same claims (bar ``iat``/``jti``), which keeps diffs and caches
meaningful.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, Final

from joserfc import jwt

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.auth.scopes import Scope
from bedside.policy.model import AccessView, Label, PatientAccess, Refusal, Share
from bedside.policy.rules import PolicyRules
from bedside.protocol.snapshot import (
    BREAK_GLASS_PURPOSE,
    RESOURCES_VERSION,
    TYP,
    VERSION,
    VERSION_CLAIM,
)

__all__ = ["sign_snapshot", "snapshot"]

_LETTERS: Final = "cruds"


def snapshot(
    view: AccessView,
    caller: Caller,
    *,
    issuer: str,
    rules: PolicyRules,
    now: float,
    pins: Iterable[str] = (),
) -> dict[str, Any]:
    """The claims of ``caller``'s snapshot at ``now`` (see docs/policy-snapshot.md).

    ``pins`` are the patients the caller's device pinned (server-checked, docs/device.md); they
    are listed as given, and a device keeps only those the ``patients`` entries still reach.
    """
    issued = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": caller.subject,
        "aud": caller.client_id or caller.subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + rules.snapshot_seconds,
        "jti": secrets.token_urlsafe(16),
        VERSION_CLAIM: VERSION,
        "role": view.role,
        "fhirUser": caller.fhir_user,
    }
    if caller.device:
        claims["device"] = caller.device
        claims["pins"] = sorted(set(pins))
    claims["offline"] = rules.offline.claims()
    claims["posture"] = rules.posture.claims()
    if rules.break_glass_offline and view.role in rules.break_glass_roles and caller.fhir_user:
        claims["break_glass"] = {
            "offline": True,
            "seconds": rules.break_glass_offline_seconds,
            "sync_seconds": rules.break_glass_sync_seconds,
        }
    permissions, filters = _permissions(view, caller.scopes.scopes)
    claims["permissions"] = permissions
    if filters:
        claims["filters"] = filters
    claims["confined"] = view.confined
    if caller.scopes.scopes and all(s.context == "patient" for s in caller.scopes.scopes):
        claims["patient"] = caller.patient or ""  # patient/ scopes only: that patient, or none
    glass = [a for a in view.glass if a.basis == "break-glass"]
    claims["patients"] = sorted(
        [*(_access(a) for a in (*view.relations, *view.glass)), *map(_share, view.shares)],
        key=_order,
    )
    if any("resources" in entry for entry in claims["patients"]):
        claims[VERSION_CLAIM] = RESOURCES_VERSION
    claims["refusals"] = sorted(map(_refusal, view.refusals), key=_order)
    claims["sensitive_labels"] = _labels(view.sensitive)
    claims["purpose"] = sorted(
        (
            {"patient": a.patient, "code": BREAK_GLASS_PURPOSE, "until": _until(a.until)}
            for a in glass
        ),
        key=lambda p: (p["patient"], p["until"] or 0),
    )
    return claims


def _permissions(
    view: AccessView, scopes: tuple[Scope, ...]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The role's letters intersected with the token's, per type, and granular-scope filters.

    ``"*"`` is always present; a type is listed only where it differs from ``"*"`` (a device
    looks a type up and falls back to ``"*"``). A type whose letters come only from granular
    scopes (``patient/Observation.rs?category=...``) gets its queries in ``filters``: the device
    must allow only resources matching one of them.
    """
    types = {k for k in view.permissions if k != "*"} | {
        s.resource_type for s in scopes if s.resource_type != "*"
    }
    star = _letters(view.letters("*") & _granted(scopes, "*"))
    out: dict[str, str] = {"*": star}
    filters: dict[str, list[str]] = {}
    for rtype in sorted(types):
        letters = _letters(view.letters(rtype) & _granted(scopes, rtype))
        if letters != star:
            out[rtype] = letters
    for rtype in ["*", *sorted(types)]:
        kinds = ("*",) if rtype == "*" else ("*", rtype)
        applies = [s for s in scopes if s.resource_type in kinds]
        plain = frozenset().union(*(s.permissions for s in applies if s.query is None))
        queries = sorted({s.query for s in applies if s.query is not None})
        if queries and set(out.get(rtype, star)) - plain:
            filters[rtype] = queries
    return dict(sorted(out.items())), filters


def _granted(scopes: Iterable[Scope], rtype: str) -> frozenset[str]:
    """The letters the token's scopes grant on ``rtype`` ("*": only wildcard scopes)."""
    kinds = ("*",) if rtype == "*" else ("*", rtype)
    return frozenset().union(*(s.permissions for s in scopes if s.resource_type in kinds))


def _letters(letters: Iterable[str]) -> str:
    chosen = set(letters)
    return "".join(c for c in _LETTERS if c in chosen)


def _access(a: PatientAccess) -> dict[str, Any]:
    return {"id": a.patient, "basis": a.basis, "source": a.source, "until": _until(a.until)}


def _share(s: Share) -> dict[str, Any]:
    out = {
        "id": s.patient,
        "basis": "consent",
        "source": s.source,
        "until": _until(s.until),
        "types": sorted(s.types) if s.types is not None else None,
        "labels": _labels(s.labels_any) if s.labels_any is not None else None,
        "labels_not": _labels(s.labels_not),
    }
    if s.ids is not None:  # a share of particular resources ("Observation/<id>") only
        out["resources"] = sorted(s.ids)
    return out


def _refusal(r: Refusal) -> dict[str, Any]:
    return {
        "id": r.patient,
        "source": r.source,
        "until": _until(r.until),
        "types": sorted(r.types) if r.types is not None else None,
        "labels": _labels(r.labels_any) if r.labels_any is not None else None,
    }


def _order(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["id"], entry.get("basis", ""), entry["source"])


def _labels(labels: Iterable[Label]) -> list[str]:
    return sorted(f"{system}|{code}" for system, code in labels)


def _until(until: float | None) -> int | None:
    """Whole seconds, rounded down: an access never lasts longer on the device than here."""
    return int(until // 1) if until is not None else None


def sign_snapshot(claims: dict[str, Any], keys: SigningKeys) -> str:
    """The compact JWS (RFC 7515) of ``claims``, signed like access tokens but typed apart."""
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": TYP}
    return jwt.encode(header, claims, keys.signing)
