"""Where a value came from, in words a patient or a clinician reads beside it (issue 22).

A resource ingested from an upstream system carries ``meta.source`` (the system's URI, R4's
element for "the source system of the resource") and, beside it, this module's extension on
``meta``: the system's name as the operator wrote it in ``upstream.toml`` (``label``)::

    "meta": {"source": "urn:oid:2.16.840.1.113883.3.9999",
             "extension": [{"url": "https://bedside.health/fhir/StructureDefinition/source-name",
                            "valueString": "City Hospital laboratory"}]}

The name travels with the resource, so every reader has it without knowing the server's
configuration: the portal, the device (sync sends resources whole), any FHIR client. A raw
system URI is never shown alone: a source without a name is "another system".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["SOURCE_NAME", "named_meta", "source_line", "source_name"]

SOURCE_NAME: Final = "https://bedside.health/fhir/StructureDefinition/source-name"


def named_meta(meta: dict[str, Any], system: str, name: str) -> dict[str, Any]:
    """``meta`` with ``source`` = ``system`` and the source-name extension = ``name`` (any
    earlier source-name replaced, other extensions kept)."""
    others = [
        e
        for e in meta.get("extension") or []
        if not (isinstance(e, dict) and e.get("url") == SOURCE_NAME)
    ]
    return {
        **meta,
        "source": system,
        "extension": [*others, {"url": SOURCE_NAME, "valueString": name}],
    }


def source_name(resource: Mapping[str, Any], known: Mapping[str, str] | None = None) -> str | None:
    """The upstream system's name a resource came from: its extension, else ``known``
    (system URI → name, from ``upstream.toml``) by its ``meta.source``; None when it was not
    ingested from a named upstream system."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return None
    for ext in meta.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == SOURCE_NAME:
            value = ext.get("valueString")
            if isinstance(value, str) and value.strip():
                return value.strip()
    system = meta.get("source")
    if known and isinstance(system, str) and system in known:
        return known[system]
    return None


def source_line(
    resource: Mapping[str, Any],
    day: Callable[[Any], str],
    *,
    known: Mapping[str, str] | None = None,
    otherwise: str = "Recorded in Bedside",
) -> str:
    """ "From City Hospital laboratory, received 4 March 2026" (``day`` puts the date in words);
    ``otherwise`` for what was not ingested (e.g. the performing organisation's name)."""
    name = source_name(resource, known)
    if name is None:
        return otherwise
    updated = (resource.get("meta") or {}).get("lastUpdated")
    return f"From {name}, received {day(updated)}" if updated else f"From {name}"
