"""``Patient/{id}/$everything`` and ``Patient/$everything`` (operation-patient-everything.html).

The Patient and every resource in its compartment, each type confined exactly as a search of
that type by the caller would be (``Access.rows(type, "search")`` inside the store's query):
types the token or role may not search are left out, rows the caller may not see are never
read. A Patient the caller may not read answers like a missing one (404).

Parameters: ``_since`` (only resources changed at or after it), ``_type`` (a comma-separated
list of types), ``_count`` (page size, default 50, at most 1000). Pages follow the types in a
fixed order (Patient first) and, within a type, the order resources were created; the cursor
in the ``next`` link holds the snapshot the first page was taken at, so writes between pages
neither repeat nor skip a resource. Resources referenced from the compartment (Practitioner,
Organization, ...) are not added: a client reads those itself.

At the type level the same runs for each Patient a search of Patient by the caller finds, in
the order they were created; the cursor then also holds the sort key of the patient a page
ended in, and the next page finds that patient again through the same confined search, so a
cursor edited by hand can only move among the caller's own patients.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from bedside.errors import FhirError, InvalidRequest
from bedside.fhir.compartment import PATIENT_COMPARTMENT, patient_compartment
from bedside.fhir.resource_types import NOT_STORED, is_resource_type
from bedside.fhir.search.query import SearchQuery, parse_search
from bedside.numerals import is_number
from bedside.rest.interactions import Interactions, load
from bedside.rest.paging import Cursor
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session, StoredVersion

if TYPE_CHECKING:
    from bedside.rest.repository import Repository

__all__ = ["DEFINITION", "TYPES", "everything"]

DEFINITION: Final = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
_COUNT: Final = 50
_MAX_COUNT: Final = 1000
#: Patients read per query when paging through the type level's patients.
_PATIENT_BATCH: Final = 50
_PARAMETERS: Final = frozenset({"_since", "_type", "_count", "_cursor", "_format", "_pretty"})
#: Compartment types in the order pages follow; AuditEvent is the audit trail's (ADR 0006).
TYPES: Final = ("Patient", *sorted(set(PATIENT_COMPARTMENT) - {"Patient", "AuditEvent"}))


def everything(
    repo: Repository, session: Session, pid: str | None, req: FhirRequest
) -> FhirResponse:
    """One patient's record (``Patient/{id}/$everything``) or, with ``pid`` None, that of every
    patient the caller may find by searching Patient (``Patient/$everything``), patient by
    patient in the order they were created."""
    params = _params(req)
    if pid is not None:
        Interactions(session, repo.access, repo.hooks).read("Patient", pid)  # 404 if not visible
    else:
        repo.access.require("Patient", "search")
    types = _types(repo, params.get("_type"))
    count = _count(params.get("_count"))
    cursor = Cursor.decode(params["_cursor"]) if "_cursor" in params else None
    snapshot = cursor.snapshot if cursor else session.max_seq()
    resume, start, after = _position(cursor, len(types), pid is None)
    since = [("_lastUpdated", f"ge{params['_since']}")] if "_since" in params else []
    found: list[tuple[tuple[object, ...], StoredVersion, str]] = []
    for patient_key, who in _patients(repo, session, pid, snapshot, resume):
        if patient_key == resume:
            i = start  # the patient the cursor stopped in (or the only one)
        else:
            i, after = 0, None
        while i < len(types) and len(found) <= count:
            rtype = types[i]
            query = _query(rtype, who, since)
            limit = count - len(found) + 1
            visible = repo.access.rows(rtype, "search")
            page = session.search(
                query, snapshot=snapshot, after=after, limit=limit, visible=visible
            )
            found.extend(
                ((*patient_key, i, *key), row, who)
                for key, row in zip(page.keys, page.rows, strict=True)
            )
            if len(page.rows) < limit:
                i, after = i + 1, None
            else:
                break
        if len(found) > count:
            break
    rows = found[:count]
    path = f"{repo.base}/Patient/{pid}/$everything" if pid else f"{repo.base}/Patient/$everything"
    keep = [(k, v) for k, v in req.query if k in ("_since", "_type", "_count")]
    links = [{"relation": "self", "url": f"{path}?{urlencode(req.query)}" if req.query else path}]
    if len(found) > count and rows:
        position, _, _ = rows[-1]
        offset = (cursor.offset if cursor else 0) + len(rows)
        token = Cursor(snapshot, position, offset).encode()
        links.append(
            {"relation": "next", "url": f"{path}?{urlencode([*keep, ('_cursor', token)])}"}
        )
    resources = [load(v) for _, v, _ in rows]
    repo.trail.note(
        "operation",
        rtype="Patient",
        resources=resources,
        patients=sorted({who for _, _, who in rows} | ({pid} if pid else set())),
        description="$everything",
    )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if resources:
        bundle["entry"] = [
            {"fullUrl": f"{repo.base}/{r['resourceType']}/{r['id']}", "resource": r,
             "search": {"mode": "match"}}
            for r in resources
        ]  # fmt: skip
    return FhirResponse(200, bundle)


def _patients(
    repo: Repository,
    session: Session,
    pid: str | None,
    snapshot: int,
    resume: tuple[int, ...],
) -> Iterator[tuple[tuple[object, ...], str]]:
    """(sort key, id) of each patient whose record to page through, from ``resume`` on.

    For the type level these are the Patients a search of Patient by the caller finds, read in
    batches inside the store's confined query; a cursor can only move within them.
    """
    if pid is not None:
        yield (), pid
        return
    visible = repo.access.rows("Patient", "search")
    query = parse_search("Patient", [])
    after: tuple[object, ...] | None = None
    if resume:
        after = (resume[0] - 1,)  # the patient the cursor stopped in comes first again
    while True:
        page = session.search(
            query, snapshot=snapshot, after=after, limit=_PATIENT_BATCH, visible=visible
        )
        for key, row in zip(page.keys, page.rows, strict=True):
            yield tuple(key), row.id
        if len(page.rows) < _PATIENT_BATCH:
            return
        after = tuple(page.keys[-1])


def _params(req: FhirRequest) -> dict[str, str]:
    params = dict(req.query)
    unknown = set(params) - _PARAMETERS
    if unknown and not req.lenient:
        raise InvalidRequest(f"Unknown $everything parameter(s): {', '.join(sorted(unknown))}.")
    return params


def _types(repo: Repository, wanted: str | None) -> list[str]:
    """The compartment types to return, in page order, less those the caller may not search."""
    names = TYPES
    if wanted is not None:
        asked = [t.strip() for t in wanted.split(",") if t.strip()]
        bad = [t for t in asked if not is_resource_type(t) or t in NOT_STORED]
        if bad or not asked:
            raise InvalidRequest("_type must list resource types, separated by commas.")
        names = tuple(t for t in TYPES if t in asked)
    out = []
    for rtype in names:
        try:
            repo.access.require(rtype, "search")
        except FhirError:
            continue
        out.append(rtype)
    return out


def _count(raw: str | None) -> int:
    if raw is None:
        return _COUNT
    if not is_number(raw):
        raise InvalidRequest("_count must be a non-negative integer.")
    return min(int(raw), _MAX_COUNT)


def _position(
    cursor: Cursor | None, ntypes: int, type_level: bool
) -> tuple[tuple[int, ...], int, tuple[object, ...] | None]:
    """Where a page starts: the patient's sort key (type level only), a type's index and the
    sort key after which to go on in it."""
    if cursor is None or cursor.after is None:
        return (), 0, None
    parts = [p for p in cursor.after if isinstance(p, int) and not isinstance(p, bool) and p >= 0]
    if len(parts) != len(cursor.after) or len(parts) != (3 if type_level else 2):
        raise InvalidRequest("The paging cursor is not valid; start again.")
    resume = tuple(parts[:1]) if type_level else ()
    index, key = parts[-2:]
    if not index < ntypes:
        raise InvalidRequest("The paging cursor is not valid; start again.")
    return resume, index, (key,)


def _query(rtype: str, pid: str, since: list[tuple[str, str]]) -> SearchQuery:
    query = parse_search(rtype, since)
    return SearchQuery(
        resource_type=rtype,
        clauses=query.clauses,
        compartment=patient_compartment(rtype, pid),
    )
