"""Wound photos on the device: one encrypted attachment and the DocumentReference that names it.

A photo is a DocumentReference (LOINC 72170-4 "Photographic image") whose one attachment has
``url`` ``Binary/<attachment id>``, ``contentType``, ``size`` and the SHA-256 of the bytes (the
extension of :mod:`bedside.protocol.attachments`), all inside the signed event, so the server can
check the bytes the device uploads after the event was confirmed. DocumentReference rather than
Media: Media is gone from FHIR R5 (folded into DocumentReference), the portal already shows a
patient's DocumentReferences and fetches a ``Binary/<id>`` attachment, and the brief's conflict
table puts photos in the append-only DocumentReference class.

:func:`attach` checks the bytes (an image of an allowed kind, by its first bytes, not by what
the browser claims; at most :data:`~bedside.protocol.attachments.MAX_BYTES`), asks the policy as
for any DocumentReference create, then writes the encrypted file and, in one transaction, the
attachment row, the resource and its signed outbox event: both saved, or neither (the file is
deleted again if the transaction fails). Nothing is written in plaintext.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device import accesses, writes
from bedside.device.errors import DeviceError
from bedside.device.records import LocalRecords
from bedside.device.session import Session
from bedside.protocol.attachments import BINARY, MAX_BYTES, sha256_extension
from bedside.protocol.event import format_time

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "PHOTO_CODE",
    "Photo",
    "attach",
    "kind_of",
    "listing",
    "photo_document",
]

PHOTO_CODE: Final = {
    "system": "http://loinc.org",
    "code": "72170-4",
    "display": "Photographic image",
}
#: Image kinds a photo may be, by the first bytes of the file (a browser's type is a claim).
KINDS: Final = ("image/jpeg", "image/png", "image/webp", "image/heic")
_MAX_TEXT: Final = 200
_TOO_BIG: Final = (
    f"This photo is larger than {MAX_BYTES // (1024 * 1024)} MB. Take it again at a smaller size."
)
_NOT_IMAGE: Final = "This file is not a photo Bedside can keep (JPEG, PNG, WebP or HEIC)."
_EMPTY: Final = "Choose or take a photo first."


def kind_of(data: bytes) -> str | None:
    """The image type of ``data`` by its signature, or None when it is not an allowed kind."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"heif"):
        return "image/heic"
    return None


def photo_document(
    patient: str, attachment_id: str, content_type: str, data: bytes, description: str, at: float
) -> dict[str, Any]:
    """The DocumentReference of a photo (before the device gives it an id)."""
    when = format_time(at)
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [PHOTO_CODE], "text": "Wound photo"},
        "subject": {"reference": f"Patient/{patient}"},
        "date": when,
        "description": description,
        "content": [
            {
                "attachment": {
                    "contentType": content_type,
                    "url": BINARY + attachment_id,
                    "size": len(data),
                    "title": "Wound photo",
                    "creation": when,
                    "extension": [sha256_extension(hashlib.sha256(data).hexdigest())],
                }
            }
        ],
    }


def attach(s: Session, patient: str, data: bytes, description: str) -> writes.Recorded:
    """Keep a photo of ``patient`` with its description (see the module docstring)."""
    text = " ".join(description.split())[:_MAX_TEXT]
    if not data:
        raise DeviceError(_EMPTY)
    if len(data) > MAX_BYTES:
        raise DeviceError(_TOO_BIG)
    kind = kind_of(data)
    if kind is None:
        raise DeviceError(_NOT_IMAGE)
    if not text:
        raise DeviceError("Add a short description, for example where the wound is.")
    now = s.clock()
    probe = photo_document(patient, "0" * 32, kind, data, text, now)
    prepared = writes.prepare(s, "create", probe, patient)  # the policy, before any write
    attachment_id = s.attachments.put(data)
    content = prepared.resource["content"][0]["attachment"]
    content["url"] = BINARY + attachment_id
    try:
        with s.store.transaction() as tx:
            tx.execute(
                "INSERT INTO attachments (id, patient, content_type, size, sha256, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (attachment_id, patient, kind, len(data), hashlib.sha256(data).hexdigest(), now),
            )
            accesses.log(
                tx,
                at=now,
                patient=patient,
                rtype="DocumentReference",
                resource_id=attachment_id,
                action="attach",
                outcome="permitted",
                purpose=prepared.purpose,
            )
            return writes.commit(s, tx, prepared)
    except BaseException:
        s.attachments.delete(attachment_id)
        raise


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as the chart lists it."""

    document: str  # the DocumentReference id
    attachment: str  # the attachment id (Binary/<id>)
    description: str
    date: str
    state: str  # saved-on-device | sent | on-server-only | not-accepted
    on_device: bool  # the encrypted file is still here


def listing(s: Session, patient: str) -> list[Photo]:
    """The patient's photos on this device, newest first, each with its sync state."""
    with s.store.reading() as conn:
        rows = LocalRecords(conn).documents(patient, '"code":"72170-4"')
        kept = {
            str(r[0]): r[1]
            for r in conn.execute(
                "SELECT id, synced_at FROM attachments WHERE patient = ?", (patient,)
            )
        }
    found: list[Photo] = []
    for doc_id, body, local_state, trouble in rows:
        resource = orjson.loads(body)
        url = str(((resource.get("content") or [{}])[0].get("attachment") or {}).get("url") or "")
        if not url.startswith(BINARY):
            continue
        aid = url.removeprefix(BINARY)
        if trouble:
            state = "not-accepted"
        elif aid not in kept:
            state = "on-server-only"
        elif kept[aid] is not None:
            state = "sent"
        else:
            state = "saved-on-device" if local_state != "synced" else "record-sent"
        found.append(
            Photo(
                str(doc_id),
                aid,
                str(resource.get("description") or ""),
                str(resource.get("date") or ""),
                state,
                aid in kept,
            )
        )
    return found
