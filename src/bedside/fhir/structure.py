"""Fast structural validation of FHIR R4 JSON, compiled from the R4 models of fhir.resources.

The models of ``fhir.resources`` 6.1.0 encode the 4.0.1 StructureDefinitions: for every element
its JSON name, datatype, cardinality (list or single, required) and choice group. Building the
pydantic objects to validate costs about 0.3 ms a resource, most of an import's time; this module
reads the same metadata once and checks a resource by walking its JSON, which is several times
faster and reports every problem with its FHIRPath location. ``tests/unit/test_structure.py``
keeps it in agreement with the models on the sample data and on invalid mutations of it.
See docs/adr/0003-structural-validation.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from fhir.resources import fhirtypes as ft
from fhir.resources import get_fhir_model_class

from bedside.errors import Issue

__all__ = ["Check", "Element", "RefCheck", "TypeSpec", "check_resource", "spec"]

Check = Callable[[Any], bool]


def _regex(cls: Any) -> Check:
    pattern = re.compile(cls.regex.pattern)
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


_STRING_RE: Final = re.compile(ft.String.regex.pattern)


def _is_fhir_string(v: Any) -> bool:
    """datatypes.html#string: non-empty; whitespace other than space, CR, LF and tab refused."""
    return isinstance(v, str) and v != "" and (v.isprintable() or bool(_STRING_RE.fullmatch(v)))


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_PRIMITIVE_CHECKS: Final[dict[Any, tuple[str, Check]]] = {
    ft.Boolean: ("boolean", lambda v: isinstance(v, bool)),
    bool: ("boolean", lambda v: isinstance(v, bool)),
    ft.String: ("string", _is_fhir_string),
    str: ("string", _is_str),
    ft.Code: ("code", _regex(ft.Code)),
    ft.Id: ("id", _regex(ft.Id)),
    ft.Uri: ("uri", _is_str),
    ft.Canonical: ("canonical", _is_str),
    ft.Url: ("url", _is_str),
    ft.Uuid: ("uuid", _is_str),
    ft.Oid: ("oid", _regex(ft.Oid)),
    ft.Markdown: ("markdown", _is_str),
    ft.Xhtml: ("xhtml", _is_str),
    ft.Base64Binary: ("base64Binary", _is_str),
    ft.Date: ("date", _regex(ft.Date)),
    ft.DateTime: ("dateTime", _regex(ft.DateTime)),
    ft.Instant: ("instant", _regex(ft.Instant)),
    ft.Time: ("time", _regex(ft.Time)),
    ft.Decimal: ("decimal", _is_number),
    ft.Integer: ("integer", _is_int),
    ft.UnsignedInt: ("unsignedInt", lambda v: _is_int(v) and v >= 0),
    ft.PositiveInt: ("positiveInt", lambda v: _is_int(v) and v > 0),
}


@dataclass(frozen=True, slots=True)
class Element:
    name: str
    is_list: bool
    required: bool  # min 1; a primitive's "_name" extension also satisfies it
    primitive: tuple[str, Check] | None  # (FHIR type name, check) for primitives
    complex_type: str | None  # model name for complex types and backbone elements
    is_resource: bool  # a contained/inline resource: dispatch on resourceType
    choice: str | None  # the [x] group this element belongs to
    choice_required: bool


@dataclass(frozen=True, slots=True)
class TypeSpec:
    elements: dict[str, Element]
    extensions: frozenset[str]  # the "_name" keys of primitive elements
    required: tuple[Element, ...]
    choices: dict[str, tuple[bool, tuple[str, ...]]]  # group -> (required, member names)


@cache
def spec(model_name: str) -> TypeSpec:
    """The compiled element table of a resource, datatype or backbone element model."""
    cls = get_fhir_model_class(model_name)
    elements: dict[str, Element] = {}
    extensions: set[str] = set()
    choices: dict[str, tuple[bool, list[str]]] = {}
    for field in cls.__fields__.values():
        alias = field.alias
        if alias in ("resourceType", "fhir_comments"):
            continue
        if field.type_ is ft.FHIRPrimitiveExtensionType:
            extensions.add(alias)
            continue
        extra = field.field_info.extra
        typ = field.type_
        rtype = getattr(typ, "__resource_type__", None)
        primitive = _PRIMITIVE_CHECKS.get(typ)
        if primitive is None and rtype is None:
            primitive = ("string", _is_str)
        group = extra.get("one_of_many")
        el = Element(
            name=alias,
            is_list=field.shape != 1,
            required=bool(field.required or extra.get("element_required")),
            primitive=primitive if rtype is None else None,
            complex_type=rtype if rtype not in (None, "Resource") else None,
            is_resource=rtype == "Resource",
            choice=group,
            choice_required=bool(extra.get("one_of_many_required")),
        )
        elements[alias] = el
        if group:
            _, members = choices.setdefault(group, (el.choice_required, []))
            members.append(alias)
    return TypeSpec(
        elements,
        frozenset(extensions),
        tuple(e for e in elements.values() if e.required and e.choice is None),
        {g: (r, tuple(m)) for g, (r, m) in choices.items()},
    )


RefCheck = Callable[[str], bool]


def _any_reference(ref: str) -> bool:
    return True


def check_resource(
    resource: dict[str, Any], rtype: str, reference_ok: RefCheck = _any_reference
) -> list[Issue]:
    """Every structural problem of a resource of type ``rtype`` (empty when valid).

    ``reference_ok`` is asked about every ``Reference.reference`` on the way, so the reference
    format is checked in the same walk.
    """
    return list(_check_object(resource, rtype, rtype, True, reference_ok))


def _check_object(
    node: Any, model: str, path: str, is_resource: bool, ref_ok: RefCheck
) -> Iterator[Issue]:
    if not isinstance(node, dict):
        yield Issue("structure", f"{path}: must be a JSON object", expression=(path,))
        return
    try:
        ts = spec(model)
    except (KeyError, ValueError):
        yield Issue("structure", f"{path}: unknown type {model}", expression=(path,))
        return
    elements = ts.elements
    if model == "Reference":
        ref = node.get("reference")
        if isinstance(ref, str) and not ref_ok(ref):
            yield Issue(
                "value",
                f"{path}.reference is not a valid reference (expected Type/id, an absolute URL, "
                "urn:uuid: or #contained).",
                expression=(f"{path}.reference",),
            )
    for key, value in node.items():
        el = elements.get(key)
        if el is None:
            if key in ts.extensions or key == "fhir_comments":
                continue
            if is_resource and key == "resourceType":
                continue
            yield Issue(
                "structure", f"{path}.{key}: unknown element", expression=(f"{path}.{key}",)
            )
            continue
        if value is None:
            yield Issue("value", f"{path}.{key}: may not be null", expression=(f"{path}.{key}",))
            continue
        if el.is_list:
            if not isinstance(value, list):
                yield Issue(
                    "structure", f"{path}.{key}: must be an array", expression=(f"{path}.{key}",)
                )
                continue
            for i, item in enumerate(value):
                yield from _check_value(el, item, f"{path}.{key}[{i}]", ref_ok)
        else:
            if isinstance(value, list):
                yield Issue(
                    "structure",
                    f"{path}.{key}: must not be an array",
                    expression=(f"{path}.{key}",),
                )
                continue
            yield from _check_value(el, value, f"{path}.{key}", ref_ok)
    for el in ts.required:
        if el.name not in node and f"_{el.name}" not in node:
            yield Issue(
                "required", f"{path}.{el.name}: field required", expression=(f"{path}.{el.name}",)
            )
    for group, (required, members) in ts.choices.items():
        present = [m for m in members if m in node or f"_{m}" in node]
        if len(present) > 1:
            yield Issue(
                "structure",
                f"{path}.{group}[x]: only one of {', '.join(present)} may be present",
                expression=(f"{path}.{present[1]}",),
            )
        elif required and not present:
            yield Issue(
                "required",
                f"{path}.{group}[x]: one value is required",
                expression=(f"{path}.{group}[x]",),
            )


def _check_value(el: Element, value: Any, path: str, ref_ok: RefCheck) -> Iterator[Issue]:
    if el.primitive is not None:
        name, check = el.primitive
        if not check(value):
            yield Issue("value", f"{path}: not a valid {name}", expression=(path,))
    elif el.is_resource:
        rtype = value.get("resourceType") if isinstance(value, dict) else None
        if not isinstance(rtype, str):
            yield Issue("structure", f"{path}: a resource needs resourceType", expression=(path,))
            return
        try:
            get_fhir_model_class(rtype)
        except (KeyError, ValueError):
            yield Issue("structure", f"{path}: unknown resourceType", expression=(path,))
            return
        yield from _check_object(value, rtype, path, True, ref_ok)
    elif el.complex_type is not None:
        yield from _check_object(value, el.complex_type, path, False, ref_ok)
