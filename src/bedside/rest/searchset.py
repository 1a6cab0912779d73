"""Search and history results as Bundles (search.html#bundle, http.html#history).

What the caller may see is part of the search's SQL (``Access.rows``), so totals, pages and
``next`` links only ever count visible resources; ``_include``/``_revinclude`` results are
dropped unless the caller may read them, before ``:iterate`` follows references from them (so
an iteration never passes through a resource the caller may not see).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from bedside.errors import Forbidden, InvalidRequest, Issue
from bedside.fhir.outcome import operation_outcome
from bedside.fhir.search.query import Include, SearchQuery
from bedside.fhir.subset import subset
from bedside.rest.access import Access
from bedside.rest.interactions import load
from bedside.rest.links import bind_links
from bedside.rest.paging import Cursor
from bedside.store.base import Session, StoredVersion

__all__ = ["ITERATIONS", "history_bundle", "search"]

#: How many times ``:iterate`` follows references from what it included last (a bound, so a
#: reference cycle or a long chain cannot make one search read the whole store).
ITERATIONS = 4


def search(session: Session, access: Access, query: SearchQuery, base: str) -> dict[str, Any]:
    """Run a search and build its searchset Bundle with self and next links."""
    caller = access.caller
    access.require(query.resource_type, "search")
    query = bind_links(query, access)
    visible = access.rows(query.resource_type, "search")
    for inc in query.includes + query.revincludes:
        target = inc.target_type or inc.source_type
        if not caller.scopes.allows(inc.source_type, "search") or not caller.scopes.allows(
            target, "read"
        ):
            raise Forbidden(f"The access token does not allow including {inc.source_type}.")
    cursor = Cursor.decode(query.cursor) if query.cursor else Cursor(session.max_seq())
    _check_cursor(query, cursor)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    self_link = _link(base, query, None)
    if query.summary == "count":
        bundle["total"] = session.count(query, snapshot=cursor.snapshot, visible=visible)
        bundle["link"] = [{"relation": "self", "url": self_link}]
        return bundle
    if query.total != "none" and cursor.after is None:
        bundle["total"] = session.count(query, snapshot=cursor.snapshot, visible=visible)
    page = session.search(
        query, snapshot=cursor.snapshot, after=cursor.after, limit=query.count + 1, visible=visible
    )
    rows = page.rows[: query.count]
    links = [{"relation": "self", "url": _link(base, query, query.cursor)}]
    if len(page.rows) > query.count and rows:
        after = page.keys[len(rows) - 1]
        token = Cursor(cursor.snapshot, after, cursor.offset + len(rows)).encode()
        links.append({"relation": "next", "url": _link(base, query, token)})
    bundle["link"] = links
    entries = [_entry(base, v, query, "match") for v in rows]
    included = _included(session, access, query, rows)
    entries.extend(_entry(base, v, query, "include") for v in included)
    if query.ignored:  # Prefer: handling=lenient (search.html#errors): say what was ignored
        entries.append(_ignored(query.ignored))
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def _check_cursor(query: SearchQuery, cursor: Cursor) -> None:
    """A cursor must hold one key per sort column of this query (else it was tampered with)."""
    if cursor.after is None:
        return
    kinds = [k.param.kind if k.param else "string" for k in query.sort] + ["seq"]
    if len(cursor.after) != len(kinds) or not all(
        _fits(kind, value) for kind, value in zip(kinds, cursor.after, strict=True)
    ):
        raise InvalidRequest("The paging cursor is not valid; start the search again.")


def _fits(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if kind in ("date", "seq"):
        return isinstance(value, int)
    if kind in ("quantity", "number"):
        return isinstance(value, int | float)
    return isinstance(value, str)


def _included(
    session: Session, access: Access, query: SearchQuery, rows: list[StoredVersion]
) -> list[StoredVersion]:
    """What ``_include`` and ``_revinclude`` add to ``rows``, only what the caller may read;
    then ``:iterate`` from the matches and what was added, up to :data:`ITERATIONS` times."""
    if not rows or not (query.includes or query.revincludes):
        return []
    seen = {(r.type, r.id) for r in rows}
    first = [i for i in query.includes if not i.iterate]
    rev_first = [i for i in query.revincludes if not i.iterate]
    again = [i for i in query.includes if i.iterate]
    rev_again = [i for i in query.revincludes if i.iterate]
    out = access.visible(session, _follow(session, first, rev_first, rows, seen))
    batch = [*rows, *out]
    for _ in range(ITERATIONS if again or rev_again else 0):
        batch = access.visible(session, _follow(session, again, rev_again, batch, seen))
        if not batch:
            break
        out.extend(batch)
    return out


def _follow(
    session: Session,
    includes: list[Include],
    revincludes: list[Include],
    rows: list[StoredVersion],
    seen: set[tuple[str, str]],
) -> list[StoredVersion]:
    """Resources ``rows`` point at (or that point at them), not yet in ``seen``; adds them."""
    out: list[StoredVersion] = []
    for inc in includes:
        sources = [r.rid for r in rows if r.type == inc.source_type]
        for v in session.referenced(sources, [inc.param.key], inc.target_type):
            if (v.type, v.id) not in seen:
                seen.add((v.type, v.id))
                out.append(v)
    for inc in revincludes:
        targets = [(r.type, r.id) for r in rows]
        if inc.target_type is not None:
            targets = [t for t in targets if t[0] == inc.target_type]
        for v in session.referencing(targets, inc.param.key):
            if (v.type, v.id) not in seen:
                seen.add((v.type, v.id))
                out.append(v)
    return out


def _ignored(names: tuple[str, ...]) -> dict[str, Any]:
    """The searchset entry (search mode ``outcome``) listing parameters lenient handling
    ignored; parameter names only, never their values."""
    issue = Issue(
        "not-supported",
        f"Ignored unknown search parameter(s): {', '.join(sorted(set(names)))}.",
        severity="warning",
    )
    return {"resource": operation_outcome([issue]), "search": {"mode": "outcome"}}


def _entry(base: str, v: StoredVersion, query: SearchQuery, mode: str) -> dict[str, Any]:
    """One entry; ``_summary`` and ``_elements`` shape matches and includes alike."""
    resource = subset(load(v), summary=query.summary, elements=query.elements)
    return {
        "fullUrl": f"{base}/{v.type}/{v.id}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _link(base: str, query: SearchQuery, cursor: str | None) -> str:
    pairs = list(query.used)
    if cursor:
        pairs.append(("_cursor", cursor))
    qs = urlencode(pairs)
    path = f"{query.compartment_path}/" if query.compartment_path else ""
    return f"{base}/{path}{query.resource_type}" + (f"?{qs}" if qs else "")


def history_bundle(
    base: str,
    versions: list[StoredVersion],
    *,
    self_url: str,
    next_url: str | None,
) -> dict[str, Any]:
    """A history Bundle: newest first, deletes as entries without a resource."""
    entries: list[dict[str, Any]] = []
    for v in versions:
        entry: dict[str, Any] = {"fullUrl": f"{base}/{v.type}/{v.id}"}
        if v.content is not None:
            entry["resource"] = orjson.loads(v.content)
        url = f"{v.type}/{v.id}" if v.method != "POST" else v.type
        entry["request"] = {"method": v.method, "url": url}
        entry["response"] = {
            "status": "200" if v.method != "POST" else "201",
            "etag": f'W/"{v.version}"',
            "lastModified": v.last_updated,
        }
        entries.append(entry)
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "history", "link": links, "entry": entries}
