"""Whom a pushed event is about, and whether its writer reaches them (docs/sync-server.md, step 5).

A device's change is applied only when its writer, by the policy decided in the push's
transaction, reaches every patient the event concerns through a care relationship or a
break-glass grant (a consent share is for reading, never for changing:
:func:`bedside.policy.guard.changeable`). An event made under break-glass (purpose ``BTG``) is
judged with the grants that covered the moment the user acted,
by the device's clock corrected by its measured skew, so work done under a grant that has since
expired is honoured and ``BTG`` without such a grant is not.
"""

from __future__ import annotations

import dataclasses

from bedside.auth.caller import Caller
from bedside.errors import Forbidden
from bedside.fhir.compartment import patients_of
from bedside.policy.decide import break_glass_grants
from bedside.policy.guard import changeable
from bedside.policy.model import AccessView
from bedside.protocol.event import Event, parse_time
from bedside.store.base import Records

__all__ = ["patients", "require_reach", "with_glass_at"]


def patients(event: Event) -> set[str]:
    """Every patient the event concerns: its declared patient and the resource's compartments."""
    found = set(patients_of(event.resource))
    if event.patient:
        found.add(event.patient.removeprefix("Patient/"))
    return found


def require_reach(view: AccessView, event: Event) -> None:
    """Forbidden, in words, when a confined view does not reach every patient of the event."""
    if view.confined and patients(event) - changeable(view):
        raise Forbidden(
            "No break-glass grant covered this patient when you acted, and you have no"
            " other access to their record, so this change was not applied."
            if event.purpose == "BTG"
            else "You no longer have access to this patient's record (care team, ward,"
            " assignment or break-glass), so this change was not applied."
        )


def with_glass_at(
    db: Records, caller: Caller, view: AccessView, event: Event, skew: int
) -> AccessView:
    """``view`` plus the break-glass grants that covered the moment the user acted (the
    event's device time corrected by the device's measured skew)."""
    at = parse_time(event.device_time)
    if at is None or not caller.fhir_user:
        return view
    grants = break_glass_grants(db, caller.fhir_user, at - skew / 1000)
    extra = tuple(g for g in grants if g not in view.glass)
    return dataclasses.replace(view, glass=view.glass + extra) if extra else view
