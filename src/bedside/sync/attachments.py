"""The attachments the server keeps: bytes a device uploaded for a confirmed DocumentReference.

What a signed record says about its attachment, and whether uploaded bytes match it, are the
protocol's (:mod:`bedside.protocol.attachments`); here the server stores them once
(:func:`keep`: the id is the key, a retry answers as the first upload did) and reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bedside.protocol.attachments import Declared
from bedside.store.base import Records

__all__ = ["Stored", "content", "find", "keep", "settled_event"]


@dataclass(frozen=True, slots=True)
class Stored:
    """An attachment the server keeps (without its bytes)."""

    id: str
    document_id: str
    patient: str | None
    content_type: str
    size: int
    sha256: str
    device_id: str


_COLUMNS: Final = "id, document_id, patient, content_type, size, sha256, device_id"


def find(db: Records, attachment_id: str) -> Stored | None:
    row = db.one(f"SELECT {_COLUMNS} FROM attachments WHERE id = ?", [attachment_id])
    if row is None:
        return None
    return Stored(
        str(row[0]), str(row[1]), row[2], str(row[3]), int(row[4]), str(row[5]), str(row[6])
    )


def settled_event(db: Records, device: str, rtype: str, rid: str, states: tuple[str, ...]) -> bool:
    """Whether ``device`` pushed an event on ``rtype/rid`` that the server settled in one of
    ``states`` (an attachment follows its record: the record must have been accepted)."""
    marks = ", ".join("?" for _ in states)
    row = db.one(
        "SELECT 1 FROM sync_events WHERE device = ? AND resource_type = ?"
        f" AND resource_id = ? AND state IN ({marks})",
        [device, rtype, rid, *states],
    )
    return row is not None


def content(db: Records, attachment_id: str) -> bytes | None:
    row = db.one("SELECT content FROM attachments WHERE id = ?", [attachment_id])
    return None if row is None else bytes(row[0])


def keep(
    db: Records,
    expected: Declared,
    data: bytes,
    *,
    document_id: str,
    patient: str | None,
    device_id: str,
    now: float,
) -> bool:
    """Store the bytes once; False when this id is kept already (nothing written)."""
    changed = db.run(
        f"INSERT INTO attachments ({_COLUMNS}, received, content)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [
            expected.id,
            document_id,
            patient,
            expected.content_type,
            expected.size,
            expected.sha256,
            device_id,
            int(now),
            data,
        ],
    )
    return changed > 0
