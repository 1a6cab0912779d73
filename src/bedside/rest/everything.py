"""``Patient/{id}/$everything`` (operation-patient-everything.html).

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
"""

from __future__ import annotations

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

__all__ = ["DEFINITION", "everything"]

DEFINITION: Final = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
_COUNT: Final = 50
_MAX_COUNT: Final = 1000
_PARAMETERS: Final = frozenset({"_since", "_type", "_count", "_cursor", "_format", "_pretty"})
#: Compartment types in the order pages follow; AuditEvent is the audit trail's (ADR 0006).
TYPES: Final = ("Patient", *sorted(set(PATIENT_COMPARTMENT) - {"Patient", "AuditEvent"}))


def everything(repo: Repository, session: Session, pid: str, req: FhirRequest) -> FhirResponse:
    params = _params(req)
    Interactions(session, repo.access, repo.hooks).read("Patient", pid)  # 404 when not visible
    types = _types(repo, params.get("_type"))
    count = _count(params.get("_count"))
    cursor = Cursor.decode(params["_cursor"]) if "_cursor" in params else None
    snapshot = cursor.snapshot if cursor else session.max_seq()
    start, after = _position(cursor, len(types))
    since = [("_lastUpdated", f"ge{params['_since']}")] if "_since" in params else []
    found: list[tuple[int, tuple[object, ...], StoredVersion]] = []
    i = start
    while i < len(types) and len(found) <= count:
        rtype = types[i]
        query = _query(rtype, pid, since)
        limit = count - len(found) + 1
        visible = repo.access.rows(rtype, "search")
        page = session.search(query, snapshot=snapshot, after=after, limit=limit, visible=visible)
        found.extend((i, key, row) for key, row in zip(page.keys, page.rows, strict=True))
        if len(page.rows) < limit:
            i, after = i + 1, None
        else:
            break
    rows = found[:count]
    path = f"{repo.base}/Patient/{pid}/$everything"
    keep = [(k, v) for k, v in req.query if k in ("_since", "_type", "_count")]
    links = [{"relation": "self", "url": f"{path}?{urlencode(req.query)}" if req.query else path}]
    if len(found) > count and rows:
        last_type, last_key, _ = rows[-1]
        offset = (cursor.offset if cursor else 0) + len(rows)
        token = Cursor(snapshot, (last_type, *last_key), offset).encode()
        links.append(
            {"relation": "next", "url": f"{path}?{urlencode([*keep, ('_cursor', token)])}"}
        )
    resources = [load(v) for _, _, v in rows]
    repo.trail.note(
        "operation",
        rtype="Patient",
        resources=resources,
        patients=[pid],
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


def _position(cursor: Cursor | None, ntypes: int) -> tuple[int, tuple[object, ...] | None]:
    """Where a page starts: a type's index and the sort key after which to go on in it."""
    if cursor is None or cursor.after is None:
        return 0, None
    index, *key = cursor.after
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < ntypes:
        raise InvalidRequest("The paging cursor is not valid; start again.")
    if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool):
        raise InvalidRequest("The paging cursor is not valid; start again.")
    return index, tuple(key)


def _query(rtype: str, pid: str, since: list[tuple[str, str]]) -> SearchQuery:
    query = parse_search(rtype, since)
    return SearchQuery(
        resource_type=rtype,
        clauses=query.clauses,
        compartment=patient_compartment(rtype, pid),
    )
