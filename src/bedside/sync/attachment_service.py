"""A device's attachments for one caller: upload them after their record, read them back.

Built per request like ``Repository(store, caller)`` (:class:`~bedside.policy.bound.
CallerBound`): it checks that the record an attachment belongs to came from this device and was
accepted, that the caller may read that record now (through the Repository, so policy and its
audit apply), that the bytes are what the signed record declared, keeps them once, and audits
the upload or the read (a refusal on its own). The HTTP layer (:mod:`bedside.web.
attachments_api`) only parses the request and answers (docs/sync-protocol.md "Attachments").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bedside.errors import Conflict, FhirError, Forbidden, Unprocessable
from bedside.fhir.compartment import patients_of
from bedside.fleet.device_auth import DeviceAuth
from bedside.policy.bound import CallerBound
from bedside.protocol import attachments as wire
from bedside.rest.repository import Repository
from bedside.rest.trail import Trail
from bedside.rest.types import FhirRequest
from bedside.store.base import Store
from bedside.sync import attachments

__all__ = ["NOT_YET", "Kept", "Uploads", "find"]

NOT_YET: Final = (
    "The record this attachment belongs to has not been accepted from this device yet; "
    "send the record first."
)
_SETTLED: Final = ("confirmed", "merged")


@dataclass(frozen=True, slots=True)
class Kept:
    """What an upload answers: the attachment as kept, and whether this upload kept it."""

    id: str
    document: str
    size: int
    sha256: str
    new: bool


def find(store: Store, attachment_id: str) -> attachments.Stored | None:
    """The attachment kept under ``attachment_id``, if any (no bytes, no access decision: the
    read that follows decides)."""
    with store.read() as session:
        return attachments.find(session.records(), attachment_id)


@dataclass
class Uploads(CallerBound):
    base: str
    devices: DeviceAuth = field(kw_only=True)
    network: str | None = field(default=None, kw_only=True)

    def keep(self, aid: str, document: str, data: bytes) -> Kept:
        """Keep ``data`` as attachment ``aid`` of ``DocumentReference/document``, once."""
        trail = Trail(self.caller, self.policy.clock, self.network)
        entity = [f"{wire.BINARY}{aid}", f"DocumentReference/{document}"]
        try:
            device = self.devices.active_device(self.caller)
            with self.store.read() as session:
                sent = attachments.settled_event(
                    session.records(), device.device_id, "DocumentReference", document, _SETTLED
                )
            if not sent:
                raise Conflict(NOT_YET)
            record = self._document(document, "You may not add to this record.")
            expected = wire.declared(record, aid)
            if expected is None:
                raise Unprocessable("This record does not refer to this attachment.")
            wrong = wire.mismatch(data, expected)
            if wrong is not None:
                raise Unprocessable(wrong)
            patient = next(iter(sorted(patients_of(record))), None)
            with self.store.write() as session:
                db = session.records()
                new = attachments.keep(
                    db,
                    expected,
                    data,
                    document_id=document,
                    patient=patient,
                    device_id=device.device_id,
                    now=self.policy.clock(),
                )
                kept = attachments.find(db, aid)
                if kept is None or kept.sha256 != expected.sha256 or kept.document_id != document:
                    raise Conflict("Another attachment is already kept under this id.")
                trail.note(
                    "attachment-upload",
                    rtype="Binary",
                    patients=[patient] if patient else [],
                    entities=entity,
                    description="attachment uploaded" if new else "attachment upload repeated",
                )
                self.auditor.append(db, trail.entries)
        except FhirError as exc:
            trail.entries = []
            trail.failure("attachment-upload", "Binary", exc, entities=entity)
            self.auditor.submit(trail.entries)
            raise
        return Kept(aid, document, expected.size, expected.sha256, new)

    def read(self, kept: attachments.Stored) -> bytes:
        """The bytes of ``kept``, if the caller may read the record it belongs to (audited)."""
        self._document(kept.document_id, "You may not open this attachment.")
        with self.store.read() as session:
            data = attachments.content(session.records(), kept.id) or b""
        trail = Trail(self.caller, self.policy.clock, self.network)
        trail.note(
            "read",
            rtype="Binary",
            patients=[kept.patient] if kept.patient else [],
            entities=[f"{wire.BINARY}{kept.id}"],
            description="attachment read",
        )
        self.auditor.submit(trail.entries)
        return data

    def _document(self, doc: str, refused: str) -> Any:
        """The DocumentReference as the caller may read it now (policy and audit of the
        Repository); 403 with ``refused`` when the caller may not."""
        repo = Repository.of(self, self.base, self.network)
        try:
            found = repo.handle(FhirRequest("GET", f"DocumentReference/{doc}")).resource
        except FhirError:
            raise Forbidden(refused) from None
        if not isinstance(found, dict):
            raise Forbidden(refused)
        return found
