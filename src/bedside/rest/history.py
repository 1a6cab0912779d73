"""The history interactions: instance, type and whole system (http.html#history).

Newest first, paged by change-feed position. Only versions of resources the caller may see now
(by their current version) are listed; an instance the caller may not see is "not known", like
a missing one. System-wide history is the union of the type histories the caller's grant
allows: each type is filtered by its own visibility inside one query, and types the caller may
not search are left out entirely (a ``system/*`` or auditor's grant lists everything).

``_since`` keeps versions written at or after an instant; ``_at`` keeps versions that were
current at some time within a date's range (a version stops being current when the next one
is written). Both take any FHIR date, dateTime or instant, compared in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from bedside.errors import FhirError, Forbidden, InvalidRequest, NotFound
from bedside.fhir.dates import parse_range
from bedside.fhir.resource_types import NOT_STORED, RESOURCE_TYPES
from bedside.fhir.search.visibility import Visibility
from bedside.numerals import is_number
from bedside.rest.paging import Cursor
from bedside.rest.searchset import history_bundle
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session

if TYPE_CHECKING:
    from bedside.rest.repository import Repository

__all__ = ["HISTORY_COUNT", "history"]

HISTORY_COUNT = 50
_PARAMETERS = frozenset({"_count", "_since", "_at", "_cursor", "_format", "_pretty"})


def history(
    repo: Repository, session: Session, rtype: str | None, rid: str | None, req: FhirRequest
) -> FhirResponse:
    params = dict(req.query)
    unknown = set(params) - _PARAMETERS
    if unknown and not req.lenient:
        raise InvalidRequest(f"Unknown history parameter(s): {', '.join(sorted(unknown))}.")
    count = min(int(params["_count"]), 1000) if is_number(params.get("_count", "")) else None
    count = HISTORY_COUNT if count is None else count
    since = _instant(params["_since"], "_since")[0] if "_since" in params else None
    at = _instant(params["_at"], "_at") if "_at" in params else None
    cursor = Cursor.decode(params["_cursor"]) if "_cursor" in params else None
    if rtype is None:
        visible = _system_visibility(repo)
        subtype = "history-system"
    elif rid is None:
        repo.access.require(rtype, "history-type")
        visible = {rtype: repo.access.rows(rtype, "history-type")}
        subtype = "history-type"
    else:
        visible = {rtype: repo.access.rows(rtype, "history-instance")}
        subtype = "history-instance"
        if session.current(rtype, rid, visible=visible[rtype]) is None:
            raise NotFound(f"{rtype}/{rid} is not known.")
    versions = session.history_of(
        visible,
        rid,
        since=since,
        at=at,
        before_seq=cursor.snapshot if cursor else None,
        count=count + 1,
    )
    path = repo.base + "".join(f"/{p}" for p in (rtype, rid) if p) + "/_history"
    keep = [(k, v) for k, v in req.query if k in ("_count", "_since", "_at")]
    next_url = None
    if len(versions) > count:
        versions = versions[:count]
        if versions:  # _count=0 asks for no entries, so there is no page to continue
            token = Cursor(versions[-1].seq).encode()
            next_url = f"{path}?{urlencode([*keep, ('_cursor', token)])}"
    self_url = f"{path}?{urlencode(req.query)}" if req.query else path
    repo.trail.note(subtype, rtype=rtype, versions=versions)
    return FhirResponse(
        200, history_bundle(repo.base, versions, self_url=self_url, next_url=next_url)
    )


def _system_visibility(repo: Repository) -> dict[str, Visibility | None]:
    """Each stored type the caller may list the history of, with what of it they may see."""
    out: dict[str, Visibility | None] = {}
    for t in sorted(RESOURCE_TYPES - NOT_STORED):
        try:
            repo.access.require(t, "history-type")
        except FhirError:
            continue
        rows = repo.access.rows(t, "history-type")
        if rows is None or not rows.nothing:
            out[t] = rows
    if not out:
        raise Forbidden(
            "The access token allows the history of no resource type.",
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    return out


def _instant(text: str, name: str) -> tuple[str, str]:
    """A date parameter as the (first, last) instants it covers, in meta.lastUpdated's form."""
    rng = parse_range(text)
    if rng is None:
        raise InvalidRequest(f"{name} must be a FHIR date, dateTime or instant.")
    return _iso(rng[0]), _iso(rng[1])


def _iso(ms: int) -> str:
    try:
        value = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidRequest("The date is outside the range this server keeps.") from None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
