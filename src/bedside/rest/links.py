"""Bind chained parameters and ``_has`` to what the caller may see of the types they reach.

A chain (``subject:Patient.name=...``) or ``_has`` (``_has:Observation:patient:code=...``)
tests rows of another type; parsed, it does not know the caller (bedside.fhir.search.links).
Before a search runs, each branch is given the caller's visibility of its type for
``search``, exactly what a search of that type would use, so a chain can only match through a
resource the caller could find by searching for it: no existence leaks through a chain. A
branch whose type the token or role may not search at all is a 403, as an ``_include`` of it
is.
"""

from __future__ import annotations

from dataclasses import replace

from bedside.fhir.search.query import Clause, SearchQuery
from bedside.rest.access import Access

__all__ = ["bind_links"]


def bind_links(query: SearchQuery, access: Access) -> SearchQuery:
    """``query`` with every chain and ``_has`` branch bound to the caller's visibility."""
    if not any(c.link is not None for c in query.clauses):
        return query
    return replace(query, clauses=tuple(_bind(c, access) for c in query.clauses))


def _bind(clause: Clause, access: Access) -> Clause:
    if clause.link is None:
        return clause
    branches = []
    for branch in clause.link.branches:
        access.require(branch.resource_type, "search")
        branches.append(
            replace(
                branch,
                inner=_bind(branch.inner, access),
                visible=access.rows(branch.resource_type, "search"),
                bound=True,
            )
        )
    return replace(clause, link=replace(clause.link, branches=tuple(branches)))
