"""Which patients a practitioner has a care relationship with, read from the FHIR data itself.

* an active ``CareTeam`` (status active, period and the member's own period covering now) whose
  ``participant.member`` is the user's ``fhirUser``: its subject is visible;
* an ``in-progress`` ``Encounter`` at a Location the user is assigned to (``bedside admin
  assign --location``), or at a Location that is part of one (a bed in a ward, two levels deep):
  its subject is visible while the encounter lasts;
* a patient assigned directly (``bedside admin assign --patient``).

And who the practitioner acts for: :func:`organizations`, from their active ``PractitionerRole``
resources, so a patient's Consent naming an Organization reaches the people working for it
(docs/consent.md "Actors").

Each lookup is one indexed query; rows are few per user, so the checks on periods and statuses
are done on the loaded resources. Nothing is cached: a care team ended, an encounter finished or
an assignment removed counts at the next request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bedside.fhir.dates import parse_range
from bedside.policy.model import PatientAccess
from bedside.store import queries
from bedside.store.base import Records

__all__ = ["assignments", "care_teams", "organizations", "ward_patients"]

_LOCATION_DEPTH = 2


def care_teams(db: Records, user_ref: str, now: float) -> list[PatientAccess]:
    teams = queries.current_referring(db, "CareTeam", [("CareTeam.participant", [user_ref])])
    found: list[PatientAccess] = []
    for team in teams:
        if team.get("status") != "active" or not _covers(team.get("period"), now):
            continue
        member = any(
            (p.get("member") or {}).get("reference") == user_ref and _covers(p.get("period"), now)
            for p in team.get("participant") or []
        )
        patient = _patient_of(team.get("subject"))
        if member and patient:
            until = _end(team.get("period"))
            found.append(PatientAccess(patient, "care-team", f"CareTeam/{team['id']}", until))
    return found


def organizations(db: Records, user_ref: str, now: float) -> list[str]:
    """``Organization/<id>`` of each organisation the user works for now: an active
    ``PractitionerRole`` (``active`` not false, ``period`` covering now) whose practitioner is
    the user, or the user's own ``PractitionerRole``."""
    kind, _, rid = user_ref.partition("/")
    if kind == "PractitionerRole":
        roles = queries.current_by_id(db, "PractitionerRole", rid)
    else:
        roles = queries.current_referring(
            db, "PractitionerRole", [("PractitionerRole.practitioner", [user_ref])]
        )
    found: list[str] = []
    for role in roles:
        if role.get("active") is False or not _covers(role.get("period"), now):
            continue
        ref = (role.get("organization") or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Organization/") and ref not in found:
            found.append(ref)
    return found


def assignments(db: Records, user_ref: str) -> tuple[list[str], list[str]]:
    """The Location ids and Patient ids assigned to the user by an administrator."""
    rows = db.rows(
        "SELECT kind, target FROM policy_assignments WHERE user_ref = ? ORDER BY kind, target",
        [user_ref],
    )
    return [t for k, t in rows if k == "location"], [t for k, t in rows if k == "patient"]


def ward_patients(db: Records, locations: list[str], now: float) -> list[PatientAccess]:
    """Subjects of in-progress encounters at the locations (or at locations part of them)."""
    wards = _with_parts(db, locations)
    if not wards:
        return []
    encounters = queries.current_referring(
        db,
        "Encounter",
        [("Encounter.location", [f"Location/{w}" for w in sorted(wards)])],
        token=("Encounter.status", "in-progress"),
    )
    found: list[PatientAccess] = []
    for enc in encounters:
        patient = _patient_of(enc.get("subject"))
        here = any(
            (loc.get("location") or {}).get("reference", "").partition("/")[2] in wards
            and loc.get("status") != "completed"
            and _covers(loc.get("period"), now)
            for loc in enc.get("location") or []
        )
        if patient and here and enc.get("status") == "in-progress":
            found.append(PatientAccess(patient, "location", f"Encounter/{enc['id']}"))
    return found


def _with_parts(db: Records, locations: Iterable[str]) -> set[str]:
    """The locations and those ``partOf`` them, ``_LOCATION_DEPTH`` levels down."""
    seen = set(locations)
    frontier = set(seen)
    for _ in range(_LOCATION_DEPTH):
        if not frontier:
            break
        parts = queries.referring_ids(
            db, "Location.partof", [f"Location/{f}" for f in sorted(frontier)]
        )
        frontier = parts - seen
        seen |= frontier
    return seen


def _patient_of(ref: Any) -> str | None:
    text = (ref or {}).get("reference", "") if isinstance(ref, dict) else ""
    kind, _, rid = text.partition("/")
    return rid if kind == "Patient" and rid and "/" not in rid else None


def _covers(period: Any, now: float) -> bool:
    """Whether a FHIR Period (absent: always) contains ``now`` (UNIX seconds)."""
    if not isinstance(period, dict):
        return True
    ms = now * 1000
    start = parse_range(period["start"]) if isinstance(period.get("start"), str) else None
    end = parse_range(period["end"]) if isinstance(period.get("end"), str) else None
    return (start is None or start[0] <= ms) and (end is None or ms <= end[1])


def _end(period: Any) -> float | None:
    if isinstance(period, dict) and isinstance(period.get("end"), str):
        rng = parse_range(period["end"])
        if rng is not None:
            return rng[1] / 1000
    return None
