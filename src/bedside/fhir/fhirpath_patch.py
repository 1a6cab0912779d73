"""FHIRPath Patch (fhirpatch.html): a Parameters resource of operations applied to a resource.

R4 lets a server take FHIRPath Patch as ``application/fhir+json``. Each ``operation`` parameter
has parts ``type`` (add, insert, delete, replace, move), ``path`` and, by type, ``name``,
``value[x]``, ``index``, ``source`` and ``destination``. Bedside evaluates the paths itself
and takes only the part of FHIRPath a patch path needs to name an element: element names from
the resource type (``Patient.name``), each optionally followed by an index (``name[0]``, also
``name.first()``). A path with any other function (``where``, ``ofType``, ...) is refused with a
400 naming it rather than guessed at. Whether an element repeats comes from the R4 model
classes of ``fhir.resources``, so ``add`` makes a list where the element is one.

The operations apply to a copy in order; the first one that cannot apply refuses the whole
patch (422) and nothing is stored. The result is validated like an update by the caller.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from fhir.resources import get_fhir_model_class

from bedside.errors import InvalidRequest, Unprocessable

__all__ = ["Location", "fhirpath_patch"]

_STEP = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\[(\d+)\])?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_TYPES = ("add", "insert", "delete", "replace", "move")
#: A location: the dict or list that holds an element, and its key or position there.
Location = tuple[Any, Any]


def fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The resource with every operation of the Parameters applied, or a 400/422 naming why."""
    entries = parameters.get("parameter")
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest("A FHIRPath Patch needs at least one operation parameter.")
    out = copy.deepcopy(resource)
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or entry.get("name") != "operation":
            raise InvalidRequest(f"Parameter {n} of the patch is not an operation.")
        _apply(out, _parts(entry, n), n)
    return out


def _parts(entry: dict[str, Any], n: int) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for part in entry.get("part") or ():
        name = part.get("name") if isinstance(part, dict) else None
        values = [k for k in part if k.startswith("value")] if isinstance(name, str) else []
        if name is None or len(values) > 1 or name in parts:
            raise InvalidRequest(f"Operation {n} of the patch has a malformed part.")
        if not values:
            raise InvalidRequest(
                f"Operation {n}: a value given as nested parts is not supported; give it as"
                " value[x] (valueHumanName, valueCodeableConcept, ...)."
            )
        parts[name] = part[values[0]]
    if parts.get("type") not in _TYPES:
        raise InvalidRequest(f"Operation {n} needs a type: one of {', '.join(_TYPES)}.")
    if not isinstance(parts.get("path"), str):
        raise InvalidRequest(f"Operation {n} needs a path.")
    return parts


def _apply(resource: dict[str, Any], parts: dict[str, Any], n: int) -> None:
    kind, path = parts["type"], parts["path"]
    _steps(path.partition(".")[2], path, n)  # refuses any other FHIRPath before a message names it
    if kind in ("insert", "move"):
        _reorder(resource, kind, parts, n, path)
        return
    where = _resolve(resource, path, n)
    if kind == "delete":
        if len(where) > 1:
            raise Unprocessable(f"Operation {n}: {path} names more than one element to delete.")
        for holder, key in where:  # no match: nothing to delete (fhirpatch.html)
            del holder[key]
        _prune(resource)
        return
    if len(where) != 1:
        raise Unprocessable(f"Operation {n}: {path} must name exactly one element.")
    holder, key = where[0]
    if kind == "replace":
        holder[key] = _value(parts, n)
        return
    target, name = holder[key], parts.get("name")
    if not isinstance(target, dict) or not isinstance(name, str) or not _NAME.fullmatch(name):
        raise Unprocessable(f"Operation {n}: add needs a name and a path to an element.")
    value = _value(parts, n)
    if isinstance(target.get(name), list):
        target[name].append(value)
    elif name in target:
        raise Unprocessable(f"Operation {n}: {path}.{name} has a value already; replace it.")
    else:
        target[name] = [value] if _repeats(resource["resourceType"], path, name) else value


def _reorder(resource: dict[str, Any], kind: str, parts: dict[str, Any], n: int, path: str) -> None:
    """insert and move: ``path`` names a repeating element as a whole (its list)."""
    parent, _, name = path.rpartition(".")
    where = _resolve(resource, parent, n) if parent else []
    if len(where) != 1 or not isinstance(where[0][0][where[0][1]], dict) or "[" in name:
        raise Unprocessable(f"Operation {n}: {kind} needs a path to one repeating element.")
    holder = where[0][0][where[0][1]]
    items = holder.get(name, [] if kind == "insert" else None)
    if not isinstance(items, list):
        raise Unprocessable(f"Operation {n}: {path} is not a repeating element.")
    if kind == "insert":
        items.insert(_index(parts, "index", len(items), n), _value(parts, n))
        holder[name] = items
        return
    source = _index(parts, "source", len(items) - 1, n)
    destination = _index(parts, "destination", len(items) - 1, n)
    items.insert(destination, items.pop(source))


def _index(parts: dict[str, Any], name: str, top: int, n: int) -> int:
    value = parts.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise Unprocessable(f"Operation {n}: {name} must be a position from 0 to {top}.")
    return value


def _value(parts: dict[str, Any], n: int) -> Any:
    if "value" not in parts:
        raise InvalidRequest(f"Operation {n} needs a value.")
    return copy.deepcopy(parts["value"])


def _resolve(resource: dict[str, Any], path: str, n: int) -> list[Location]:
    """Where each element the path selects is held; a repeating element's items one by one
    (FHIRPath flattens lists), an index keeping only that item of the step's selection."""
    head, _, rest = path.partition(".")
    if head != resource["resourceType"]:
        raise InvalidRequest(f"Operation {n}: the path must start with {resource['resourceType']}.")
    nodes: list[Location] = [({"": resource}, "")]
    for name, index in _steps(rest, path, n):
        found: list[Location] = []
        for holder, key in nodes:
            node = holder[key]
            if not isinstance(node, dict) or name not in node:
                continue
            value = node[name]
            if isinstance(value, list):
                found.extend((value, i) for i in range(len(value)))
            else:
                found.append((node, name))
        nodes = found if index is None else found[index : index + 1]
    return nodes


def _steps(rest: str, path: str, n: int) -> list[tuple[str, int | None]]:
    steps: list[tuple[str, int | None]] = []
    for text in rest.split(".") if rest else []:
        if text == "first()" and steps:
            steps[-1] = (steps[-1][0], 0)
            continue
        match = _STEP.fullmatch(text)
        if match is None:  # named by its function only: the literals may be a patient's data
            call = re.match(r"[A-Za-z]*\(", text)
            what = f"{call.group()[:-1]}()" if call else "a FHIRPath form"
            raise InvalidRequest(
                f"Operation {n}: the path uses {what}, which Bedside does not evaluate in a"
                " patch; use element names and [index] only."
            )
        steps.append((match.group(1), int(match.group(2)) if match.group(2) else None))
    return steps


def _repeats(rtype: str, path: str, name: str) -> bool:
    """Whether ``name`` under the element at ``path`` is a repeating element (R4 model)."""
    model: Any = get_fhir_model_class(rtype)
    for step, _ in _steps(path.partition(".")[2], path, 0):
        field = _fields(model).get(step)
        if field is None:
            return False
        model = field.type_
    field = _fields(model).get(name)
    return field is not None and getattr(field.outer_type_, "__origin__", None) is list


@cache
def _fields(model: Any) -> dict[str, Any]:
    fields = getattr(model, "__fields__", None) or {}
    return {f.alias: f for f in fields.values()}


def _prune(node: Any) -> None:
    """Drop lists and objects a delete left empty (FHIR JSON has no empty arrays)."""
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if v in ([], {})]:
            del node[key]
        for value in node.values():
            _prune(value)
    elif isinstance(node, list):
        for value in node:
            _prune(value)
