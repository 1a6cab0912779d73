"""Reading a policy snapshot's claims into values: the entries, refusals, labels and settings
that :class:`bedside.device.offline.OfflinePolicy` decides with (docs/policy-snapshot.md).

Every reader raises ``KeyError``, ``TypeError`` or ``ValueError`` on a claim of the wrong
shape; the policy turns that into one sentence for the user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bedside.policy.model import Label
from bedside.policy.rules import OfflineRules

__all__ = [
    "Entry",
    "Withheld",
    "labels_of",
    "parse_entry",
    "parse_label",
    "parse_settings",
    "parse_withheld",
    "until_of",
    "whole",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``patients`` entry: a reason the caller reaches a patient, until when."""

    patient: str
    basis: str
    until: int | None
    types: frozenset[str] | None = None  # consent only
    labels: frozenset[Label] | None = None  # consent only
    labels_not: frozenset[Label] = frozenset()  # consent only
    resources: frozenset[str] | None = None  # consent only: "Type/id" shared; None: any


@dataclass(frozen=True, slots=True)
class Withheld:
    """One ``refusals`` entry: data of a patient withheld (a consent deny), until when."""

    patient: str
    until: int | None
    types: frozenset[str] | None
    labels: frozenset[Label] | None


def labels_of(resource: Mapping[str, Any]) -> frozenset[Label]:
    """The resource's security labels (``meta.security``) as (system, code)."""
    meta = resource.get("meta")
    security = meta.get("security") if isinstance(meta, dict) else None
    if not isinstance(security, list):
        return frozenset()
    return frozenset(
        (str(c.get("system") or ""), c["code"])
        for c in security
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    )


def parse_label(text: object) -> Label:
    """``system|code`` → (system, code); the code is after the last bar."""
    if not isinstance(text, str):
        raise TypeError("label")
    system, _, code = text.rpartition("|")
    return system, code


def _set(values: object, item: Callable[[Any], _T]) -> frozenset[_T] | None:
    """A claim's list as a set (None stays None: "no restriction")."""
    if values is None:
        return None
    if not isinstance(values, list):
        raise TypeError("list")
    return frozenset(map(item, values))


def whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("int")
    return value


def until_of(value: object) -> int | None:
    return None if value is None else whole(value)


def parse_entry(raw: Mapping[str, Any]) -> Entry:
    basis, until = str(raw["basis"]), until_of(raw.get("until"))
    if basis != "consent":
        return Entry(str(raw["id"]), basis, until)
    types, labels = _set(raw.get("types"), str), _set(raw.get("labels"), parse_label)
    return Entry(
        str(raw["id"]),
        basis,
        until,
        types,
        labels,
        _set(raw.get("labels_not") or [], parse_label) or frozenset(),
        _set(raw.get("resources"), str),
    )


def parse_withheld(raw: Mapping[str, Any]) -> Withheld:
    types, labels = _set(raw.get("types"), str), _set(raw.get("labels"), parse_label)
    return Withheld(str(raw["id"]), until_of(raw.get("until")), types, labels)


def parse_settings(raw: Mapping[str, Any], expires: int, claims: Mapping[str, Any]) -> OfflineRules:
    """The ``offline`` claim as :class:`OfflineRules`; absent keys take the policy defaults."""
    defaults = OfflineRules()
    issued = claims.get("iat")
    values: dict[str, int] = {
        "snapshot_seconds": expires - whole(issued)
        if issued is not None
        else defaults.snapshot_seconds
    }
    for name, default in defaults.claims().items():
        value = whole(raw.get(name, default))
        if value < 0:
            raise ValueError(name)
        values[name] = value
    return OfflineRules(**values)
