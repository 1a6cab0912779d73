"""Validation of resources against FHIR R4 (4.0.1).

Structure, datatypes, cardinality and required elements come from the R4 models of
``fhir.resources`` 6.1.0 (generated from the 4.0.1 StructureDefinitions), compiled into a fast
JSON walker by :mod:`bedside.fhir.structure`. On top of them Bedside
checks what those models leave out: codes of ``required`` bindings (validation.html#binding),
the ``id`` format (datatypes.html#id) and reference format (references.html#literal).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, Final

from fhir.resources import get_fhir_model_class
from pydantic import ValidationError

from bedside.errors import InvalidRequest, Issue
from bedside.fhir.resource_types import NOT_STORED, is_resource_type
from bedside.fhir.structure import check_resource

__all__ = ["ID_PATTERN", "check_with_models", "reference_is_well_formed", "validate_resource"]

ID_PATTERN: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RELATIVE_REF: Final = re.compile(
    r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?"
)
_ABSOLUTE_REF: Final = re.compile(r"(https?://\S+|urn:uuid:[0-9a-fA-F-]{36}|urn:oid:[0-2](\.\d+)+)")
_CONDITIONAL_REF: Final = re.compile(r"([A-Z][A-Za-z]+)\?\S+")

_ENCOUNTER_STATUS: Final = frozenset(
    {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"}
    | {"entered-in-error", "unknown"}
)

# Required bindings whose code lists the models abbreviate ("+"): the full R4 value sets.
_FULL_REQUIRED_CODES: Final[Mapping[str, frozenset[str]]] = {
    "Encounter.status": _ENCOUNTER_STATUS,
    "Encounter.statusHistory.status": _ENCOUNTER_STATUS,
    "Observation.status": frozenset(
        [
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "DiagnosticReport.status": frozenset(
        [
            "registered",
            "partial",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "appended",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    "Task.status": frozenset(
        [
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        ]
    ),
}

# Datatypes whose insides carry no required binding worth walking (and which recurse).
_LEAF_TYPES: Final = frozenset(
    {"Extension", "Reference", "Meta", "Narrative", "Resource", "Element", "BackboneElement"}
)


def validate_resource(
    resource: Any, *, expected_type: str | None = None, allow_conditional_refs: bool = False
) -> None:
    """Raise :class:`InvalidRequest` listing every problem found; return quietly when valid."""
    if not isinstance(resource, dict):
        raise InvalidRequest("The request body must be a FHIR resource (a JSON object).")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not is_resource_type(rtype) or rtype in NOT_STORED:
        raise InvalidRequest(
            "The resource has no valid resourceType.",
            code="structure",
            expression=("resourceType",),
        )
    if expected_type is not None and rtype != expected_type:
        raise InvalidRequest(
            f"The resource type {rtype} does not match the endpoint {expected_type}.",
            code="invalid",
            expression=("resourceType",),
        )
    ref_ok = _CONDITIONAL_OK if allow_conditional_refs else reference_is_well_formed
    issues = check_resource(resource, rtype, ref_ok)
    issues.extend(_check_required_codes(rtype, resource))
    issues.extend(_check_id(rtype, resource))
    if issues:
        raise InvalidRequest(issues[0].diagnostics, issues=tuple(issues))


def check_with_models(resource: dict[str, Any]) -> list[str]:
    """The pydantic models' own verdict (slow): the reference the fast check is tested against."""
    try:
        get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
    except ValidationError as exc:
        return [str(err.get("msg")) for err in exc.errors()]
    except (TypeError, ValueError) as exc:
        return [str(exc)]
    return []


def _check_id(rtype: str, resource: dict[str, Any]) -> Iterator[Issue]:
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid)):
        yield Issue(
            "value",
            f"{rtype}.id must be 1-64 characters of A-Z, a-z, 0-9, '-' and '.'.",
            expression=(f"{rtype}.id",),
        )


def reference_is_well_formed(ref: str, *, allow_conditional: bool = False) -> bool:
    """references.html#literal: relative, absolute, or a local (contained) reference."""
    if ref.startswith("#"):
        return len(ref) == 1 or bool(ID_PATTERN.fullmatch(ref[1:]))
    m = _RELATIVE_REF.fullmatch(ref)
    if m:
        return is_resource_type(m.group(1))
    if _ABSOLUTE_REF.fullmatch(ref):
        return True
    if allow_conditional:
        c = _CONDITIONAL_REF.fullmatch(ref)
        return c is not None and is_resource_type(c.group(1))
    return False


def _conditional_ok(ref: str) -> bool:
    return reference_is_well_formed(ref, allow_conditional=True)


_CONDITIONAL_OK: Final = _conditional_ok


def _check_required_codes(rtype: str, resource: dict[str, Any]) -> Iterator[Issue]:
    for path, allowed in _required_code_paths(rtype):
        parts = path.split(".")[1:]
        for value, where in _values_at(resource, parts, rtype):
            if isinstance(value, str) and value not in allowed:
                yield Issue(
                    "code-invalid",
                    f"{where} has a code outside its required value set.",
                    expression=(where,),
                )


def _values_at(node: Any, parts: list[str], path: str) -> Iterator[tuple[Any, str]]:
    if not parts:
        yield node, path
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _values_at(item, parts, f"{path}[{i}]")
        return
    if isinstance(node, dict) and parts[0] in node:
        child = node[parts[0]]
        child_path = f"{path}.{parts[0]}"
        if len(parts) == 1 and isinstance(child, list):
            for i, item in enumerate(child):
                yield item, f"{child_path}[{i}]"
        else:
            yield from _values_at(child, parts[1:], child_path)


@cache
def _required_code_paths(rtype: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Element paths of a type that carry a required binding, with their codes (computed once)."""
    found: list[tuple[str, frozenset[str]]] = []
    _collect_required(get_fhir_model_class(rtype), rtype, found, depth=0, seen=set())
    return tuple(found)


def _collect_required(
    cls: Any, path: str, found: list[tuple[str, frozenset[str]]], depth: int, seen: set[str]
) -> None:
    if depth > 4:
        return
    for field in cls.__fields__.values():
        child = f"{path}.{field.alias}"
        codes = field.field_info.extra.get("enum_values")
        if codes:
            if "+" not in codes:
                found.append((child, frozenset(codes)))
            elif child in _FULL_REQUIRED_CODES:
                found.append((child, _FULL_REQUIRED_CODES[child]))
        sub = getattr(field.type_, "__resource_type__", None)
        if sub and sub not in _LEAF_TYPES and child not in seen and sub != path.split(".")[0]:
            seen.add(child)
            try:
                sub_cls = get_fhir_model_class(sub)
            except (KeyError, ValueError):
                continue
            _collect_required(sub_cls, child, found, depth + 1, seen)
