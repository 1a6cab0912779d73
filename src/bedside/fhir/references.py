"""The references a resource makes to this server's own resources, for referential integrity.

A reference is local when it is relative: ``Type/id`` or ``Type/id/_history/n``
(references.html#literal). Contained (``#x``), ``urn:`` and absolute references are not this
server's to check; neither are logical references (``identifier`` only) nor canonicals. The
JSON path of each reference is kept for the OperationOutcome's ``expression``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from bedside.fhir.resource_types import is_resource_type

__all__ = ["local_references"]

_LOCAL: Final = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[0-9]+)?")


def local_references(resource: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(target type, target id, FHIRPath-like location) of every local reference."""
    yield from _walk(resource, str(resource.get("resourceType", "")))


def _walk(value: Any, where: str) -> Iterator[tuple[str, str, str]]:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            m = _LOCAL.fullmatch(ref)
            if m and is_resource_type(m.group(1)):
                yield m.group(1), m.group(2), where
        for key, item in value.items():
            if key not in ("reference", "contained") and not key.startswith("_"):
                yield from _walk(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")
