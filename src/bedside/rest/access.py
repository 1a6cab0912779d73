"""Which resources a caller may see and change, row by row (SMART App Launch 2.2 "Scopes").

The Repository builds one :class:`Access` per request from the verified caller; Interactions
and searches ask it for the :class:`Visibility` of a (type, interaction) and hand that to the
store, which applies it inside its queries. The rules:

* A scope grants its letters (c r u d s) on its type or ``*``. No scope for the type and letter:
  403 ``insufficient_scope`` (``Caller.require``), before any data is touched.
* Each scope that grants the letter adds one alternative; a resource is visible when any
  alternative lets it through:

  - ``system/`` scopes are not confined; ``user/`` scopes are confined to the user's own
    compartment when the user is a patient (``Caller.user_patient``), else not confined;
    ``patient/`` scopes are confined to the launch patient's compartment, and grant nothing
    when there is no launch patient (deny by default).
  - Confinement is the Patient compartment (:mod:`bedside.fhir.compartment`): types outside it
    are invisible to a confined caller, except shared reference data (Practitioner,
    Organization, Medication, ...), which a confined caller may read and search but not change.
  - A granular scope (``?category=...``) adds its query as a filter: the resource must match it.
    Several granular scopes on a type are ORed; a plain scope in the same context makes them
    moot. A query that is not a valid search on the type is a 400 (a bad token, not a bad
    request, but nothing can be served with it).

* A resource outside the caller's alternatives answers exactly as if it did not exist: 404 for
  read, vread and history, absent from searches, counts and includes. A write whose result
  would fall outside them is 403 and rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import parse_qsl

from bedside.auth.caller import Caller
from bedside.auth.scopes import INTERACTION_LETTER, Scope
from bedside.errors import InvalidRequest
from bedside.fhir.compartment import REFERENCE_TYPES, patient_compartment
from bedside.fhir.search.query import RESULT_PARAMETERS, Clause, parse_search
from bedside.fhir.search.visibility import NOTHING, Alternative, Visibility
from bedside.store.base import Session, StoredVersion

#: Letters a confined caller has on shared reference data (it may not change it).
_REFERENCE_LETTERS: Final = frozenset("rs")


class Access:
    """The caller's grant as row visibility, computed once per (type, letter) and request."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self._cache: dict[tuple[str, str], Visibility | None] = {}

    def rows(self, rtype: str, interaction: str) -> Visibility | None:
        """What of ``rtype`` the interaction may touch: None is everything, NOTHING nothing."""
        key = (rtype, INTERACTION_LETTER[interaction])
        if key not in self._cache:
            self._cache[key] = self._compute(*key)
        return self._cache[key]

    def visible(
        self, session: Session, versions: Sequence[StoredVersion], interaction: str = "read"
    ) -> list[StoredVersion]:
        """``versions`` less those the caller may not see (one indexed query per type)."""
        keep: set[int] = set()
        for rtype in {v.type for v in versions}:
            rids = [v.rid for v in versions if v.type == rtype]
            visibility = self.rows(rtype, interaction)
            keep.update(rids if visibility is None else session.visible_rids(rids, visibility))
        return [v for v in versions if v.rid in keep]

    def _compute(self, rtype: str, letter: str) -> Visibility | None:
        alternatives: list[Alternative] = []
        for scope in self.caller.scopes.scopes:
            if not scope.allows(rtype, letter):
                continue
            clauses = _granular(scope, rtype)
            patient = self.caller.confined_to(scope.context)
            if patient == "":
                continue  # confined to nothing
            compartment = None
            if patient is not None and not (
                rtype in REFERENCE_TYPES and letter in _REFERENCE_LETTERS
            ):
                compartment = patient_compartment(rtype, patient)
                if compartment.empty:
                    continue  # outside the compartment: invisible to a confined caller
            if compartment is None and not clauses:
                return None
            alternatives.append(Alternative(compartment, clauses))
        return _simplify(alternatives)


def _simplify(alternatives: list[Alternative]) -> Visibility:
    """Drop duplicates, and filters made moot by a plain alternative in the same compartment."""
    unique: list[Alternative] = []
    for alt in alternatives:
        if alt not in unique:
            unique.append(alt)
    plain = [a.compartment for a in unique if not a.clauses]
    kept = [a for a in unique if not a.clauses or a.compartment not in plain]
    return Visibility(tuple(kept)) if kept else NOTHING


def _granular(scope: Scope, rtype: str) -> tuple[Clause, ...]:
    """The search clauses of a granular scope's query, checked against ``rtype``."""
    if scope.query is None:
        return ()
    pairs = parse_qsl(scope.query, keep_blank_values=True)
    where = f"The access token's scope {scope.context}/{scope.resource_type} has a query that"
    if not pairs or any(name in RESULT_PARAMETERS for name, _ in pairs):
        raise InvalidRequest(f"{where} is not a plain search on {rtype}.")
    try:
        return parse_search(rtype, pairs).clauses
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where} cannot apply to {rtype}: {exc.message}") from None
