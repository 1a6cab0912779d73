"""Reading on the device: the patient list, a chart, one record, a search — each decision logged.

Every read goes through the offline policy (:meth:`OfflinePolicy.refuse_read`) resource by
resource, exactly as the server filters a search: what the policy withholds is left out, and a
read of one withheld record is refused with the policy's sentence. Every decision is appended to
the access log (:mod:`bedside.device.accesses`) with the purposeOfUse in force (``BTG`` under
break-glass), in the same transaction as nothing else: a read writes only its audit.

Each item says whether it is ``synced`` (the server's version) or ``saved-on-device`` (a local
change not yet confirmed), so the app can show the sync state next to the data (G1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device import accesses
from bedside.device.errors import DeviceError, Refused
from bedside.device.index import search_bounds, token_query
from bedside.device.records import LocalRecords, Match
from bedside.device.session import Session

__all__ = [
    "ChartItem",
    "Conflict",
    "PatientEntry",
    "chart",
    "conflicts",
    "not_reached",
    "patients",
    "read",
    "search",
]

_NOT_REACHED: Final = (
    "You cannot open this patient's record on this device: they are not among your patients."
)


@dataclass(frozen=True, slots=True)
class PatientEntry:
    """One patient of the working set, as the patient list shows them."""

    id: str
    display: str
    birth_date: str | None
    gender: str | None
    basis: str
    pinned: bool


@dataclass(frozen=True, slots=True)
class ChartItem:
    """One resource on the device and its sync state."""

    type: str
    id: str
    patient: str | None
    server_version: str | None
    local_state: str  # 'synced' | 'saved-on-device'
    updated: float
    resource: dict[str, Any]
    #: who wrote the local version, from which device, when (device time), as which event
    #: (``seq``); None for a version as the server sent it
    provenance: dict[str, Any] | None = None


def _item(row: Sequence[Any]) -> ChartItem:
    """A full row (:data:`bedside.device.records.ROW`) as the chart shows it."""
    return ChartItem(
        type=str(row[0]),
        id=str(row[1]),
        patient=row[2],
        server_version=row[3],
        local_state=str(row[4]),
        resource=orjson.loads(row[5]),
        updated=float(row[6]),
        provenance=orjson.loads(row[7]) if row[7] else None,
    )


def patients(s: Session) -> list[PatientEntry]:
    """The working set's patients the policy still reaches, by display name."""
    now = s.clock()
    with s.store.transaction(durable=False) as tx:
        rows = tx.execute(
            "SELECT id, display, birth_date, gender, basis, pinned FROM patients "
            "WHERE left_at IS NULL ORDER BY display = '', display, id"
        ).fetchall()
        found = [
            PatientEntry(str(r[0]), str(r[1]), r[2], r[3], str(r[4]), bool(r[5]))
            for r in rows
            if s.policy.reaches(str(r[0]), now)
        ]
        accesses.log(
            tx,
            at=now,
            patient=None,
            rtype="Patient",
            action="search",
            outcome="permitted",
            count=len(found),
        )
    return found


def not_reached(s: Session, patient: str, rtype: str, action: str) -> Refused | None:
    """A logged refusal when ``patient`` is beyond the policy's reach, else None."""
    now = s.clock()
    if s.policy.reaches(patient, now):
        return None
    return accesses.refusal(
        s.store,
        at=now,
        patient=patient,
        rtype=rtype,
        action=action,
        purpose=s.policy.purpose(patient, now),
        reason=_NOT_REACHED,
    )


def chart(s: Session, patient: str, rtype: str | None = None) -> list[ChartItem]:
    """The patient's resources (of ``rtype``), newest first within each type."""
    refusal = not_reached(s, patient, rtype or "*", "read")
    if refusal is not None:
        raise refusal
    with s.store.reading() as conn:
        rows = LocalRecords(conn).of_patient(patient, rtype)
    return _visible(s, [_item(r) for r in rows], patient, "read", rtype)


def read(s: Session, rtype: str, rid: str) -> ChartItem:
    """One resource, or :class:`Refused` with the policy's sentence (the refusal is logged)."""
    with s.store.reading() as conn:
        row = LocalRecords(conn).row(rtype, rid)
    if row is None:
        raise DeviceError("This record is not on this device.")
    item = _item(row)
    now = s.clock()
    why = s.policy.refuse_read(item.resource, item.patient, now)
    with s.store.transaction(durable=False) as tx:
        accesses.log(
            tx,
            at=now,
            patient=item.patient,
            rtype=rtype,
            resource_id=rid,
            action="read",
            outcome="refused" if why else "permitted",
            purpose=s.policy.purpose(item.patient, now) if item.patient else None,
            reason=why,
        )
    if why is not None:
        raise Refused(why)
    return item


def search(
    s: Session,
    patient: str,
    rtype: str,
    *,
    code: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    status: str | None = None,
) -> list[ChartItem]:
    """The patient's ``rtype`` resources matching every criterion given (FHIR search semantics).

    ``code`` is ``system|code`` or a bare ``code`` (any system); ``date_from`` and ``date_to``
    are FHIR dates or times, both inclusive (``date_to=2026-11-21`` includes that whole day);
    ``status`` is the exact status code.
    """
    refusal = not_reached(s, patient, rtype, "search")
    if refusal is not None:
        raise refusal
    try:
        low, high = search_bounds(date_from, date_to)
    except ValueError:
        raise DeviceError("Search dates must be written like 2026-11-21.") from None
    matches: list[Match] = []
    if code:
        value, upper = token_query(code)
        matches.append(Match("code", value, upper))
    if status:
        matches.append(Match("status", status))
    if low is not None or high is not None:
        matches.append(Match("date", low or "", high or "~", inclusive=True))
    with s.store.reading() as conn:
        rows = LocalRecords(conn).search(patient, rtype, matches)
    return _visible(s, [_item(r) for r in rows], patient, "search", rtype)


def _visible(
    s: Session, items: list[ChartItem], patient: str, action: str, rtype: str | None
) -> list[ChartItem]:
    """The items the policy lets the user open; one access row per type and outcome."""
    now = s.clock()
    shown: list[ChartItem] = []
    tally: Counter[tuple[str, str | None]] = Counter()
    for item in items:
        why = s.policy.refuse_read(item.resource, patient, now)
        tally[(item.type, why)] += 1
        if why is None:
            shown.append(item)
    if not tally:
        tally[(rtype or "*", None)] = 0  # an empty result is a decision too
    purpose = s.policy.purpose(patient, now)
    with s.store.transaction(durable=False) as tx:
        for (kind, why), count in sorted(tally.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            accesses.log(
                tx,
                at=now,
                patient=patient,
                rtype=kind,
                action=action,
                outcome="refused" if why else "permitted",
                purpose=purpose,
                reason=why,
                count=count,
            )
    return shown


@dataclass(frozen=True, slots=True)
class Conflict:
    """A conflict the server reported for one of this device's events (sync fills these)."""

    id: str
    outbox_seq: int | None
    patient: str | None
    type: str
    resource_id: str
    fields: list[str]
    state: str  # open | resolved
    outcome: str | None
    created: float


def conflicts(s: Session) -> list[Conflict]:
    """The conflicts on the device the user may see, open ones first, oldest first."""
    with s.store.reading() as conn:
        rows = conn.execute(
            "SELECT id, outbox_seq, patient, type, resource_id, fields, state, outcome, created "
            "FROM conflicts ORDER BY state = 'resolved', created, id"
        ).fetchall()
    now = s.clock()
    return [
        Conflict(
            id=str(r[0]),
            outbox_seq=r[1],
            patient=r[2],
            type=str(r[3]),
            resource_id=str(r[4]),
            fields=[str(f) for f in orjson.loads(r[5])],
            state=str(r[6]),
            outcome=r[7],
            created=float(r[8]),
        )
        for r in rows
        if r[2] is None or s.policy.reaches(str(r[2]), now)
    ]
