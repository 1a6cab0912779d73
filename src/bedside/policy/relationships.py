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

import orjson

from bedside.fhir.dates import parse_range
from bedside.policy.model import PatientAccess
from bedside.store.base import Records

_CURRENT = (
    "SELECT r.type, r.id, v.content FROM resources r"
    " JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"
    " WHERE r.type = ? AND r.deleted = ? AND r.rid IN ({rids})"
)
_LOCATION_DEPTH = 2


def current_resources(
    db: Records, rtype: str, rid_sql: str, args: list[object]
) -> list[dict[str, Any]]:
    """Current, undeleted resources of ``rtype`` whose rid is selected by ``rid_sql``."""
    rows = db.rows(_CURRENT.format(rids=rid_sql), [rtype, False, *args])
    return [orjson.loads(bytes(r[2])) for r in rows if r[2] is not None]


def care_teams(db: Records, user_ref: str, now: float) -> list[PatientAccess]:
    kind, _, rid = user_ref.partition("/")
    teams = current_resources(
        db,
        "CareTeam",
        "SELECT rid FROM idx_reference WHERE param = ? AND target = ? AND target_type = ?",
        ["CareTeam.participant", rid, kind],
    )
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
        roles = current_resources(
            db,
            "PractitionerRole",
            "SELECT rid FROM resources WHERE type = ? AND id = ?",
            ["PractitionerRole", rid],
        )
    else:
        roles = current_resources(
            db,
            "PractitionerRole",
            "SELECT rid FROM idx_reference WHERE param = ? AND target = ? AND target_type = ?",
            ["PractitionerRole.practitioner", rid, kind],
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
    marks = ", ".join("?" for _ in wards)
    encounters = current_resources(
        db,
        "Encounter",
        f"SELECT x.rid FROM idx_reference x WHERE x.param = ? AND x.target IN ({marks})"
        " AND x.target_type = ? AND EXISTS (SELECT 1 FROM idx_token t WHERE t.rid = x.rid"
        " AND t.param = ? AND t.code = ?)",
        ["Encounter.location", *sorted(wards), "Location", "Encounter.status", "in-progress"],
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
        marks = ", ".join("?" for _ in frontier)
        rows = db.rows(
            "SELECT r.id FROM resources r JOIN idx_reference x ON x.rid = r.rid"
            f" WHERE x.param = ? AND x.target IN ({marks}) AND x.target_type = ?"
            " AND r.deleted = ?",
            ["Location.partof", *sorted(frontier), "Location", False],
        )
        frontier = {str(r[0]) for r in rows} - seen
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
