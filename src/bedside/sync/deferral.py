"""Deferring a review item: a reviewer puts it aside with a note (table ``sync_review_deferrals``).

A deferral does not settle anything: the item stays open in its queue, the device keeps its
``needs-review`` state, nothing is written to the record. It records who put the item aside,
when and why, so the next reviewer reads the note instead of starting again. The note is the
reviewer's own words and may carry clinical detail, so it is stored here and shown on the
item's page, never copied into the audit trail (the audit event names the item only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bedside.errors import InvalidRequest
from bedside.store.base import Records

__all__ = ["NOTE_MAX", "Deferral", "defer", "deferred", "latest"]

NOTE_MAX: Final = 2000  # characters


@dataclass(frozen=True, slots=True)
class Deferral:
    item_id: str
    at: int
    by: str
    note: str


def defer(db: Records, item_id: str, *, by: str, note: str, now: float) -> Deferral:
    """Record one deferral of ``item_id``; InvalidRequest for an empty or overlong note."""
    note = note.strip()
    if not note:
        raise InvalidRequest("Write a note saying why the item is deferred.")
    if len(note) > NOTE_MAX:
        raise InvalidRequest(f"The note is too long: at most {NOTE_MAX} characters.")
    db.run(
        "INSERT INTO sync_review_deferrals (item_id, deferred_at, deferred_by, note)"
        " VALUES (?, ?, ?, ?)",
        [item_id, int(now), by, note],
    )
    return Deferral(item_id, int(now), by, note)


def latest(db: Records, item_id: str) -> Deferral | None:
    """The item's most recent deferral, if any."""
    row = db.one(
        "SELECT item_id, deferred_at, deferred_by, note FROM sync_review_deferrals"
        " WHERE item_id = ? ORDER BY deferred_at DESC LIMIT 1",
        [item_id],
    )
    if row is None:
        return None
    return Deferral(str(row[0]), int(row[1]), str(row[2]), str(row[3]))


def deferred(db: Records, item_ids: list[str]) -> set[str]:
    """Which of ``item_ids`` have been deferred at least once (one query, for a listing)."""
    if not item_ids:
        return set()
    marks = ", ".join("?" for _ in item_ids)
    rows = db.rows(
        f"SELECT DISTINCT item_id FROM sync_review_deferrals WHERE item_id IN ({marks})",
        list(item_ids),
    )
    return {str(r[0]) for r in rows}
