"""Which search parameters each resource type has, as typed values (SearchParameter).

The table lives in :mod:`bedside.fhir.search.definitions` (generated from the R4 definitions,
ADR 0015); every other R4 type gets the common parameters plus ``patient``/``subject`` when it
has such a Reference element, so that every stored type is searchable by ``_id``,
``_lastUpdated`` and its patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from bedside.fhir.resource_types import RESOURCE_TYPES
from bedside.fhir.search.definitions import COMMON_PARAMETERS, SEARCH_PARAMETERS

__all__ = ["Path", "SearchParam", "params_for"]


@dataclass(frozen=True, slots=True)
class Path:
    """A search path: element names from the resource root; the last may be a ``[x]`` choice."""

    segments: tuple[str, ...]
    target_types: frozenset[str] | None = None

    @classmethod
    def parse(cls, text: str) -> Path:
        body, _, targets = text.partition("|")
        return cls(
            tuple(body.split(".")),
            frozenset(targets.split(",")) if targets else None,
        )


@dataclass(frozen=True, slots=True)
class SearchParam:
    resource_type: str
    code: str
    kind: str
    paths: tuple[Path, ...]

    @property
    def key(self) -> str:
        """The name under which index rows of this parameter are stored."""
        return f"{self.resource_type}.{self.code}"


def _generic_patient_params(rtype: str) -> list[tuple[str, str, tuple[str, ...]]]:
    from fhir.resources import get_fhir_model_class

    fields = {f.alias: f for f in get_fhir_model_class(rtype).__fields__.values()}
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for name in ("patient", "subject"):
        field = fields.get(name)
        if field is not None and getattr(field.type_, "__resource_type__", "") == "Reference":
            out.append((name, "reference", (name,)))
            if name == "subject" and "patient" not in fields:
                out.append(("patient", "reference", ("subject|Patient",)))
    return out


@cache
def _table() -> Mapping[str, Mapping[str, SearchParam]]:
    by_type: dict[str, dict[str, SearchParam]] = {t: {} for t in RESOURCE_TYPES}
    for rtype, code, kind, paths in SEARCH_PARAMETERS:
        by_type[rtype][code] = SearchParam(rtype, code, kind, tuple(Path.parse(p) for p in paths))
    for rtype, params in by_type.items():
        if not params:
            for code, kind, paths in _generic_patient_params(rtype):
                params[code] = SearchParam(rtype, code, kind, tuple(Path.parse(p) for p in paths))
        for code, kind, paths in COMMON_PARAMETERS:
            params[code] = SearchParam(rtype, code, kind, tuple(Path.parse(p) for p in paths))
    return by_type


def params_for(resource_type: str) -> Mapping[str, SearchParam]:
    """All search parameters of a type, by code (empty for an unknown type)."""
    return _table().get(resource_type, {})
