"""Chained parameters and ``_has``: search clauses that reach another resource type.

search.html#chaining: ``subject:Patient.name=peter`` matches Observations whose subject is a
Patient named peter (``subject.name=peter`` tries every target type of ``subject`` in the R4
definitions that has ``name``); two levels (``patient.general-practitioner.name=...``) are
allowed, more are a 400. search.html#has: ``_has:Observation:patient:code=1234-5`` matches
Patients that some Observation with that code refers to through ``patient``.

The parsed :class:`~bedside.fhir.search.query.Link` is unbound: which rows of the other type
the caller may see is not known here. The REST layer binds each branch to the caller's
visibility before the store runs the query (``bedside.rest.links``), so a chain or ``_has``
never matches through a resource the caller could not find by searching that type itself.
"""

from __future__ import annotations

from typing import Final

from bedside.errors import InvalidRequest
from bedside.fhir.resource_types import is_resource_type
from bedside.fhir.search.definition_urls import DEFINITIONS, TARGETS
from bedside.fhir.search.query import Branch, Clause, Link, clause_of
from bedside.fhir.search.registry import SearchParam, params_for

__all__ = ["MAX_CHAIN", "parse_link"]

#: How many references one chained parameter may follow (search.html allows any; two keep
#: every chain one indexed sub-select per level).
MAX_CHAIN: Final = 2


def parse_link(rtype: str, name: str, raw: str, *, lenient: bool) -> Clause | None:
    """The clause of a chained or ``_has`` parameter; None when lenient handling ignores an
    unknown parameter in it; InvalidRequest otherwise."""
    try:
        if name.startswith("_has:"):
            return _has(rtype, name, raw)
        return _chain(rtype, name, raw, depth=1)
    except _Unknown as exc:
        if lenient:
            return None
        raise InvalidRequest(str(exc)) from None


class _Unknown(Exception):
    """A parameter name in a chain or ``_has`` that the type does not have."""


def _chain(rtype: str, name: str, raw: str, *, depth: int) -> Clause:
    head, _, rest = name.partition(".")
    code, _, target = head.partition(":")
    param = params_for(rtype).get(code)
    if param is None:
        raise _Unknown(f"Unknown search parameter '{code}' for {rtype}.")
    if param.kind != "reference":
        raise InvalidRequest(f"'{code}' is not a reference parameter of {rtype}; it cannot chain.")
    if not rest:
        raise InvalidRequest(f"The chained parameter '{name}' names no parameter after '.'.")
    if target and not is_resource_type(target):
        raise InvalidRequest(f"Unknown resource type '{target}' in '{name}'.")
    types = [target] if target else _targets(param)
    if not types:
        raise InvalidRequest(
            f"The search definitions do not say which types '{code}' refers to; name the"
            f" type, as in {code}:<Type>.{rest}."
        )
    next_code = rest.split(".")[0].partition(":")[0]
    reachable = [t for t in types if next_code in params_for(t)]
    if not reachable:
        raise _Unknown(f"Unknown search parameter '{next_code}' in the chain '{name}'.")
    branches = []
    for t in reachable:
        if "." in rest:
            if depth >= MAX_CHAIN:
                raise InvalidRequest(f"A chain may follow at most {MAX_CHAIN} references.")
            inner = _chain(t, rest, raw, depth=depth + 1)
        else:
            inner = _plain(t, rest, raw)
        branches.append(Branch(t, inner))
    return Clause(param, None, (), link=Link(False, param, tuple(branches)))


def _has(rtype: str, name: str, raw: str) -> Clause:
    """``_has:Type:reference:parameter[:modifier]`` (one level; the inner is a plain
    parameter of ``Type``)."""
    parts = name.split(":")
    if len(parts) < 4 or not is_resource_type(parts[1]):
        raise InvalidRequest(f"'{name}' is not of the form _has:Type:reference:parameter.")
    source, code, inner = parts[1], parts[2], ":".join(parts[3:])
    param = params_for(source).get(code)
    if param is None:
        raise _Unknown(f"Unknown search parameter '{code}' for {source}.")
    if param.kind != "reference" or not _may_refer_to(param, rtype):
        raise InvalidRequest(f"{source}.{code} cannot refer to a {rtype}.")
    if inner.startswith("_has:") or "." in inner:
        raise InvalidRequest("A _has parameter may not hold another _has or a chain.")
    return Clause(
        param, None, (), link=Link(True, param, (Branch(source, _plain(source, inner, raw)),))
    )


def _plain(rtype: str, name: str, raw: str) -> Clause:
    code, _, modifier = name.partition(":")
    param = params_for(rtype).get(code)
    if param is None:
        raise _Unknown(f"Unknown search parameter '{code}' for {rtype}.")
    return clause_of(param, modifier or None, raw)


def _targets(param: SearchParam) -> list[str]:
    """The types a reference parameter may point at ([] when any type): the paths' own
    restriction, else the R4 definition's ``target`` list (generated, ADR 0011)."""
    found: set[str] = set()
    for path in param.paths:
        if path.target_types is None:
            return sorted(t for t in _official_targets(param) if is_resource_type(t))
        found |= path.target_types
    return sorted(found)


def _official_targets(param: SearchParam) -> tuple[str, ...]:
    for owner in (param.resource_type, "DomainResource", "Resource"):
        sid = DEFINITIONS.get(owner, {}).get(param.code)
        if sid is not None:
            return TARGETS.get(sid, ())
    return ()


def _may_refer_to(param: SearchParam, rtype: str) -> bool:
    return any(p.target_types is None or rtype in p.target_types for p in param.paths)
