"""What a grant may contain: the client's registered scopes and the user's role set the ceiling.

A grant is the requested scopes narrowed by every ceiling that applies (the client's registration,
the user's role, the types the user left ticked on the consent page). Narrowing never widens: a
requested scope survives with the permissions some ceiling scope of the same context and a
covering type allows, or is dropped. Non-resource scopes (``openid``, ``launch/patient``, ...)
survive only when the ceiling names them.

Role ceilings are deliberately tight (deny by default); issue 4's policy engine refines what a
clinician may see with care teams and consent.
"""

from __future__ import annotations

from typing import Final

from bedside.auth.scopes import Scope, ScopeSet
from bedside.errors import OAuthError

__all__ = [
    "CONTEXT_SCOPES",
    "DEFAULT_APP_SCOPE",
    "DEFAULT_BACKEND_SCOPE",
    "ROLE_CEILING",
    "covers",
    "narrow",
    "parse",
    "without_types",
]

#: Scopes that are not about resources but that Bedside understands.
CONTEXT_SCOPES: Final = (
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
)
_SIGN_IN: Final = "openid fhirUser profile offline_access online_access"

DEFAULT_APP_SCOPE: Final = " ".join(CONTEXT_SCOPES) + " patient/*.cruds user/*.cruds"
DEFAULT_BACKEND_SCOPE: Final = "system/*.rs"

ROLE_CEILING: Final = {
    # A patient reads their record and records their own consent decisions (docs/consent.md:
    # only for their own record, checked by bedside.consent.rules); nothing else is written.
    "patient": f"{_SIGN_IN} launch/patient patient/*.rs user/*.rs patient/Consent.cu"
    " user/Consent.cu",
    "doctor": f"{_SIGN_IN} launch launch/patient launch/encounter patient/*.cruds user/*.cruds",
    "nurse": f"{_SIGN_IN} launch launch/patient launch/encounter patient/*.cruds user/*.cruds",
    "admin": f"{_SIGN_IN} user/Organization.cruds user/Practitioner.cruds"
    " user/PractitionerRole.cruds user/Location.cruds",
    "auditor": f"{_SIGN_IN} user/AuditEvent.rs user/Provenance.rs",
    "support": _SIGN_IN,
    # the governance console reads through its own services (docs/console.md), not FHIR scopes
    "governance": _SIGN_IN,
    "security": _SIGN_IN,
    "clinical-safety": _SIGN_IN,
}


def parse(text: str) -> ScopeSet:
    """Parse scopes from a request; a malformed one is an OAuth ``invalid_scope``."""
    try:
        return ScopeSet.parse(text)
    except Exception as exc:  # InvalidRequest with a plain message
        raise OAuthError("invalid_scope", str(exc)) from None


def _covering(scope: Scope, ceiling: ScopeSet) -> frozenset[str]:
    allowed: set[str] = set()
    for c in ceiling.scopes:
        if c.context != scope.context or c.resource_type not in ("*", scope.resource_type):
            continue
        if c.query is not None and c.query != scope.query:
            continue
        allowed |= c.permissions
    return frozenset(allowed)


def narrow(requested: ScopeSet, ceiling: ScopeSet) -> ScopeSet:
    """``requested`` cut down to what ``ceiling`` allows."""
    kept: list[Scope] = []
    for s in requested.scopes:
        perms = s.permissions & _covering(s, ceiling)
        if perms:
            kept.append(Scope(s.context, s.resource_type, perms, s.query))
    other = tuple(o for o in requested.other if o in ceiling.other)
    return ScopeSet(tuple(dict.fromkeys(kept)), tuple(dict.fromkeys(other)))


def covers(wider: ScopeSet, narrower: ScopeSet) -> bool:
    """True when every scope of ``narrower`` is wholly within ``wider``."""
    return narrow(narrower, wider) == ScopeSet(
        tuple(dict.fromkeys(narrower.scopes)), tuple(dict.fromkeys(narrower.other))
    )


def without_types(scopes: ScopeSet, deselected: set[str], expand: tuple[str, ...]) -> ScopeSet:
    """Drop the resource types a user unticked on the consent page.

    A wildcard scope with some types unticked becomes one scope per remaining type of
    ``expand`` (the types the consent page listed for it).
    """
    if not deselected:
        return scopes
    kept: list[Scope] = []
    for s in scopes.scopes:
        if s.resource_type == "*":
            kept.extend(
                Scope(s.context, t, s.permissions, s.query) for t in expand if t not in deselected
            )
        elif s.resource_type not in deselected:
            kept.append(s)
    return ScopeSet(tuple(dict.fromkeys(kept)), scopes.other)
