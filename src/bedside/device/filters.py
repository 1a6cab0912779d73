"""Granular-scope filters on the device: does a resource match a scope's query?

A token with ``patient/Observation.rs?category=laboratory`` lets its holder see only matching
resources; the snapshot carries those queries in ``filters`` (docs/policy-snapshot.md). The
device evaluates the plain ones itself, with the server's own search definitions and token
extraction: ``param=value`` pairs of token parameters without modifiers. Anything else (a
modifier, a date, a chained parameter) cannot be checked offline and so admits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from bedside.errors import InvalidRequest
from bedside.fhir.search.extract import extract
from bedside.fhir.search.query import RESULT_PARAMETERS, Clause, parse_search
from bedside.fhir.search.values import TokenValue

__all__ = ["matches_any"]


def matches_any(rtype: str, resource: Mapping[str, Any], queries: Iterable[str]) -> bool:
    """True when ``resource`` matches at least one of ``queries`` the device can evaluate."""
    tokens: list[tuple[str, str | None, str]] | None = None
    for query in queries:
        clauses = _clauses(rtype, query)
        if clauses is None:
            continue  # a query the device cannot evaluate never admits anything
        if tokens is None:
            tokens = extract(dict(resource)).token
        if all(_holds(clause, tokens) for clause in clauses):
            return True
    return False


def _clauses(rtype: str, query: str) -> tuple[Clause, ...] | None:
    """The clauses of a plain token query (``category=...&status=...``), or None."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs or any(name in RESULT_PARAMETERS for name, _ in pairs):
        return None
    try:
        clauses = parse_search(rtype, pairs).clauses
    except InvalidRequest:
        return None
    for clause in clauses:
        if clause.param.kind != "token" or clause.modifier is not None:
            return None
    return clauses


def _holds(clause: Clause, tokens: list[tuple[str, str | None, str]]) -> bool:
    """FHIR token matching (search.html#token): any of the clause's values matches a row."""
    key = clause.param.key
    for value in clause.values:
        if not isinstance(value, TokenValue):
            return False
        for row_key, system, code in tokens:
            if row_key != key:
                continue
            if value.code is not None and code != value.code:
                continue
            if value.system is None or (value.system == "" and not system):
                return True
            if value.system != "" and system == value.system:
                return True
    return False
