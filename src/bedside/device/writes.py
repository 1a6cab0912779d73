"""Writing on the device: record an action, keep drafts, add attachments (G1, G3, G7).

A clinical action commits locally in one transaction — the resource with ``local_state =
saved-on-device``, its search rows, its signed outbox event and its access-log row — so it shows
at once and is never half-saved. The offline policy is asked *before* anything is written: a
refused write leaves no resource, no search row and no event, only the logged refusal.

Ids: a create gets a fresh UUID (RFC 9562 v4), which the server keeps; an update or correct of
a resource names the server version it was based on, or ``pending:<seq>`` when it changes a
resource this device created and the server has not confirmed yet (sync resolves the chain).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device import accesses
from bedside.device.errors import DeviceError, Refused
from bedside.device.index import display_of, patient_of, search_rows
from bedside.device.outbox import Outbox
from bedside.device.records import LocalRecords
from bedside.device.session import Session
from bedside.device.store import Connection
from bedside.fhir.structure import check_resource
from bedside.protocol.event import ACTIONS, format_time

__all__ = [
    "SAVED",
    "Prepared",
    "Recorded",
    "add_attachment",
    "commit",
    "new_id",
    "prepare",
    "read_attachment",
    "record",
    "record_set",
    "reindex",
]

SAVED: Final = "saved-on-device"
_CONTENT_TYPE: Final = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the app shows after a write: which resource, its event, its sync state."""

    type: str
    id: str
    seq: int
    state: str = SAVED


@dataclass(frozen=True, slots=True)
class Prepared:
    """A write that passed validation and the policy, ready to commit."""

    action: str
    resource: dict[str, Any]
    patient: str | None
    server_version: str | None
    purpose: str | None
    at: float


def new_id() -> str:
    """A UUIDv7 (RFC 9562): unique everywhere, and in time order on this device.

    Time-ordered ids land next to each other in the store's B-trees, so a write touches the
    same few pages as the one before rather than a random page of each index.
    """
    ms = time.time_ns() // 1_000_000
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | secrets.randbits(76)
    value = (value & ~(0b11 << 62)) | (0b10 << 62)  # the RFC 4122 variant bits
    return str(uuid.UUID(int=value))


def prepare(s: Session, action: str, resource: dict[str, Any], patient: str | None) -> Prepared:
    """Validate a write and ask the policy; :class:`Refused` (logged) when it may not happen."""
    if action not in ACTIONS:
        raise DeviceError(f"An action is one of {', '.join(ACTIONS)}.")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise DeviceError("A record must be a FHIR resource with a resourceType.")
    try:
        body: dict[str, Any] = orjson.loads(orjson.dumps(resource))
    except (TypeError, orjson.JSONEncodeError):
        raise DeviceError("This record holds a value that is not JSON.") from None
    rtype = str(body["resourceType"])
    server_version: str | None = None
    if action == "create":
        body["id"] = new_id()
    derived = patient_of(body)
    if patient is not None and derived is not None and patient != derived:
        raise DeviceError("This record belongs to another patient than the one given.")
    patient = derived if derived is not None else patient
    if action != "create":
        rid = body.get("id")
        with s.store.reading() as conn:
            row = LocalRecords(conn).owner(rtype, rid) if isinstance(rid, str) else None
        if row is None:
            raise DeviceError("This record is not on this device, so it cannot be changed here.")
        if row[0] != patient:
            raise DeviceError("A record cannot be moved to another patient.")
        server_version = row[1]
    issues = check_resource(body, rtype)
    if issues:
        raise DeviceError(f"This record cannot be saved: {issues[0].diagnostics}.")
    now = s.clock()
    why = s.policy.refuse_write(action, body, patient, now)
    purpose = s.policy.purpose(patient, now) if patient else None
    if why is not None:
        raise accesses.refusal(
            s.store,
            at=now,
            patient=patient,
            rtype=rtype,
            action=action,
            purpose=purpose,
            reason=why,
        )
    return Prepared(action, body, patient, server_version, purpose, now)


def commit(s: Session, tx: Connection, p: Prepared) -> Recorded:
    """Write a prepared action inside ``tx``: resource, search rows, event, access log."""
    rtype, rid = str(p.resource["resourceType"]), str(p.resource["id"])
    base: str | None = None
    if p.action != "create":
        base = p.server_version
        if base is None:
            created = Outbox.create_seq(tx, rtype, rid)
            if created is None:
                raise DeviceError("This record has no version to change; sync the device first.")
            base = f"pending:{created}"
    entry = s.outbox.append(
        tx,
        action=p.action,
        resource=p.resource,
        patient=p.patient,
        base_version=base,
        purpose=p.purpose,
        at=p.at,
    )
    provenance = {
        "action": p.action,
        "seq": entry.seq,
        "device": s.info.device_id,
        "user": s.info.user,
        "device_time": format_time(p.at),
    }
    LocalRecords(tx).save_local(
        (
            rtype,
            rid,
            p.patient,
            SAVED,
            orjson.dumps(p.resource).decode("utf-8"),
            p.at,
            orjson.dumps(provenance).decode("utf-8"),
        ),
    )
    reindex(tx, rtype, rid, p.patient, p.resource)
    if rtype == "Patient":
        display, birth_date, gender = display_of(p.resource)
        tx.execute(
            "UPDATE patients SET display = ?, birth_date = ?, gender = ? WHERE id = ?",
            (display, birth_date, gender, rid),
        )
    # A permitted write's audit record is its signed outbox event (the server turns it into an
    # AuditEvent on ingest); only refusals, which leave no event, go to the access log.
    return Recorded(rtype, rid, entry.seq)


def record(
    s: Session, action: str, resource: dict[str, Any], patient: str | None = None
) -> Recorded:
    """Record one clinical action: checked, then committed whole or not at all."""
    prepared = prepare(s, action, resource, patient)
    with s.store.transaction() as tx:
        return commit(s, tx, prepared)


def record_set(
    s: Session, resources: list[dict[str, Any]], patient: str, *, draft: str | None = None
) -> list[Recorded]:
    """Create several resources as one clinical action (a NEWS2 set): all commit, or none.

    Every member must name ``patient`` (the patient of the page that made the set): a set
    never spans two patients. A reference from one member to an earlier one
    (``Observation/<the id it was built with>``, as a NEWS2 total's ``derivedFrom``) is
    rewritten to the id the device gives that member, as a FHIR transaction resolves the
    references between its entries (FHIR http.html#trules). ``draft``, the draft the set was
    typed into, is deleted in the same transaction: the set is saved and the draft gone, or
    neither, so a crash never leaves both to be recorded twice.
    """
    if not resources:
        raise DeviceError("There is nothing to record.")
    renamed: dict[str, str] = {}
    prepared: list[Prepared] = []
    for resource in resources:
        if not isinstance(resource, dict):
            raise DeviceError("A record must be a FHIR resource with a resourceType.")
        body = _renamed(resource, renamed)
        if patient_of(body) != patient:
            raise DeviceError(_OTHER_PATIENT)
        ready = prepare(s, "create", body, patient)
        old = resource.get("id")
        if isinstance(old, str):
            kind = str(body["resourceType"])
            renamed[f"{kind}/{old}"] = f"{kind}/{ready.resource['id']}"
        prepared.append(ready)
    with s.store.transaction() as tx:
        done = [commit(s, tx, p) for p in prepared]
        if draft is not None:
            tx.execute(
                "DELETE FROM drafts WHERE id = ? AND patient = ? AND outbox_seq IS NULL",
                (draft, patient),
            )
        return done


_OTHER_PATIENT: Final = (
    "This set holds a record for another patient than the one open, so nothing was saved."
)


def _renamed(value: Any, renamed: dict[str, str]) -> Any:
    """``value`` with every ``reference`` found in ``renamed`` replaced."""
    if isinstance(value, dict):
        out = {k: _renamed(v, renamed) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in renamed:
            out["reference"] = renamed[ref]
        return out
    if isinstance(value, list):
        return [_renamed(v, renamed) for v in value]
    return value


def reindex(
    tx: Connection, rtype: str, rid: str, patient: str | None, resource: dict[str, Any]
) -> None:
    """Replace a resource's search rows."""
    LocalRecords(tx).reindex(rtype, rid, patient, search_rows(resource))


def _document(patient: str) -> dict[str, Any]:
    """What an attachment is to the policy: a document in the patient's record."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "content": [],
    }


def add_attachment(s: Session, patient: str, content_type: str, data: bytes) -> str:
    """Store an encrypted attachment for ``patient`` (a wound photo, a scanned form); its id.

    The policy decides as for creating a DocumentReference for the patient. The bytes are
    encrypted before they reach the disk (:class:`bedside.device.attachments.Attachments`).
    """
    if not _CONTENT_TYPE.match(content_type):
        raise DeviceError("An attachment needs a content type such as image/jpeg.")
    now = s.clock()
    why = s.policy.refuse_write("create", _document(patient), patient, now)
    purpose = s.policy.purpose(patient, now)
    if why is not None:
        raise accesses.refusal(
            s.store,
            at=now,
            patient=patient,
            rtype="DocumentReference",
            action="attach",
            purpose=purpose,
            reason=why,
        )
    attachment_id = s.attachments.put(data)
    try:
        with s.store.transaction() as tx:
            tx.execute(
                "INSERT INTO attachments (id, patient, content_type, size, sha256, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    attachment_id,
                    patient,
                    content_type,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    now,
                ),
            )
            accesses.log(
                tx,
                at=now,
                patient=patient,
                rtype="DocumentReference",
                resource_id=attachment_id,
                action="attach",
                outcome="permitted",
                purpose=purpose,
            )
    except BaseException:
        s.attachments.delete(attachment_id)
        raise
    return attachment_id


def read_attachment(s: Session, attachment_id: str) -> tuple[str, bytes]:
    """(content type, bytes) of an attachment the policy lets the user open; logged."""
    with s.store.reading() as conn:
        row = conn.execute(
            "SELECT patient, content_type FROM attachments WHERE id = ?", (attachment_id,)
        ).fetchone()
    if row is None:
        raise DeviceError("This attachment is not on this device.")
    patient = row[0]
    now = s.clock()
    why = s.policy.refuse_read(_document(patient), patient, now) if patient else None
    with s.store.transaction() as tx:
        accesses.log(
            tx,
            at=now,
            patient=patient,
            rtype="DocumentReference",
            resource_id=attachment_id,
            action="read",
            outcome="refused" if why else "permitted",
            purpose=s.policy.purpose(patient, now) if patient else None,
            reason=why,
        )
    if why is not None:
        raise Refused(why)
    return str(row[1]), s.attachments.get(attachment_id)
