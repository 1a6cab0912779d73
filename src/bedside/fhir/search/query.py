"""Parse a FHIR search request into a typed :class:`SearchQuery` (search.html).

Parameter values follow search.html#ptypes: ``,`` separates alternatives (OR), repeating a
parameter ANDs it, ``\\`` escapes ``,``, ``|`` and ``$`` (the values themselves:
:mod:`bedside.fhir.search.values`). Unknown parameters are an error unless
the client sent ``Prefer: handling=lenient`` (search.html#errors), in which case they are listed
in ``ignored`` (the searchset reports them in an OperationOutcome) and left out of the self
link. ``_include:iterate`` (and R4's older ``:recurse``) follow references from included
resources too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from bedside.errors import InvalidRequest, NotAcceptable
from bedside.fhir.resource_types import is_resource_type
from bedside.fhir.search.registry import SearchParam, params_for
from bedside.fhir.search.values import Value, parse_value, split_unescaped
from bedside.fhir.subset import summary_mode
from bedside.numerals import is_number

if TYPE_CHECKING:
    from bedside.fhir.compartment import Compartment
    from bedside.fhir.search.visibility import Visibility

__all__ = [
    "DEFAULT_COUNT",
    "ITERATING",
    "JSON_FORMATS",
    "MAX_COUNT",
    "RESULT_PARAMETERS",
    "Branch",
    "Clause",
    "Include",
    "Link",
    "SearchQuery",
    "SortKey",
    "clause_of",
    "parse_search",
]

DEFAULT_COUNT: Final = 20
MAX_COUNT: Final = 1000
RESULT_PARAMETERS: Final = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_format",
        "_pretty",
        "_cursor",
    }
)
_MODIFIERS: Final[dict[str, frozenset[str]]] = {
    "token": frozenset({"not", "missing"}),
    "uri": frozenset({"missing"}),
    "string": frozenset({"exact", "contains", "missing"}),
    "date": frozenset({"missing"}),
    "reference": frozenset({"missing"}),
    "quantity": frozenset({"missing"}),
    "number": frozenset({"missing"}),
}
#: ``_include`` and ``_revinclude`` with ``:iterate`` (R4) or ``:recurse`` (its older name).
ITERATING: Final = frozenset(
    f"{name}:{how}" for name in ("_include", "_revinclude") for how in ("iterate", "recurse")
)
#: ``_format`` values that mean JSON (http.html#mime-type); any other is 406.
JSON_FORMATS: Final = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)


@dataclass(frozen=True, slots=True)
class Branch:
    """One resource type a chain or ``_has`` reaches, the clause it must match there, and
    which of its rows the caller may see (bound by the REST layer before the search runs;
    unbound, nothing is visible: deny by default)."""

    resource_type: str
    inner: Clause
    visible: Visibility | None = None
    bound: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A chained parameter (search.html#chaining) or ``_has`` (search.html#has).

    A chain follows ``param`` (a reference of the searched type) to a row of one of
    ``branches``; ``_has`` (``reverse``) looks for a row of the branch's type whose ``param``
    refers to the searched row. The branches are ORed (a chain whose target type is not named
    reaches every type that has the next parameter).
    """

    reverse: bool
    param: SearchParam
    branches: tuple[Branch, ...]


@dataclass(frozen=True, slots=True)
class Clause:
    """One parameter occurrence: its values are ORed; clauses are ANDed."""

    param: SearchParam
    modifier: str | None
    values: tuple[Value, ...]
    missing: bool | None = None
    link: Link | None = None


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Source:param[:Target]`` or ``_revinclude`` (search.html#include)."""

    source_type: str
    param: SearchParam
    target_type: str | None
    iterate: bool = False


@dataclass(frozen=True, slots=True)
class SortKey:
    code: str  # "_id", "_lastUpdated" or a parameter code
    param: SearchParam | None
    descending: bool


@dataclass(frozen=True)
class SearchQuery:
    resource_type: str
    clauses: tuple[Clause, ...] = ()
    count: int = DEFAULT_COUNT
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    summary: str | None = None
    elements: tuple[str, ...] = ()
    total: str = "accurate"
    cursor: str | None = None
    used: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    ignored: tuple[str, ...] = ()
    #: A compartment search (``GET Patient/1/Observation``): rows must also lie in it.
    compartment: Compartment | None = None
    compartment_path: str | None = None  # "Patient/1", for the self and next links


def parse_search(
    resource_type: str, params: list[tuple[str, str]], *, lenient: bool = False
) -> SearchQuery:
    """Turn query parameters into a SearchQuery, or raise InvalidRequest (400)."""
    known = params_for(resource_type)
    clauses: list[Clause] = []
    used: list[tuple[str, str]] = []
    ignored: list[str] = []
    opts = _Options()
    includes: list[Include] = []
    revincludes: list[Include] = []
    for name, raw in params:
        if name in RESULT_PARAMETERS:
            _result_param(name, raw, resource_type, opts, includes, revincludes)
            if name != "_cursor":
                used.append((name, raw))
            continue
        if name in ITERATING:
            rev = name.startswith("_revinclude")
            found = _include(raw, rev=rev, rtype=resource_type, iterate=True)
            (revincludes if rev else includes).append(found)
            used.append((name, raw))
            continue
        if name.startswith("_has:") or "." in name:
            from bedside.fhir.search.links import parse_link  # it parses clauses with this module

            linked = parse_link(resource_type, name, raw, lenient=lenient)
            if linked is None:
                ignored.append(name)
            else:
                clauses.append(linked)
                used.append((name, raw))
            continue
        code, _, modifier = name.partition(":")
        param = known.get(code)
        if param is None:
            if lenient:
                ignored.append(name)
                continue
            raise InvalidRequest(f"Unknown search parameter '{code}' for {resource_type}.")
        clauses.append(_clause(param, modifier or None, raw))
        used.append((name, raw))
    return SearchQuery(
        resource_type=resource_type,
        clauses=tuple(clauses),
        count=opts.count,
        sort=tuple(opts.sort),
        includes=tuple(includes),
        revincludes=tuple(revincludes),
        summary=opts.summary,
        elements=tuple(opts.elements),
        total=opts.total,
        cursor=opts.cursor,
        used=tuple(used),
        ignored=tuple(ignored),
    )


@dataclass
class _Options:
    count: int = DEFAULT_COUNT
    sort: list[SortKey] = field(default_factory=list)
    summary: str | None = None
    elements: list[str] = field(default_factory=list)
    total: str = "accurate"
    cursor: str | None = None


def _result_param(
    name: str,
    raw: str,
    rtype: str,
    opts: _Options,
    includes: list[Include],
    revincludes: list[Include],
) -> None:
    if name == "_count":
        if not is_number(raw):
            raise InvalidRequest("_count must be a non-negative integer.")
        opts.count = min(int(raw), MAX_COUNT)
    elif name == "_sort":
        opts.sort = [_sort_key(rtype, part) for part in raw.split(",") if part]
    elif name == "_include":
        includes.append(_include(raw, rev=False, rtype=rtype))
    elif name == "_revinclude":
        revincludes.append(_include(raw, rev=True, rtype=rtype))
    elif name == "_summary":
        opts.summary = summary_mode(raw)
    elif name == "_elements":
        opts.elements = [e.strip() for e in raw.split(",") if e.strip()]
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise InvalidRequest("_total must be none, estimate or accurate.")
        opts.total = raw
    elif name == "_cursor":
        opts.cursor = raw
    elif name == "_format" and raw.split(";")[0].strip() not in JSON_FORMATS:
        raise NotAcceptable("This server answers in FHIR JSON only (_format=json).")


def _sort_key(rtype: str, part: str) -> SortKey:
    descending = part.startswith("-")
    code = part.lstrip("-")
    if code in ("_id", "_lastUpdated"):
        return SortKey(code, None, descending)
    param = params_for(rtype).get(code)
    if param is None or param.kind not in ("string", "token", "date", "quantity", "number", "uri"):
        raise InvalidRequest(f"Cannot sort {rtype} by '{code}'.")
    return SortKey(code, param, descending)


def _include(raw: str, *, rev: bool, rtype: str, iterate: bool = False) -> Include:
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not is_resource_type(parts[0]):
        raise InvalidRequest(f"Invalid {'_revinclude' if rev else '_include'} value '{raw}'.")
    source, code = parts[0], parts[1]
    param = params_for(source).get(code)
    if param is None or param.kind != "reference":
        raise InvalidRequest(f"'{code}' is not a reference parameter of {source}.")
    target = parts[2] if len(parts) == 3 else None
    if target is not None and not is_resource_type(target):
        raise InvalidRequest(f"Unknown resource type '{target}' in '{raw}'.")
    if not rev and not iterate and source != rtype:
        raise InvalidRequest(f"_include must start with the searched type {rtype}.")
    return Include(source, param, target, iterate)


def clause_of(param: SearchParam, modifier: str | None, raw: str) -> Clause:
    """One parameter occurrence as a Clause (its value parsed per the parameter's type)."""
    return _clause(param, modifier, raw)


def _clause(param: SearchParam, modifier: str | None, raw: str) -> Clause:
    kind = param.kind
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise InvalidRequest(f"{param.code}:missing must be true or false.")
        return Clause(param, modifier, (), missing=raw == "true")
    if modifier is not None and kind == "reference" and is_resource_type(modifier):
        pass  # subject:Patient=123
    elif modifier is not None and modifier not in _MODIFIERS[kind]:
        raise InvalidRequest(f"The modifier :{modifier} is not supported on {param.code}.")
    values = tuple(parse_value(param, modifier, v) for v in split_unescaped(raw, ","))
    if not values or any(v == "" for v in values):
        raise InvalidRequest(f"Search parameter {param.code} needs a value.")
    return Clause(param, modifier, values)
