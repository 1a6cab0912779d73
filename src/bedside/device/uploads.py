"""Uploading attachments at sync, after the push (docs/sync-protocol.md "Attachments").

An attachment is due once the DocumentReference that names it is ``synced`` on the device: the
server confirmed the signed event that carries its size and SHA-256. :func:`upload` sends each
due attachment's bytes (``PUT /sync/attachments/<id>``) and marks it synced only when the server
answered that it keeps exactly those bytes (``201``, or ``200`` for a retry of an upload whose
answer was lost: never stored twice). Retention (:mod:`bedside.device.retention`) then deletes
the file ``attachment_retention_seconds`` later. An attachment the server refuses stays on the
device, with the server's sentence in the summary; one refusal never stops the others, but a
connection that drops stops the uploads (they are tried again at the next sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import orjson

from bedside.device.errors import DeviceError
from bedside.device.records import LocalRecords
from bedside.device.session import Session
from bedside.protocol import PROTOCOL
from bedside.protocol.attachments import BINARY

if TYPE_CHECKING:
    from bedside.device.node import Node
    from bedside.device.remote import Remote
    from bedside.device.sync import SyncSummary

__all__ = ["Due", "due", "mark_synced", "payload", "upload"]

_KEPT: Final = (200, 201)


@dataclass(frozen=True, slots=True)
class Due:
    """An attachment whose record the server confirmed, not yet uploaded."""

    id: str
    document: str
    content_type: str
    sha256: str


def due(s: Session) -> list[Due]:
    """Attachments waiting to be uploaded whose DocumentReference the server confirmed."""
    out: list[Due] = []
    with s.store.reading() as conn:
        waiting = conn.execute(
            "SELECT id, patient, content_type, sha256 FROM attachments"
            " WHERE synced_at IS NULL ORDER BY created"
        ).fetchall()
        for aid, patient, ctype, digest in waiting:
            doc = LocalRecords(conn).synced_document(patient, f'"{BINARY}{aid}"')
            if doc is not None:
                out.append(Due(str(aid), doc, str(ctype), str(digest)))
    return out


def payload(s: Session, attachment_id: str) -> bytes:
    """The decrypted bytes, in memory only."""
    return s.attachments.get(attachment_id)


def mark_synced(s: Session, attachment_id: str, at: float) -> None:
    with s.store.transaction() as tx:
        tx.execute(
            "UPDATE attachments SET synced_at = ? WHERE id = ? AND synced_at IS NULL",
            (at, attachment_id),
        )


def upload(node: Node, remote: Remote, token: str, summary: SyncSummary) -> None:
    """Upload every due attachment (module docstring); counts into ``summary``."""
    for item in node.attachments_due():
        data = node.attachment_payload(item.id)
        response = remote.request(
            "PUT",
            f"{remote.root}/sync/attachments/{item.id}",
            token=token,
            params={"protocol": PROTOCOL, "document": item.document},
            content=data,
            headers={"Content-Type": item.content_type},
        )
        if response.status_code in _KEPT:
            answer = remote.json_of(response, "the attachment upload")
            if answer.get("sha256") != item.sha256 or answer.get("id") != item.id:
                raise DeviceError("The server answered for another attachment; sync was stopped.")
            node.attachment_synced(item.id)
            summary.uploaded += 1
            continue
        summary.upload_failed += 1
        summary.reasons.append(_reason(response.content))


def _reason(body: bytes) -> str:
    """The server's sentence from an OperationOutcome, or a plain default."""
    try:
        outcome = orjson.loads(body)
        text = outcome["issue"][0]["diagnostics"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return "The server did not keep a photo; it stays on this device."
    return str(text)
