"""Requests the Repository routes away from stored resources: the operations
(``$everything``, ``$break-glass``) and the read-only ``AuditEvent`` type, which is served from
the audit trail (ADR 0006). ``OPERATIONS`` lists every operation with its definition, for the
CapabilityStatement.

Both run inside the Repository's transaction, with its caller, policy and audit trail.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from bedside.audit.search import AuditSearch
from bedside.errors import Forbidden, MethodNotAllowed, NotFound
from bedside.policy import breakglass
from bedside.rest.bulk_export import DEFINITIONS as EXPORTS
from bedside.rest.everything import DEFINITION as EVERYTHING
from bedside.rest.everything import everything
from bedside.rest.targets import stored_patients
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session

if TYPE_CHECKING:
    from bedside.rest.repository import Repository

__all__ = ["OPERATIONS", "audit_events", "operation"]


#: (name, level, definition URL) of every operation served; level is instance, type or system.
OPERATIONS: Final = (
    ("everything", "instance", EVERYTHING),
    ("everything", "type", EVERYTHING),
    ("break-glass", "instance", "urn:bedside:operation:break-glass"),
    ("export", "system", EXPORTS["system"]),
    ("export", "type", EXPORTS["patient"]),
    ("export", "group", EXPORTS["group"]),
)


#: Where $export is served: (type, type-level?) -> export level.
_EXPORTS: Final = {(None, True): "system", ("Patient", True): "patient", ("Group", False): "group"}


def operation(
    repo: Repository,
    session: Session,
    rtype: str | None,
    rid: str | None,
    name: str,
    req: FhirRequest,
) -> FhirResponse:
    """``Patient/$everything`` and ``Patient/{id}/$everything`` (GET or POST), ``POST
    Patient/{id}/$break-glass``; any
    other operation, or one at another level, is not supported (404 ``not-supported``)."""
    if name == "$export" and repo.exports is not None and (rtype, rid is None) in _EXPORTS:
        level = _EXPORTS[(rtype, rid is None)]
        return repo.exports.kick_off(repo, session, level, rid, req)
    if rtype == "Patient" and name == "$everything":
        if req.method not in ("GET", "POST"):
            raise MethodNotAllowed(f"$everything takes GET or POST, not {req.method}.")
        return everything(repo, session, rid, req)
    if rtype == "Patient" and rid is not None and name == "$break-glass" and req.method == "POST":
        current = session.current("Patient", rid)
        exists = current is not None and not current.deleted
        body, grant = breakglass.start(  # a refusal is audited by Repository.handle
            session.records(),
            repo.caller,
            exists,
            rid,
            req.body,
            rules=repo.policy.rules,
            now=repo.policy.clock(),
        )
        repo.trail.note(
            "break-glass",
            rtype=rtype,
            patients=[rid],
            purpose=("BTG",),
            description=f"break-glass started ({grant})",
        )
        return FhirResponse(200, body)
    where = "the server" if rtype is None else (f"a {rtype}" if rid else f"the {rtype} type")
    raise NotFound(f"Operation {name} is not supported on {where}.", code="not-supported")


def audit_events(
    repo: Repository, session: Session, parts: list[str], req: FhirRequest
) -> FhirResponse:
    """AuditEvent, read-only: auditors see all of it, a patient user the events about their
    own record, nobody else anything."""
    if req.method not in ("GET", "HEAD") and parts[1:] != ["_search"]:
        raise MethodNotAllowed("The audit trail is read-only.")
    interaction = "read" if len(parts) == 2 and parts[1] != "_search" else "search"
    repo.access.require("AuditEvent", interaction)
    own = None
    if repo.access.view.confined:
        own = repo.caller.user_patient
        if not own:
            raise Forbidden("Only auditors and patients may read the audit trail.")
    audit = AuditSearch(session.records(), repo.base, partial(stored_patients, session))
    if interaction == "read":
        found = audit.read(parts[1], patient_only=own)  # another patient's event: not known
        if found is None:
            raise NotFound(f"AuditEvent/{parts[1]} is not known.")
        repo.trail.note("read", rtype="AuditEvent", resources=[found])
        return FhirResponse(200, found)
    bundle = audit.search(list(req.query), patient_only=own)
    repo.trail.note(
        "search-type",
        rtype="AuditEvent",
        patients=[own] if own else [],
        query=urlencode(req.query),
        description=f"{len(bundle.get('entry', []))} audit events returned",
    )
    return FhirResponse(200, bundle)
