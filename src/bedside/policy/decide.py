"""The one place access is decided: a caller and an instant in, an :class:`AccessView` out.

The FHIR API asks at every request (:class:`bedside.rest.access.Access` turns the view into row
visibility inside SQL); sync asks the same question at pull and at push; the policy snapshot
signs it for offline use. Inputs, all read fresh from the database:

* the role's permissions from the policy file (:mod:`bedside.policy.rules`);
* care relationships (:mod:`bedside.policy.relationships`);
* consents naming the user or concerning their patients (:mod:`bedside.consent.evaluate`);
* the user's active break-glass grants.

A token's scopes are intersected with all of this by the caller of :meth:`Policy.view`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from bedside.auth.caller import Caller
from bedside.policy import relationships
from bedside.policy.model import AccessView, PatientAccess, Refusal, Share
from bedside.policy.rules import PolicyRules
from bedside.store import queries
from bedside.store.base import Records

__all__ = ["Policy", "ShareFinder", "break_glass_grants"]

#: Consents (current versions) → the Shares and Refusals they hold for these actors at this
#: instant: :func:`bedside.consent.evaluate.shares_for`, passed in where the server is built
#: (``bedside.web.asgi.build``, ``bedside.cli``) so that policy never imports consent.
ShareFinder = Callable[
    [Iterable[Mapping[str, Any]], Collection[str], float], tuple[list[Share], list[Refusal]]
]


class Policy:
    """Server-wide policy: the rules file, the clock every decision reads, and how consents
    become shares and refusals (``consents``)."""

    def __init__(
        self,
        rules: PolicyRules | None = None,
        *,
        consents: ShareFinder,
        clock: Callable[[], float] = time.time,
    ):
        self.rules = rules or PolicyRules.default()
        self.clock = clock
        self.consents = consents

    def view(self, db: Records, caller: Caller, *, now: float | None = None) -> AccessView:
        """What ``caller`` may do now (or at ``now``, UNIX seconds). ``db`` is a read (or write)
        transaction's records."""
        now = self.clock() if now is None else now
        if caller.role is None:  # a service: governed by its registered scopes alone
            return AccessView(None, False, {"*": frozenset("cruds")}, now=now)
        role = self.rules.role(caller.role)
        name, perms, sensitive = role.name or None, role.permissions, self.rules.sensitive
        if role.patients == "all":
            return AccessView(name, False, perms, sensitive=sensitive, now=now)
        if role.patients == "own":
            patient = caller.user_patient or ""
            own = (PatientAccess(patient, "self", "self"),) if patient else ()
            return AccessView(name, True, perms, glass=own, now=now)
        user_ref = caller.fhir_user or ""
        practitioner = user_ref.startswith(("Practitioner/", "PractitionerRole/"))
        if role.patients != "related" or not practitioner:
            return AccessView(name, True, perms, sensitive=sensitive, now=now)
        locations, assigned = relationships.assignments(db, user_ref)
        relations = [
            *relationships.care_teams(db, user_ref, now),
            *relationships.ward_patients(db, locations, now),
            *(PatientAccess(p, "assignment", "assignment") for p in assigned),
        ]
        shares, refusals = self._consents(db, user_ref, {a.patient for a in relations}, now)
        return AccessView(
            name,
            True,
            perms,
            relations=tuple(relations),
            glass=tuple(break_glass_grants(db, user_ref, now)),
            shares=tuple(shares),
            refusals=tuple(refusals),
            sensitive=sensitive,
            now=now,
        )

    def _consents(
        self, db: Records, user_ref: str, patients: set[str], now: float
    ) -> tuple[list[Share], list[Refusal]]:
        """Active consents that name the user or an organisation they work for, or concern a
        patient the user is related to."""
        actors = [user_ref, *relationships.organizations(db, user_ref, now)]
        consents = queries.current_referring(
            db,
            "Consent",
            [
                ("Consent.actor", actors),
                ("Consent.patient", [f"Patient/{p}" for p in sorted(patients)]),
            ],
            token=("Consent.status", "active"),
        )
        shares, refusals = self.consents(consents, set(actors), now)
        return list(shares), list(refusals)


def break_glass_grants(db: Records, user_ref: str, now: float) -> list[PatientAccess]:
    rows = db.rows(
        "SELECT id, patient, expires_at FROM break_glass"
        " WHERE user_ref = ? AND started_at <= ? AND expires_at > ? ORDER BY started_at",
        [user_ref, int(now), int(now)],
    )
    return [PatientAccess(str(p), "break-glass", f"break-glass/{i}", float(e)) for i, p, e in rows]
