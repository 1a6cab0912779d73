"""Row visibility confined to some patients, and tombstones checked against it.

Used by sync pull, Subscriptions and Bulk Data export (the ``deleted`` of an export with
``_since``), so it is pure and lives with the other visibility code. A pull sends only what a
search by the same user would return (``bedside.rest.access``), and of
that only the Patient compartments of the device's working set. :func:`confine` narrows the
user's visibility of one type to a set of patients, so the store's own visibility SQL does the
filtering, exactly as for a search.

A deleted resource has no index rows left, so its tombstone cannot be checked in SQL. The
device can only hold it if its last version was visible, so :func:`admits` evaluates the same
visibility on that version's content in Python: its compartment references, label and
granular-scope clauses on token parameters, and ``_id``. Anything else it cannot evaluate (a
date filter in a granular scope) admits nothing: a tombstone may be left out, never shown for
what the user may not see.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bedside.fhir.compartment import Compartment, patient_compartment
from bedside.fhir.search.extract import IndexRows, extract
from bedside.fhir.search.query import Clause
from bedside.fhir.search.values import TokenValue
from bedside.fhir.search.visibility import NOTHING, Alternative, Visibility

__all__ = ["admits", "confine"]


def confine(visible: Visibility | None, rtype: str, patients: Collection[str]) -> Visibility:
    """``visible`` (None: no restriction) narrowed to the compartments of ``patients``."""
    if visible is None:
        visible = Visibility((Alternative(None, ()),))
    wanted = frozenset(patients)
    if not wanted:
        return NOTHING
    out: list[Alternative] = []
    for alt in visible.alternatives:
        if alt.compartment is None:
            comp = patient_compartment(rtype, *wanted)
        else:
            kept = tuple(p for p in alt.compartment.patients if p in wanted)
            comp = Compartment(kept, alt.compartment.params, alt.compartment.is_patient)
        if not comp.empty:
            out.append(Alternative(comp, alt.clauses))
    return Visibility(tuple(out)) if out else NOTHING


def admits(visible: Visibility, resource: dict[str, Any]) -> bool:
    """Whether ``resource`` (content of a stored version) lies inside ``visible``."""
    if visible.nothing:
        return False
    rows = extract(resource)
    return any(
        _in_compartment(alt.compartment, resource, rows)
        and all(_holds(c, rows, resource.get("id")) for c in alt.clauses)
        for alt in visible.alternatives
    )


def _in_compartment(comp: Compartment | None, resource: dict[str, Any], rows: IndexRows) -> bool:
    if comp is None:
        return True
    if comp.is_patient and resource.get("id") in comp.patients:
        return True
    return any(
        key in comp.params and kind == "Patient" and target in comp.patients
        for key, kind, target in rows.reference
    )


def _holds(clause: Clause, rows: IndexRows, rid: Any) -> bool:
    """A token clause (plain or ``:not``) as the store evaluates it; anything else: False.

    A plain ``_id`` clause (a consent sharing particular resources) holds on the resource's id.
    """
    if clause.param.kind != "token" or clause.missing is not None:
        return False
    if clause.param.code == "_id" and clause.modifier is None:
        return any(isinstance(v, TokenValue) and v.code == rid for v in clause.values)
    if clause.modifier not in (None, "not") or clause.param.code == "_id":
        return False
    key = clause.param.key
    found = False
    for value in clause.values:
        if not isinstance(value, TokenValue):
            return False
        found = found or any(
            row_key == key and _token_matches(value, system, code)
            for row_key, system, code in rows.token
        )
    return not found if clause.modifier == "not" else found


def _token_matches(value: TokenValue, system: str | None, code: str) -> bool:
    if value.system is None:
        return code == value.code
    if value.system == "":
        return code == value.code and not system
    if value.code is None:
        return system == value.system
    return code == value.code and system == value.system
