"""The values of FHIR search parameters: tokens, dates and numbers with their ranges, references.

A parameter's value is split on unescaped ``,`` into alternatives (search.html#escaping), and each
is parsed per the parameter's type (search.html#ptypes): a token into system and code, a date or
number into its prefix and the range its precision implies, a reference into type and id.
:mod:`bedside.fhir.search.query` builds clauses of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from bedside.errors import InvalidRequest
from bedside.fhir.dates import parse_range
from bedside.fhir.resource_types import is_resource_type
from bedside.fhir.search.registry import SearchParam

__all__ = [
    "RangeValue",
    "ReferenceValue",
    "TokenValue",
    "Value",
    "parse_value",
    "split_unescaped",
    "split_values",
]

_PREFIX_RE: Final = re.compile(r"(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+0-9.T])")
_ESCAPE_RE: Final = re.compile(r"\\(.)")
_DECIMAL_RE: Final = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class TokenValue:
    """``[system]|[code]``: system None means "any system"; "" means "no system"."""

    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A date or number with its prefix and the range its precision implies."""

    prefix: str
    low: float
    high: float
    system: str | None = None
    code: str | None = None
    value: float = 0.0  # the number as written (number and quantity parameters)


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None
    target: str  # the id, or a full URL when target_type is ""


Value = TokenValue | RangeValue | ReferenceValue | str


def split_values(raw: str) -> list[str]:
    """Split on unescaped commas and unescape (search.html#escaping)."""
    return [_unescape(part) for part in split_unescaped(raw, ",")]


def split_unescaped(raw: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split on ``sep`` where it is not escaped by ``\\``; the parts keep their escapes."""
    out: list[str] = []
    start = i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] == sep and len(out) != maxsplit:
            out.append(raw[start:i])
            start = i + 1
        i += 1
    out.append(raw[start:])
    return out


def _unescape(text: str) -> str:
    return _ESCAPE_RE.sub(r"\1", text)


def parse_value(param: SearchParam, modifier: str | None, raw: str) -> Value:
    """One of a parameter's ORed values, parsed per the parameter's type (search.html#ptypes)."""
    kind = param.kind
    if kind == "token":  # split on an unescaped "|" before unescaping (search.html#escaping)
        parts = [_unescape(p) for p in split_unescaped(raw, "|", 1)]
        if len(parts) == 2:
            return TokenValue(parts[0], parts[1] or None)
        return TokenValue(None, parts[0]) if parts[0] else ""
    raw = _unescape(raw)
    if kind in ("string", "uri"):
        return raw
    if kind == "date":
        return _date_value(param, raw)
    if kind == "reference":
        return _reference_value(param, modifier, raw)
    return _number_value(param, raw)


def _split_prefix(raw: str) -> tuple[str, str]:
    m = _PREFIX_RE.match(raw)
    return (m.group(1), raw[2:]) if m else ("eq", raw)


def _date_value(param: SearchParam, raw: str) -> RangeValue:
    prefix, text = _split_prefix(raw)
    rng = parse_range(text)
    if rng is None:
        raise InvalidRequest(f"'{raw}' is not a valid date for {param.code}.")
    return RangeValue(prefix, rng[0], rng[1])


def _reference_value(param: SearchParam, modifier: str | None, raw: str) -> ReferenceValue:
    if "://" in raw:
        return ReferenceValue("", raw)
    parts = raw.split("/")
    if len(parts) == 2 and is_resource_type(parts[0]):
        return ReferenceValue(parts[0], parts[1])
    if len(parts) == 1 and raw:
        return ReferenceValue(modifier, raw)
    raise InvalidRequest(f"'{raw}' is not a valid reference for {param.code}.")


def _number_value(param: SearchParam, raw: str) -> RangeValue:
    prefix, text = _split_prefix(raw)
    number, _, rest = text.partition("|")
    system, _, code = rest.partition("|")
    try:
        if not _DECIMAL_RE.fullmatch(number):  # no NaN, Infinity, "1_0" (datatypes.html#decimal)
            raise InvalidOperation
        dec = Decimal(number)
    except InvalidOperation:
        raise InvalidRequest(f"'{raw}' is not a valid number for {param.code}.") from None
    exponent = dec.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1) if isinstance(exponent, int) else Decimal(0)
    return RangeValue(
        prefix, float(dec - half), float(dec + half), system or None, code or None, float(dec)
    )
