"""Drafts: a form left half done, resumed later, and recorded as an action when finished.

A community nurse interrupted mid-assessment must find her work where she left it, even after
the device locked. A draft lives only in the encrypted store and is never sent: nothing leaves
the device until :func:`record_draft` turns it into an action, which goes through the same
policy check as any write and, in the same transaction, links the draft to its outbox event
(``outbox_seq``). Retention deletes recorded drafts once their event is settled
(:mod:`bedside.device.workingset`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device.chart import not_reached
from bedside.device.errors import DeviceError
from bedside.device.index import patient_of
from bedside.device.session import Session
from bedside.device.writes import Recorded, commit, prepare

__all__ = ["Draft", "discard_draft", "list_drafts", "record_draft", "resume_draft", "save_draft"]

_COLUMNS: Final = "id, patient, type, body, created, updated, outbox_seq"
_MISSING: Final = "This draft is not on this device any more."


@dataclass(frozen=True, slots=True)
class Draft:
    """One draft: unsent work in progress (``outbox_seq`` set once recorded)."""

    id: str
    patient: str | None
    type: str
    resource: dict[str, Any]
    created: float
    updated: float
    outbox_seq: int | None


def _draft(row: Sequence[Any]) -> Draft:
    return Draft(
        id=str(row[0]),
        patient=row[1],
        type=str(row[2]),
        resource=orjson.loads(row[3]),
        created=float(row[4]),
        updated=float(row[5]),
        outbox_seq=row[6],
    )


def save_draft(
    s: Session,
    resource: dict[str, Any],
    *,
    patient: str | None = None,
    draft_id: str | None = None,
) -> str:
    """Save (``draft_id``: replace) a draft; its id. The patient must be one of the user's."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise DeviceError("A draft must be a FHIR resource with a resourceType.")
    rtype = str(resource["resourceType"])
    derived = patient_of(resource)
    if patient is not None and derived is not None and patient != derived:
        raise DeviceError("This draft belongs to another patient than the one given.")
    patient = derived if derived is not None else patient
    if patient is not None:
        refusal = not_reached(s, patient, rtype, "draft")
        if refusal is not None:
            raise refusal
    try:
        body = orjson.dumps(resource).decode("utf-8")
    except TypeError:
        raise DeviceError("This draft holds a value that is not JSON.") from None
    now = s.clock()
    with s.store.transaction() as tx:
        if draft_id is None:
            draft_id = str(uuid.uuid4())
            tx.execute(
                f"INSERT INTO drafts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (draft_id, patient, rtype, body, now, now),
            )
        else:
            cur = tx.execute(
                "UPDATE drafts SET patient = ?, type = ?, body = ?, updated = ? "
                "WHERE id = ? AND outbox_seq IS NULL",
                (patient, rtype, body, now, draft_id),
            )
            if cur.rowcount != 1:
                raise DeviceError(_MISSING)
    return draft_id


def list_drafts(s: Session, patient: str | None = None) -> list[Draft]:
    """Unrecorded drafts, most recently changed first (of ``patient`` when given)."""
    sql = f"SELECT {_COLUMNS} FROM drafts WHERE outbox_seq IS NULL"
    args: list[Any] = []
    if patient is not None:
        sql += " AND patient = ?"
        args.append(patient)
    with s.store.reading() as conn:
        rows = conn.execute(sql + " ORDER BY updated DESC, id", args).fetchall()
    now = s.clock()
    return [d for d in map(_draft, rows) if d.patient is None or s.policy.reaches(d.patient, now)]


def resume_draft(s: Session, draft_id: str) -> Draft:
    """One unrecorded draft, to continue; refused when its patient is no longer the user's."""
    with s.store.reading() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM drafts WHERE id = ? AND outbox_seq IS NULL", (draft_id,)
        ).fetchone()
    if row is None:
        raise DeviceError(_MISSING)
    draft = _draft(row)
    if draft.patient is not None:
        refusal = not_reached(s, draft.patient, draft.type, "draft")
        if refusal is not None:
            raise refusal
    return draft


def discard_draft(s: Session, draft_id: str) -> None:
    """Delete an unrecorded draft."""
    with s.store.transaction() as tx:
        cur = tx.execute("DELETE FROM drafts WHERE id = ? AND outbox_seq IS NULL", (draft_id,))
        if cur.rowcount != 1:
            raise DeviceError(_MISSING)


def record_draft(s: Session, draft_id: str, action: str = "create") -> Recorded:
    """Record a draft as ``action``, linking the draft to the event in the same transaction."""
    draft = resume_draft(s, draft_id)
    prepared = prepare(s, action, draft.resource, draft.patient)
    with s.store.transaction() as tx:
        done = commit(s, tx, prepared)
        cur = tx.execute(
            "UPDATE drafts SET outbox_seq = ?, updated = ? WHERE id = ? AND outbox_seq IS NULL",
            (done.seq, prepared.at, draft_id),
        )
        if cur.rowcount != 1:  # recorded meanwhile by another thread: undo this one
            raise DeviceError(_MISSING)
    return done
