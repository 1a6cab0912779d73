"""Index values of a resource for each of its search parameters (search.html#ptypes).

Each parameter's paths select elements; the element's datatype (read from its JSON shape and the
parameter's kind) decides the values: a CodeableConcept yields one token per coding, a HumanName
one string per part, a Period one date range, and so on.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bedside.fhir.dates import MAX_MS, MIN_MS, parse_range
from bedside.fhir.search.registry import Path, SearchParam, params_for

__all__ = [
    "DateRow",
    "IndexRows",
    "QuantityRow",
    "ReferenceRow",
    "StringRow",
    "TokenRow",
    "date_range",
    "extract",
    "normalize",
    "quantity",
    "reference",
    "strings",
    "tokens",
    "walk",
]

TokenRow = tuple[str, str | None, str]  # (param key, system, code)
StringRow = tuple[str, str, str]  # (param key, normalized, exact)
DateRow = tuple[str, int, int]  # (param key, low ms, high ms)
ReferenceRow = tuple[str, str, str]  # (param key, target type or "", target id or full url)
QuantityRow = tuple[str, float, str | None, str | None]  # (param key, value, system, code)


@dataclass(slots=True)
class IndexRows:
    """Everything the search index holds for one resource version."""

    token: list[TokenRow] = field(default_factory=list)
    string: list[StringRow] = field(default_factory=list)
    date: list[DateRow] = field(default_factory=list)
    reference: list[ReferenceRow] = field(default_factory=list)
    quantity: list[QuantityRow] = field(default_factory=list)


def normalize(text: str) -> str:
    """Case- and accent-insensitive form used by string search (search.html#string)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def extract(resource: dict[str, Any]) -> IndexRows:
    """Index rows for every search parameter of the resource's type (``_id`` excepted)."""
    rows = IndexRows()
    keys = resource.keys()
    for first, choice, param, path in _plan(resource["resourceType"]):
        if choice:
            if not any(k.startswith(first) for k in keys):
                continue
        elif first not in keys:
            continue
        for value in walk(resource, path.segments, 0):
            _add(rows, param, path, value)
    return rows


@cache
def _plan(rtype: str) -> tuple[tuple[str, bool, SearchParam, Path], ...]:
    """(first element, is a choice, parameter, path) for each path, so absent roots cost little."""
    plan = []
    for param in params_for(rtype).values():
        if param.code == "_id":
            continue  # answered from the resources table itself
        for path in param.paths:
            first = path.segments[0]
            choice = first.endswith("[x]")
            plan.append((first[:-3] if choice else first, choice, param, path))
    return tuple(plan)


def walk(node: Any, segments: tuple[str, ...], i: int) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from walk(item, segments, i)
        return
    if i == len(segments):
        yield node
        return
    if not isinstance(node, dict):
        return
    seg = segments[i]
    if seg.endswith("[x]"):
        prefix = seg[:-3]
        for key, value in node.items():
            if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
                yield from walk(value, segments, i + 1)
    elif seg in node:
        yield from walk(node[seg], segments, i + 1)


def _add(rows: IndexRows, param: SearchParam, path: Path, value: Any) -> None:
    key = param.key
    kind = param.kind
    if kind == "token":
        rows.token.extend((key, s, c) for s, c in tokens(value))
    elif kind == "uri":
        if isinstance(value, str):
            rows.token.append((key, None, value))
    elif kind == "string":
        rows.string.extend((key, normalize(s), s) for s in strings(value))
    elif kind == "date":
        rng = date_range(value)
        if rng is not None:
            rows.date.append((key, rng[0], rng[1]))
    elif kind == "reference":
        ref = reference(value)
        if ref is not None and (path.target_types is None or ref[0] in path.target_types):
            rows.reference.append((key, ref[0], ref[1]))
    elif kind in ("quantity", "number"):
        q = quantity(value)
        if q is not None:
            rows.quantity.append((key, q[0], q[1], q[2]))
            unit = value.get("unit") if isinstance(value, dict) else None
            if isinstance(unit, str) and unit != q[2]:  # "5.4||mg" matches code or unit
                rows.quantity.append((key, q[0], None, unit))


def tokens(value: Any) -> Iterator[tuple[str | None, str]]:
    """(system, code) pairs of a code, Coding, CodeableConcept, Identifier or ContactPoint."""
    if isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"] or ():
                yield from tokens(coding)
        elif "code" in value and isinstance(value["code"], str):
            yield value.get("system"), value["code"]
        elif isinstance(value.get("value"), str):
            system = value.get("system")
            if system in _CONTACT_SYSTEMS:  # a ContactPoint's system is no token system
                system = None
            yield system, value["value"]


# ContactPoint.system codes; an Identifier.system is an absolute URI, never one of these
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def strings(value: Any) -> Iterator[str]:
    """The searchable strings of a string, HumanName, Address or CodeableConcept element."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        parts = _NAME_PARTS if ("family" in value or "given" in value) else _ADDRESS_PARTS
        for part in parts:
            item = value.get(part)
            if isinstance(item, str):
                yield item
            elif isinstance(item, list):
                yield from (s for s in item if isinstance(s, str))
        if isinstance(value.get("value"), str):  # ContactPoint
            yield value["value"]


def date_range(value: Any) -> tuple[int, int] | None:
    """[low, high] in ms of a date, dateTime, instant, Period or Timing."""
    if isinstance(value, str):
        return parse_range(value)
    if not isinstance(value, dict):
        return None
    if "start" in value or "end" in value:
        start = parse_range(value["start"]) if isinstance(value.get("start"), str) else None
        end = parse_range(value["end"]) if isinstance(value.get("end"), str) else None
        return (start[0] if start else MIN_MS, end[1] if end else MAX_MS)
    events = [parse_range(e) for e in value.get("event", ()) if isinstance(e, str)]
    bounds = value.get("repeat", {}).get("boundsPeriod")
    ranges = [r for r in events if r] + ([b] if (b := date_range(bounds)) else [])
    if not ranges:
        return None
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def reference(value: Any) -> tuple[str, str] | None:
    """(target type, target id) of a Reference or canonical; ("", url) when not Type/id."""
    ref = value.get("reference") if isinstance(value, dict) else value
    if not isinstance(ref, str) or ref.startswith("#"):
        return None
    if ":" in ref:  # absolute URL or URN: not a resource on this server
        return "", ref
    parts = ref.split("/")
    if len(parts) >= 2 and "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper() and "?" not in ref:
        return parts[-2], parts[-1]
    return "", ref


def quantity(value: Any) -> tuple[float, str | None, str | None] | None:
    """(value, system, code) of a Quantity-like element or a bare number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None, None
    if isinstance(value, dict) and isinstance(value.get("value"), int | float):
        code = value.get("code") or value.get("unit") or value.get("currency")
        return float(value["value"]), value.get("system"), code
    return None
