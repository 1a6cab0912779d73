"""SMART on FHIR scopes (SMART App Launch 2.x "Scopes and Launch Context").

v2 form: ``<context>/<Type|*>.<c?r?u?d?s?>`` where context is patient, user or system;
v1 forms ``.read`` / ``.write`` / ``.*`` map to ``rs`` / ``cud`` / ``cruds``.

A granular scope (``patient/Observation.rs?category=...|laboratory``) grants its letters on the
type like any other scope; its query then filters which resources the caller sees. Parsing here
stays cheap and pure (token issuance uses it too): the query is only checked for shape, and
``bedside.rest.access`` checks it against the type's search parameters when it is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bedside.errors import InvalidRequest

__all__ = ["INTERACTION_LETTER", "Scope", "ScopeSet"]

_SCOPE_RE: Final = re.compile(
    r"(?P<ctx>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>read|write|\*|c?r?u?d?s?)"
    r"(?:\?(?P<query>\S+))?"
)
_QUERY_RE: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_:.-]*=[^&=]+(?:&[A-Za-z_][A-Za-z0-9_:.-]*=[^&=]+)*"
)
_V1: Final = {"read": "rs", "write": "cud", "*": "cruds"}

#: Which permission letter each FHIR interaction needs.
INTERACTION_LETTER: Final = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
    "history-type": "s",
}


@dataclass(frozen=True, slots=True)
class Scope:
    context: str
    resource_type: str  # "*" for any
    permissions: frozenset[str]
    query: str | None = None

    def allows(self, resource_type: str, letter: str) -> bool:
        """The type-level grant: a granular scope grants it too, its query filtering rows."""
        return self.resource_type in ("*", resource_type) and letter in self.permissions


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """The clinical scopes of a grant; other scopes (openid, launch, ...) are kept as text."""

    scopes: tuple[Scope, ...]
    other: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ScopeSet:
        scopes: list[Scope] = []
        other: list[str] = []
        for item in text.split():
            m = _SCOPE_RE.fullmatch(item)
            if not m:
                if "/" in item and not item.startswith("launch/"):  # launch/patient is SMART
                    raise InvalidRequest(f"'{item}' is not a valid SMART scope.")
                other.append(item)
                continue
            perm = _V1.get(m["perm"], m["perm"])
            if not perm:
                raise InvalidRequest(f"'{item}' grants no permission.")
            if m["query"] is not None and not _QUERY_RE.fullmatch(m["query"]):
                raise InvalidRequest(f"'{item}' has a malformed query.")
            scopes.append(Scope(m["ctx"], m["type"], frozenset(perm), m["query"]))
        return cls(tuple(scopes), tuple(other))

    def allows(self, resource_type: str, interaction: str) -> bool:
        letter = INTERACTION_LETTER[interaction]
        return any(s.allows(resource_type, letter) for s in self.scopes)

    def text(self) -> str:
        return " ".join(_scope_text(s) for s in self.scopes) + "".join(f" {o}" for o in self.other)


def _scope_text(s: Scope) -> str:
    letters = "".join(c for c in "cruds" if c in s.permissions)
    return f"{s.context}/{s.resource_type}.{letters}" + (f"?{s.query}" if s.query else "")
