"""Which resources a caller may see and change, row by row: scopes ∩ role ∩ patients ∩ consent.

The Repository builds one :class:`Access` per request from the verified caller and the
:class:`~bedside.policy.model.AccessView` policy computed for it (:mod:`bedside.policy.decide`);
Interactions and searches ask it for the :class:`Visibility` of a (type, interaction) and hand
that to the store, which applies it inside its queries. The rules:

* A scope grants its letters (c r u d s) on its type or ``*``; the caller's role (policy file)
  grants letters per type too. Both must allow the letter, else 403 (``require``), before any
  data is touched.
* Each scope that grants the letter adds alternatives; a resource is visible when any
  alternative lets it through:

  - ``system/`` scopes are not confined. ``patient/`` scopes are confined to the launch
    patient (nothing without one). ``user/`` scopes are confined by the role: a patient user
    to their own record; a clinician to the patients policy relates them to; an auditor or a
    service not at all.
  - A clinician sees a related patient's record less data carrying a sensitive security label
    and less what a consent refuses them; a consent that shares data with them adds exactly
    that data (read and search only; sensitive data only when the consent names its label;
    only the named resources when it names some in ``provision.data``, as an ``_id`` filter);
    break-glass adds the whole record.
  - Confinement is the Patient compartment (:mod:`bedside.fhir.compartment`): types outside it
    are invisible to a confined caller, except shared reference data (Practitioner,
    Organization, Medication, ...), which it may read and search; only staff whose role allows
    it may change reference data.
  - A granular scope (``?category=...``) adds its query as a filter: the resource must match it.
    A query that is not a valid search on the type is a 400.

* A resource outside the caller's alternatives answers exactly as if it did not exist: 404 for
  read, vread and history, absent from searches, counts and includes. A write whose result
  would fall outside them is 403 and rolled back.
* A write must also reach *every* patient compartment its new and replaced versions belong to,
  and may not widen the writer's own access (:mod:`bedside.policy.guard`):
  :meth:`Access.check_patients` before it is stored, :meth:`Access.check_not_widened` after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from bedside.auth.caller import Caller
from bedside.auth.scopes import INTERACTION_LETTER, Scope
from bedside.errors import Forbidden, InvalidRequest
from bedside.fhir.compartment import (
    REFERENCE_TYPES,
    Compartment,
    patient_compartment,
    patients_of,
)
from bedside.fhir.search.query import RESULT_PARAMETERS, Clause, parse_search
from bedside.fhir.search.registry import params_for
from bedside.fhir.search.values import TokenValue
from bedside.fhir.search.visibility import NOTHING, Alternative, Visibility
from bedside.policy.guard import POLICY_INPUTS, changeable, refusal_message, widening
from bedside.policy.model import AccessView, Label, PatientAccess
from bedside.store.base import Records, Session, StoredVersion

__all__ = ["Access", "Recheck", "id_clause", "label_clause", "outside", "unconfined_view"]

#: Decides the caller's view again inside a write's transaction, at the instant given.
Recheck = Callable[[Records, float], AccessView]

#: Letters a confined caller has on shared reference data (it may not change it).
_REFERENCE_LETTERS: Final = frozenset("rs")


class Access:
    """The caller's grant as row visibility, computed once per (type, letter) and request."""

    def __init__(
        self, caller: Caller, view: AccessView | None = None, recheck: Recheck | None = None
    ) -> None:
        self.caller = caller
        self.view = view if view is not None else unconfined_view(caller)
        self.recheck = recheck
        self._cache: dict[tuple[str, str], Visibility | None] = {}

    def require(self, rtype: str, interaction: str) -> None:
        """403 unless both the token's scopes and the caller's role allow the interaction."""
        self.caller.require(rtype, interaction)
        if INTERACTION_LETTER[interaction] not in self.view.letters(rtype):
            role = self.view.role or "unknown"
            raise Forbidden(f"The {role} role does not allow {interaction} on {rtype}.")

    def rows(self, rtype: str, interaction: str) -> Visibility | None:
        """What of ``rtype`` the interaction may touch: None is everything, NOTHING nothing."""
        key = (rtype, INTERACTION_LETTER[interaction])
        if key not in self._cache:
            self._cache[key] = self._compute(*key)
        return self._cache[key]

    def changeable(self, rtype: str, interaction: str) -> frozenset[str] | None:
        """The patients whose compartments the interaction may change; None: any."""
        letter = INTERACTION_LETTER[interaction]
        view = self.view
        reach = changeable(view)
        found: set[str] = set()
        for scope in self.caller.scopes.scopes:
            if not scope.allows(rtype, letter):
                continue
            if scope.context == "system" or (scope.context == "user" and not view.confined):
                return None
            if scope.context == "patient":
                only = self.caller.patient
                if only and (not view.confined or only in reach):
                    found.add(only)
            else:
                found |= reach
        return frozenset(found)

    def check_patients(self, rtype: str, interaction: str, *resources: Any) -> None:
        """403 unless the caller may change every patient compartment of ``resources``."""
        allowed = self.changeable(rtype, interaction)
        if allowed is None:
            return
        for resource in resources:
            if isinstance(resource, dict) and not set(patients_of(resource)) <= allowed:
                raise outside(rtype)

    def check_not_widened(self, rtype: str, db: Records) -> None:
        """After a write of a type policy reads: 403 (rolling it back) if the caller's access,
        decided again in the write's transaction, would be wider than when it began."""
        if rtype not in POLICY_INPUTS or self.recheck is None or not self.view.confined:
            return
        how = widening(self.view, self.recheck(db, self.view.now))
        if how is not None:
            raise Forbidden(refusal_message(rtype, how))

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
        if letter not in self.view.letters(rtype):
            return NOTHING
        alternatives: list[Alternative] = []
        for scope in self.caller.scopes.scopes:
            if not scope.allows(rtype, letter):
                continue
            clauses = _granular(scope, rtype)
            groups = self._groups(rtype, letter, scope.context)
            if groups is None:
                if not clauses:
                    return None
                alternatives.append(Alternative(None, clauses))
                continue
            alternatives.extend(Alternative(comp, clauses + extra) for comp, extra in groups)
        return _simplify(alternatives)

    def _groups(
        self, rtype: str, letter: str, context: str
    ) -> list[tuple[Compartment, tuple[Clause, ...]]] | None:
        """The patients a scope of ``context`` reaches, grouped by the filters each group needs.

        None means not confined to patients at all.
        """
        view = self.view
        only = self.caller.patient or "" if context == "patient" else None
        if context == "system" or (context == "user" and not view.confined):
            return None
        if only == "":
            return []  # a patient/ scope without a launch patient: deny by default
        if rtype in REFERENCE_TYPES and (
            letter in _REFERENCE_LETTERS or (only is None and view.role not in (None, "patient"))
        ):
            return None  # shared reference data: not any patient's
        if not view.confined:  # a service or an auditor with a patient/ scope: the launch patient
            comp = patient_compartment(rtype, only) if only else None
            return [] if comp is None or comp.empty else [(comp, ())]
        groups: dict[tuple[Clause, ...], set[str]] = {}

        def add(patient: str, extra: tuple[Clause, ...] | None) -> None:
            if extra is not None and patient and (only is None or patient == only):
                groups.setdefault(extra, set()).add(patient)

        glass = view.glass_patients()
        for patient in glass:
            add(patient, ())
        for patient in {a.patient for a in view.relations} - glass:
            add(patient, self._filters(rtype, patient, view.sensitive))
        if letter in _REFERENCE_LETTERS:  # consents share data to read, never to change
            for share in view.shares:
                if share.patient in glass or (share.types is not None and rtype not in share.types):
                    continue
                ids = share.ids_of(rtype)
                if ids is not None and not ids:
                    continue  # the share names resources of other types only
                named = share.labels_any or frozenset()
                hidden = (view.sensitive - named) | share.labels_not
                extra = self._filters(rtype, share.patient, hidden, share.labels_any)
                if extra is not None and ids is not None:
                    extra = (id_clause(rtype, ids), *extra)
                add(share.patient, extra)
        out = []
        for extra, patients in sorted(groups.items(), key=lambda g: sorted(g[1])):
            comp = patient_compartment(rtype, *patients)
            if not comp.empty:
                out.append((comp, extra))
        return out

    def _filters(
        self,
        rtype: str,
        patient: str,
        hidden: frozenset[Label],
        required: frozenset[Label] | None = None,
    ) -> tuple[Clause, ...] | None:
        """Label filters for one patient's data; None when a refusal withholds all of it."""
        for refusal in self.view.refusals:
            if refusal.patient != patient:
                continue
            if refusal.types is not None and rtype not in refusal.types:
                continue
            if refusal.labels_any is None:
                return None
            hidden = hidden | refusal.labels_any
        extra: list[Clause] = []
        if required is not None:
            extra.append(label_clause(rtype, required, exclude=False))
        if hidden:
            extra.append(label_clause(rtype, hidden, exclude=True))
        return tuple(extra)


def outside(rtype: str) -> Forbidden:
    """The refusal of a write whose result the caller could not change or see."""
    return Forbidden(
        f"The {rtype} would lie outside the patient's compartment or the access token's scopes;"
        " nothing was stored."
    )


def label_clause(rtype: str, labels: frozenset[Label], *, exclude: bool) -> Clause:
    """``_security`` (carries one of) or ``_security:not`` (carries none of) the labels."""
    values = tuple(TokenValue(system, code) for system, code in sorted(labels))
    return Clause(params_for(rtype)["_security"], "not" if exclude else None, values)


def id_clause(rtype: str, ids: frozenset[str]) -> Clause:
    """``_id`` is one of ``ids``: a consent that shares particular resources only."""
    values = tuple(TokenValue(None, rid) for rid in sorted(ids))
    return Clause(params_for(rtype)["_id"], None, values)


def unconfined_view(caller: Caller) -> AccessView:
    """The view of a caller whose scopes alone decide (services, and layers tested alone).

    A caller with a role but no computed view is a programming error in production; here it is
    given the most restrictive reading: a patient user their own record, anyone else nothing.
    """
    if caller.role is None:
        return AccessView(None, False, {"*": frozenset("cruds")})
    if caller.role == "patient" and caller.user_patient:
        own = (PatientAccess(caller.user_patient, "self", "self"),)
        return AccessView("patient", True, {"*": frozenset("cruds")}, glass=own)
    return AccessView(caller.role, True, {"*": frozenset("cruds")})


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
