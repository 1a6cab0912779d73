"""Whose record a request touched, looked up inside the server for its audit entry only.

A refused request answers the same whether or not what it named exists (a resource outside the
caller's view is "not known"), and its transaction has rolled back. Its audit entry should still
say which resource it named and whose record that is, so that a patient's access log can list
the attempts on their record ("who tried to open my record", docs/audit.md). :func:`addressed`
looks that up unconfined, in a transaction of its own:

* the resource the path names (``Type/id``, or ``Type/id/_history/v`` for a vread), as
  requested, and the patients its stored version belongs to (:func:`stored_patients`);
* the patients a write's body would have put it with;
* the patients a search or conditional request names (:func:`named_patients`).

Only patients that exist are kept (:func:`existing_patients`). Nothing found here is ever
returned to the caller: it goes into the audit trail, which the caller cannot read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.errors import FhirError
from bedside.fhir.compartment import patients_of
from bedside.fhir.resource_types import NOT_STORED, is_resource_type
from bedside.fhir.search.query import parse_search
from bedside.fhir.search.registry import params_for
from bedside.rest.access import Access
from bedside.rest.bundles import entry_request
from bedside.rest.types import FhirRequest
from bedside.store.base import Session, Store, StoredVersion

__all__ = [
    "Target",
    "addressed",
    "entry_requests",
    "existing_patients",
    "named_patients",
    "refused",
    "searched_patients",
    "stored_patients",
]

log = logging.getLogger("bedside.rest")
_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # R4 id: anything else cannot be stored
_VERSION: Final = re.compile(r"[0-9]{1,9}")
_CHUNK: Final = 100  # patient ids checked per query


@dataclass(frozen=True, slots=True)
class Target:
    """What a request addressed: its entity as requested, and the patients concerned."""

    entities: tuple[str, ...] = ()
    patients: tuple[str, ...] = ()
    hidden: bool = False  # the resource exists but the caller may not read it


def refused(store: Store, access: Access, requests: Sequence[FhirRequest]) -> Target:
    """What refused ``requests`` (one, or a transaction's entries) addressed, looked up in a
    read transaction of its own. A lookup that fails costs the audit entry these details only:
    the refusal is still audited, and its answer to the caller is the same."""
    entities: dict[str, None] = {}
    patients: set[str] = set()
    hidden = False
    try:
        with store.read() as session:
            for req in requests:
                found = addressed(session, access, req)
                entities.update(dict.fromkeys(found.entities))
                patients.update(found.patients)
                hidden = found.hidden and len(requests) == 1
    except Exception as exc:
        log.warning(
            "refused request audited without its target", extra={"error_type": type(exc).__name__}
        )
        return Target()
    return Target(tuple(entities), tuple(sorted(patients)), hidden)


def entry_requests(entries: list[dict[str, Any]], prefer: str | None) -> list[FhirRequest]:
    """The requests of a refused transaction's entries, those that can be read at all."""
    out = []
    for entry in entries:
        try:
            out.append(entry_request(entry, prefer))
        except FhirError:
            continue
    return out


def searched_patients(
    session: Session, rtype: str, params: Sequence[tuple[str, str]], shown: list[dict[str, Any]]
) -> set[str]:
    """The patients a search named (:func:`named_patients`) that exist, less those of the
    resources it returned (already in its audit entry): asked about, even when nothing shows."""
    named = named_patients(rtype, params)
    if named:
        named -= {p for r in shown for p in patients_of(r)}
    return existing_patients(session, named) if named else set()


def addressed(session: Session, access: Access, req: FhirRequest) -> Target:
    """The resource and patients ``req`` addressed, by what is stored now (unconfined)."""
    parts = [p for p in req.path.split("/") if p]
    if not parts or not _stored_type(parts[0]):
        return Target()  # the base, an unknown type, or the audit trail itself
    rtype = parts[0]
    candidates = named_patients(rtype, req.query)
    body = req.body
    if isinstance(body, dict) and body.get("resourceType") == rtype:
        candidates.update(patients_of(body))  # where the write would have put it
    entities: list[str] = []
    stored: set[str] = set()
    hidden = False
    if len(parts) >= 2 and not parts[1].startswith(("_", "$")) and _ID.fullmatch(parts[1]):
        rid = parts[1]
        ref = f"{rtype}/{rid}"
        if len(parts) == 4 and parts[2] == "_history" and _VERSION.fullmatch(parts[3]):
            ref += f"/_history/{parts[3]}"
        entities.append(ref)
        # The same queries whether or not it exists, so the time taken does not tell either.
        current = session.current(rtype, rid)
        seen = session.current(rtype, rid, visible=access.rows(rtype, "read"))
        if current is not None:
            stored.update(_patients(session, current))
            hidden = not current.deleted and seen is None
    patients = stored | existing_patients(session, candidates)
    return Target(tuple(entities), tuple(sorted(patients)), hidden)


def stored_patients(
    session: Session, rtype: str, rid: str, version: int | None = None
) -> tuple[str, ...] | None:
    """The patients whose record a stored version of ``rtype/rid`` is in (the current version
    when ``version`` is None; for a delete, the version it deleted); None when none is stored."""
    found = session.current(rtype, rid) if version is None else session.version(rtype, rid, version)
    return None if found is None else _patients(session, found)


def _patients(session: Session, found: StoredVersion) -> tuple[str, ...]:
    content = found.content
    if content is None and found.version > 1:  # a delete: whose record it was
        before = session.version(found.type, found.id, found.version - 1)
        content = before.content if before is not None else None
    if content is None:
        return ()
    resource: dict[str, Any] = orjson.loads(content)
    return patients_of(resource)


def existing_patients(session: Session, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are stored Patients (one indexed query per hundred)."""
    wanted = sorted({i for i in ids if _ID.fullmatch(i)})
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = parse_search("Patient", [("_id", ",".join(chunk))])
        page = session.search(
            query, snapshot=session.max_seq(), after=None, limit=len(chunk), visible=None
        )
        found.update(v.id for v in page.rows)
    return found


def named_patients(rtype: str, params: Sequence[tuple[str, str]]) -> set[str]:
    """Patient ids a search on ``rtype`` names: ``patient=x``, ``subject=Patient/x``,
    ``subject:Patient=x`` (any reference parameter), ``Patient?_id=x``; not checked to exist."""
    known = params_for(rtype)
    out: set[str] = set()
    for name, raw in params:
        code, _, modifier = name.partition(":")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if rtype == "Patient" and code == "_id":
            out.update(values)
            continue
        param = known.get(code)
        if param is None or param.kind != "reference":
            continue
        bare = code == "patient" or modifier == "Patient"
        for value in values:
            head, sep, rid = value.rstrip("/").rpartition("Patient/")
            if sep and (not head or head.endswith("/")):
                out.add(rid.partition("/")[0])
            elif bare and "/" not in value:
                out.add(value)
    return out


def _stored_type(rtype: str) -> bool:
    return is_resource_type(rtype) and rtype not in NOT_STORED and rtype != "AuditEvent"
