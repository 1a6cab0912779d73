"""The canonical record: one source entity (an HL7 message, a source resource version) written
as one transaction Bundle through the API's transaction path, with a Provenance per resource.

Why each rule (the failures of existing converters the issue names):

* every write is a ``PUT Type/id`` with a deterministic id (:mod:`bedside.upstream.identity`)
  and ``ifMatch`` on the version it was compared with, never a POST, so nothing doubles;
* a resource whose content (without ``meta``) equals what is stored is not written at all, so a
  replay or a second pull changes nothing, not even a version number;
* each written version gets its own Provenance in the same transaction: ``target`` the version
  written, ``agent`` the source system, ``entity`` the source message or source version,
  ``recorded`` now. The server adds its own Provenance naming the system caller, as for any write;
* ``meta.source`` names the source system; source ids are kept as ``identifier``;
* for a shared record (a Patient) another source is authoritative for (``[authority]``), the
  value is not written over the authoritative one but held whole with where it came from
  (:func:`bedside.upstream.ledger.hold_variant`);
* a source deletion is a DELETE with its own Provenance (role ``source``), never silent.

The Bundle runs as a system caller through :class:`~bedside.rest.Repository`, so policy, audit,
the change feed and device sync apply unchanged.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bedside.errors import BedsideError, PreconditionFailed
from bedside.fhir.dates import now_instant
from bedside.origin import named_meta
from bedside.provenance import ACTIVITY_SYSTEM, AGENT_TYPE_SYSTEM
from bedside.rest import FhirRequest, Repository
from bedside.upstream import ledger
from bedside.upstream.config import Source, UpstreamConfig
from bedside.upstream.identity import provenance_id

__all__ = [
    "SOURCE_SYSTEM_ID",
    "AmbiguousPatient",
    "Delivery",
    "Outcome",
    "Writer",
    "add_identifier",
    "digest",
]

#: ``Provenance.agent.who.identifier.system`` of an upstream source (its URI is the value).
SOURCE_SYSTEM_ID: Final = "urn:ietf:rfc:3986"
_ENTITY_ROLE: Final = "source"  # provenance-entity-role: "a resource used as a source"
_VOLATILE: Final = ("versionId", "lastUpdated")
_NO_IDENTIFIER: Final = frozenset({"Provenance", "Binary", "Bundle", "Parameters"})


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One source entity and what it maps to.

    ``entity`` is the source's name for it (a message control id, ``Type/id/_history/vid``);
    ``entity_ref`` an absolute URL of it where there is one (a FHIR source version);
    ``resources`` carry their final ids; ``deletes`` are ``Type/id`` to remove.
    """

    entity: str
    raw: bytes
    resources: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    #: other resources changed because of this entity (a merge moves references), written
    #: with its Provenance but keeping the ``meta.source`` they have
    moved: list[dict[str, Any]] = field(default_factory=list)
    entity_ref: str | None = None
    entity_display: str | None = None


@dataclass(frozen=True)
class Outcome:
    written: int
    unchanged: int
    held: int
    duplicate: bool = False


class Writer:
    """Writes deliveries of one source as its system caller's transactions."""

    def __init__(self, repo: Repository, source: Source, config: UpstreamConfig) -> None:
        self.repo = repo
        self.source = source
        self.config = config

    def deliver(self, delivery: Delivery) -> Outcome:
        """Write what changed; a delivery already written with the same bytes writes nothing."""
        fingerprint = digest(delivery.raw)
        with self.repo.store.records() as db:
            if ledger.seen(db, self.source.name, delivery.entity) == fingerprint:
                return Outcome(0, 0, 0, duplicate=True)
        for attempt in range(3):
            try:
                outcome = self._write(delivery)
                break
            except PreconditionFailed:  # someone wrote between our read and our write
                if attempt == 2:
                    raise
        with self.repo.store.records(write=True) as db:
            ledger.note_seen(
                db, self.source.name, delivery.entity, fingerprint, outcome.written, _now()
            )
        return outcome

    def _write(self, delivery: Delivery) -> Outcome:
        entries: list[dict[str, Any]] = []
        unchanged = held = 0
        recorded = now_instant()
        work = [(r, True) for r in delivery.resources] + [(r, False) for r in delivery.moved]
        for resource, ours in work:
            body = self._stamp(resource, ours)
            current = self._current(body["resourceType"], body["id"])
            if current is not None:
                body = _carry_over(body, current)
                if _same(body, current):
                    unchanged += 1
                    continue
                if ours and self._held(body, current, delivery):
                    held += 1
                    continue
            version = int(current["meta"]["versionId"]) + 1 if current else 1
            activity = "UPDATE" if current else "CREATE"
            entries.append(_put(body, current))
            entries.append(self._provenance(body, version, delivery, recorded, activity))
        for ref in delivery.deletes:
            rtype, _, rid = ref.partition("/")
            current = self._current(rtype, rid)
            if current is None:
                unchanged += 1
                continue
            version = int(current["meta"]["versionId"]) + 1
            entries.append({"request": {"method": "DELETE", "url": ref}})
            entries.append(
                self._provenance(
                    {"resourceType": rtype, "id": rid}, version, delivery, recorded, "DELETE"
                )
            )
        if entries:
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            self.repo.handle(FhirRequest("POST", "", body=bundle, prefer_return="minimal"))
        return Outcome(len(entries) // 2, unchanged, held)

    def _stamp(self, resource: dict[str, Any], ours: bool) -> dict[str, Any]:
        body = dict(resource)
        meta = {k: v for k, v in (body.get("meta") or {}).items() if k not in _VOLATILE}
        if ours:  # the system and its name in words (bedside.origin)
            meta = named_meta(meta, self.source.system, self.source.label or self.source.name)
        if meta:
            body["meta"] = meta
        else:
            body.pop("meta", None)
        return body

    def current(self, rtype: str, rid: str) -> dict[str, Any] | None:
        """The stored resource (None when missing or deleted), read as the store has it."""
        return self._current(rtype, rid)

    def seen(self, entity: str, raw: bytes) -> bool:
        """True when ``entity`` was already written from these exact bytes."""
        with self.repo.store.records() as db:
            return ledger.seen(db, self.source.name, entity) == digest(raw)

    def match_patient(
        self, identifiers: list[dict[str, Any]], *, follow: bool = True
    ) -> str | None:
        """``Patient/id`` of the local Patient holding one of ``identifiers``, following a
        merge's ``replaced-by`` link unless ``follow`` is False; None when there is none."""
        found = self.find_patient(identifiers)
        if found is None:
            return None
        return self.survivor(found) if follow else f"Patient/{found['id']}"

    def find_patient(self, identifiers: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The one local Patient holding one of ``identifiers`` (system and value both equal).
        More than one match is an error: a person decides, never a fuzzy rule."""
        for ident in identifiers:
            query = (("identifier", f"{ident['system']}|{ident['value']}"), ("_count", "2"))
            found = self.repo.handle(FhirRequest("GET", "Patient", query=query)).resource or {}
            entries = [e["resource"] for e in found.get("entry", []) if "resource" in e]
            if len(entries) > 1:
                raise AmbiguousPatient(
                    "The patient identifier matches more than one local Patient; "
                    "a person must merge them first."
                )
            if entries:
                patient: dict[str, Any] = entries[0]
                return patient
        return None

    def survivor(self, found: dict[str, Any]) -> str:
        """``Patient/id`` of the Patient a merge left ``found`` replaced by (or ``found``)."""
        return _follow(self, found)

    def referencing(self, rtype: str, patient_ref: str) -> list[dict[str, Any]]:
        """Resources of ``rtype`` in the compartment of ``patient_ref`` (up to 1000)."""
        query = (("patient", patient_ref), ("_count", "1000"))
        found = self.repo.handle(FhirRequest("GET", rtype, query=query)).resource or {}
        return [e["resource"] for e in found.get("entry", []) if "resource" in e]

    def _current(self, rtype: str, rid: str) -> dict[str, Any] | None:
        with self.repo.store.read() as session:
            stored = session.current(rtype, rid)
        if stored is None or stored.deleted or stored.content is None:
            return None
        value: dict[str, Any] = orjson.loads(stored.content)
        return value

    def _held(self, body: dict[str, Any], current: dict[str, Any], delivery: Delivery) -> bool:
        """True when another source is authoritative for this record and wrote it last."""
        rtype = body["resourceType"]
        owner = self.config.authoritative(rtype)
        if owner is None or owner == self.source.name or owner not in self.config.sources:
            return False
        if current.get("meta", {}).get("source") != self.config.sources[owner].system:
            return False
        with self.repo.store.records(write=True) as db:
            ledger.hold_variant(
                db, self.source.name, rtype, body["id"], delivery.entity, orjson.dumps(body), _now()
            )
        return True

    def _provenance(
        self,
        body: dict[str, Any],
        version: int,
        delivery: Delivery,
        recorded: str,
        activity: str,
    ) -> dict[str, Any]:
        target = f"{body['resourceType']}/{body['id']}/_history/{version}"
        what: dict[str, Any] = {}
        if delivery.entity_ref:
            what["reference"] = delivery.entity_ref
        else:
            what["identifier"] = {
                "system": f"{self.source.system}/message",
                "value": delivery.entity,
            }
        if delivery.entity_display:
            what["display"] = delivery.entity_display
        pid = provenance_id(target, f"{self.source.name}|{delivery.entity}")
        prov = {
            "resourceType": "Provenance",
            "id": pid,
            "meta": {"source": self.source.system},
            "target": [{"reference": target}],
            "recorded": recorded,
            "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": activity}]},
            "agent": [
                {
                    "type": {"coding": [{"system": AGENT_TYPE_SYSTEM, "code": "author"}]},
                    "who": {
                        "identifier": {"system": SOURCE_SYSTEM_ID, "value": self.source.system},
                        "display": f"upstream source {self.source.name}",
                    },
                }
            ],
            "entity": [{"role": _ENTITY_ROLE, "what": what}],
        }
        return {"resource": prov, "request": {"method": "PUT", "url": f"Provenance/{pid}"}}


class AmbiguousPatient(BedsideError):
    """A source identifier matches several local Patients (never merged automatically)."""


def _follow(writer: Writer, found: dict[str, Any], depth: int = 0) -> str:
    """The Patient a merge left ``found`` replaced by (a chain of merges is followed)."""
    for link in found.get("link") or []:
        other = str(link.get("other", {}).get("reference", ""))
        if link.get("type") == "replaced-by" and other.startswith("Patient/") and depth < 5:
            survivor = writer.current("Patient", other.split("/", 1)[1])
            if survivor is not None:
                return _follow(writer, survivor, depth + 1)
            return other
    return f"Patient/{found['id']}"


def _put(body: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "PUT", "url": f"{body['resourceType']}/{body['id']}"}
    if current is not None:
        request["ifMatch"] = f'W/"{current["meta"]["versionId"]}"'
    return {"resource": body, "request": request}


def _carry_over(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Keep what a later message leaves out: a Patient's identifiers and links from other
    sources and merges; an Encounter's admission time and earlier locations."""
    if body["resourceType"] == "Encounter":
        return _carry_encounter(body, current)
    if body["resourceType"] != "Patient":
        return body
    merged = dict(body)
    ids = list(body.get("identifier") or [])
    for ident in current.get("identifier") or []:
        if ident not in ids:
            ids.append(ident)
    if ids:
        merged["identifier"] = ids
    links = list(body.get("link") or [])
    for link in current.get("link") or []:
        if link not in links:
            links.append(link)
    if links:
        merged["link"] = links
    return merged


def _carry_encounter(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    merged = dict(body)
    start = current.get("period", {}).get("start")
    if start and not body.get("period", {}).get("start"):
        merged["period"] = {**body.get("period", {}), "start": start}
    new = body.get("location") or []
    shown = {str(loc.get("location", {}).get("display")) for loc in new}
    earlier = [
        {**loc, "status": "completed"}
        for loc in current.get("location") or []
        if str(loc.get("location", {}).get("display")) not in shown
    ]
    if earlier:
        merged["location"] = earlier + list(new)
    return merged


def _same(body: dict[str, Any], current: dict[str, Any]) -> bool:
    return bool(_content(body) == _content(current))


def _content(resource: dict[str, Any]) -> Any:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in _VOLATILE}
    rest = {k: v for k, v in resource.items() if k != "meta"}
    return orjson.loads(orjson.dumps({**rest, "meta": meta}, option=orjson.OPT_SORT_KEYS))


def add_identifier(resource: dict[str, Any], system: str, value: str) -> None:
    """Keep the source's id as an identifier (types without ``identifier`` keep meta.source)."""
    if resource.get("resourceType") in _NO_IDENTIFIER:
        return
    ids: list[Any] = list(resource.get("identifier") or [])
    entry = {"system": system, "value": value}
    if entry not in ids:
        ids.append(entry)
    resource["identifier"] = ids


def _now() -> int:
    return int(time.time())
