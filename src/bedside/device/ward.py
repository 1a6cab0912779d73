"""The ward board: the working set as the clinician app's patient list shows it (issue 16).

One row per patient the policy still reaches (:func:`bedside.device.chart.patients`), with what
a nurse scans the list for: where the patient is (the locations of their in-progress
Encounter: ward, then bed), their latest NEWS2 total, their identifier (for search), and how
many of their recorded items still wait for the server or for a review.

It is read with a handful of indexed queries for the whole list, never one chart per patient:
the list of a 300-patient working set must render in a few milliseconds (bench/app.py). Each
NEWS2 total and Encounter shown passes the offline policy like any read, and each patient
whose NEWS2 is shown gets one access-log row (G7); the list itself is logged as the patient
search it is (:func:`bedside.device.chart.patients`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.clinical.news2_codes import SNOMED, TOTAL_CODE
from bedside.device import accesses
from bedside.device.chart import PatientEntry, patients
from bedside.device.records import LocalRecords
from bedside.device.session import Session

__all__ = ["BoardEntry", "ItemState", "board", "item_states"]

_TOTAL: Final = f"{TOTAL_CODE}|{SNOMED}"
_VOID: Final = ("entered-in-error", "cancelled")
_CHUNK: Final = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """One patient of the list."""

    patient: PatientEntry
    identifier: str | None  # the Patient's usual/official identifier value, else its first
    locations: tuple[str, ...]  # the in-progress Encounter's locations, ward first
    news2: dict[str, Any] | None  # the latest NEWS2 total Observation
    unsynced: int  # events recorded here the server has not answered (pending, sending)
    needs_review: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ItemState:
    """The sync state of a resource recorded on this device: its latest event."""

    state: str  # pending | sending | confirmed | needs-review | rejected
    reason: str | None
    seq: int
    device_time: str | None  # when the event was recorded, as it carries it
    server_time: str | None  # when the server committed it (the result's ``at``)
    device: str | None
    user: str | None


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for at in range(0, len(ids), _CHUNK):
        yield ids[at : at + _CHUNK]


#: What the board tracks on the session's connection: which patients' rows of these types
#: changed since it last looked (any writer: a local write, a pull, a purge), so only those are
#: read again (:meth:`LocalRecords.watch`). A Location change ("*") refreshes every patient's
#: ward names.
_TRACKED: Final = ("Patient", "Observation", "Encounter", "Location")


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the board shows of one patient, as last read from the store."""

    total: dict[str, Any] | None
    visits: tuple[dict[str, Any], ...]
    locations: tuple[str, ...]
    identifier: str | None


def board(s: Session) -> list[BoardEntry]:
    """Every working-set patient the policy reaches, as the list shows them, by name.

    The facts of each patient are kept for the session and read again only when a row of
    theirs changed (see ``_TRACKED``); the offline policy and the access log see every call.
    """
    people = patients(s)
    ids = [p.id for p in people]
    facts: dict[str, _Facts] = s.ward.setdefault("facts", {})
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    with s.store.reading() as conn:
        if not s.ward.get("tracking"):
            LocalRecords(conn).watch("ward_dirty", _TRACKED)
            s.ward["tracking"] = True
            conn.execute("DELETE FROM ward_dirty")
            facts.clear()
        dirty = {str(r[0]) for r in conn.execute("SELECT patient FROM ward_dirty")}
        if dirty:
            conn.execute("DELETE FROM ward_dirty")
        if "*" in dirty:
            facts.clear()
        stale = [p for p in ids if p in dirty or p not in facts]
        facts.update(_read(conn, stale))
        for pid, state, n in conn.execute(
            "SELECT patient, state, count(*) FROM outbox WHERE state IN "
            "('pending', 'sending', 'needs-review', 'rejected') GROUP BY patient, state"
        ):
            counts[str(pid)][str(state)] = int(n)
    now = s.clock()
    shown: list[str] = []  # patients whose NEWS2 the list shows: one access row each
    out: list[BoardEntry] = []
    for person in people:
        known = facts.get(person.id) or _Facts(None, (), (), None)
        total = known.total
        if total is not None and s.policy.refuse_read(total, person.id, now) is not None:
            total = None
        if total is not None:
            shown.append(person.id)
        places = known.locations
        if any(s.policy.refuse_read(e, person.id, now) for e in known.visits):
            places = ()
        n = counts.get(person.id, {})
        out.append(
            BoardEntry(
                patient=person,
                identifier=known.identifier,
                locations=places,
                news2=total,
                unsynced=n.get("pending", 0) + n.get("sending", 0),
                needs_review=n.get("needs-review", 0),
                rejected=n.get("rejected", 0),
            )
        )
    if shown:
        with s.store.transaction(durable=False) as tx:
            reads = [(pid, s.policy.purpose(pid, now)) for pid in shown]
            accesses.log_reads(tx, at=now, reads=reads, rtype="Observation")
    return out


def _read(conn: Any, ids: Sequence[str]) -> dict[str, _Facts]:
    """The facts of ``ids`` from the store: a few indexed queries per 500 patients."""
    totals: dict[str, dict[str, Any]] = {}
    encounters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    bodies: dict[str, dict[str, Any]] = {}
    records = LocalRecords(conn)
    for part in _chunks(ids):
        chosen = records.latest_with_code(part, "Observation", _TOTAL, _VOID)
        if chosen:
            for _, pid, body in records.bodies("Observation", chosen):
                totals[str(pid)] = orjson.loads(body)
        for pid, body in records.with_status(part, "Encounter", "in-progress"):
            encounters[str(pid)].append(orjson.loads(body))
        for pid, _, body in records.bodies("Patient", part):
            bodies[pid] = orjson.loads(body)
    names = _location_names(conn, encounters.values())
    return {
        pid: _Facts(
            totals.get(pid),
            tuple(encounters.get(pid, ())),
            _locations(encounters.get(pid, []), names),
            _identifier(bodies.get(pid)),
        )
        for pid in ids
    }


def _identifier(patient: dict[str, Any] | None) -> str | None:
    found = [
        i
        for i in (patient or {}).get("identifier") or ()
        if isinstance(i, dict) and isinstance(i.get("value"), str)
    ]
    for use in ("usual", "official"):
        for ident in found:
            if ident.get("use") == use:
                return str(ident["value"])
    return str(found[0]["value"]) if found else None


def _refs(encounter: dict[str, Any]) -> list[dict[str, Any]]:
    """The Encounter's current locations (status active or unset), in their order."""
    out = []
    for entry in encounter.get("location") or ():
        if not isinstance(entry, dict) or entry.get("status") not in (None, "active", "planned"):
            continue
        ref = entry.get("location")
        if isinstance(ref, dict):
            out.append(ref)
    return out


def _location_names(conn: Any, groups: Iterable[list[dict[str, Any]]]) -> dict[str, str]:
    """Location id -> name, for the Locations (shared reference data) held on the device."""
    wanted = sorted(
        {
            str(ref["reference"]).rsplit("/", 1)[-1]
            for group in groups
            for encounter in group
            for ref in _refs(encounter)
            if isinstance(ref.get("reference"), str) and not isinstance(ref.get("display"), str)
        }
    )
    names: dict[str, str] = {}
    for part in _chunks(wanted):
        for rid, _, body in LocalRecords(conn).bodies("Location", part):
            name = orjson.loads(body).get("name")
            if isinstance(name, str):
                names[str(rid)] = name
    return names


def _locations(visits: list[dict[str, Any]], names: dict[str, str]) -> tuple[str, ...]:
    """The names of the newest in-progress Encounter's locations (ward, then bed)."""
    if not visits:
        return ()
    newest = max(visits, key=lambda e: str((e.get("period") or {}).get("start") or ""))
    out: list[str] = []
    for ref in _refs(newest):
        name = ref.get("display")
        if not isinstance(name, str) and isinstance(ref.get("reference"), str):
            name = names.get(str(ref["reference"]).rsplit("/", 1)[-1])
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
    return tuple(out)


def item_states(s: Session, patient: str) -> dict[tuple[str, str], ItemState]:
    """(type, id) -> the latest event's state, for the patient's resources recorded here."""
    with s.store.reading() as conn:
        rows = conn.execute(
            "SELECT type, resource_id, state, reason, seq, event, result FROM outbox "
            "WHERE patient = ? ORDER BY seq",
            (patient,),
        ).fetchall()
    out: dict[tuple[str, str], ItemState] = {}
    for rtype, rid, state, reason, seq, event, result in rows:
        signed = orjson.loads(event)
        answer = orjson.loads(result) if result else {}
        out[(str(rtype), str(rid))] = ItemState(
            state=str(state),
            reason=reason,
            seq=int(seq),
            device_time=signed.get("device_time"),
            server_time=answer.get("at") if isinstance(answer.get("at"), str) else None,
            device=signed.get("device"),
            user=signed.get("user"),
        )
    return out
