"""``_summary`` and ``_elements``: a resource cut down to what the client asked for.

search.html#summary and #elements. Read, vread and search all shape their resources here, so
the three answer alike. Which elements are "summary" or mandatory comes from the R4
definitions (:mod:`bedside.fhir.summary_elements`, generated). A subset is marked with the
``SUBSETTED`` tag (v3-ObservationValue) so that no client mistakes it for the whole resource
and writes it back.

Limits: only top-level elements are chosen; an element that is kept is kept whole (summary
flags inside backbone elements are not applied).
"""

from __future__ import annotations

from typing import Any, Final

from bedside.errors import InvalidRequest
from bedside.fhir.summary_elements import MANDATORY, SUMMARY

__all__ = ["SUBSETTED", "SUMMARY_MODES", "is_subset", "is_subset_tagged", "subset", "summary_mode"]

#: Every value ``_summary`` takes (search.html#summary); ``false`` means the whole resource.
SUMMARY_MODES: Final = ("true", "text", "data", "count", "false")
SUBSETTED: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS: Final = frozenset({"resourceType", "id", "meta"})


def summary_mode(raw: str) -> str | None:
    """The ``_summary`` value as the subset to make (None: the whole resource), or 400."""
    if raw not in SUMMARY_MODES:
        raise InvalidRequest(f"_summary must be one of {', '.join(SUMMARY_MODES)}.")
    return None if raw == "false" else raw


def is_subset(summary: str | None, elements: tuple[str, ...]) -> bool:
    return bool(elements) or summary in ("true", "text", "data")


def subset(
    resource: dict[str, Any], *, summary: str | None, elements: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The resource with only the elements ``_elements`` or ``_summary`` keep.

    ``_elements`` wins over ``_summary`` (search.html#elements); mandatory elements are always
    kept with it, as the spec asks servers to. ``summary`` is a value of :func:`summary_mode`.
    """
    rtype = str(resource.get("resourceType", ""))
    if elements:
        wanted = frozenset(_element_name(rtype, e) for e in elements)
        keep = _ALWAYS | wanted | MANDATORY.get(rtype, frozenset())
    elif summary == "true":
        keep = _ALWAYS | SUMMARY.get(rtype, frozenset())
    elif summary == "text":
        keep = _ALWAYS | {"text"} | MANDATORY.get(rtype, frozenset())
    elif summary == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
        return _tagged(kept)
    else:
        return resource
    return _tagged({k: v for k, v in resource.items() if _kept(k, keep)})


def is_subset_tagged(resource: object) -> bool:
    """Whether a resource carries the SUBSETTED tag: a write of it would lose what the subset
    left out, so the server refuses it (search.html#summary: "should not be used to update")."""
    if not isinstance(resource, dict):
        return False
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(t, dict)
        and t.get("code") == SUBSETTED["code"]
        and t.get("system") == SUBSETTED["system"]
        for t in tags
    )


def _element_name(rtype: str, element: str) -> str:
    """``Observation.code`` (R5 style) and ``code`` (R4) name the same element."""
    prefix = f"{rtype}."
    return element[len(prefix) :] if element.startswith(prefix) else element


def _kept(key: str, keep: frozenset[str]) -> bool:
    """Whether a JSON key belongs to a kept element: ``_birthDate`` goes with ``birthDate``,
    ``valueQuantity`` with ``value[x]``."""
    name = key[1:] if key.startswith("_") else key
    if name in keep:
        return True
    return any(name[i].isupper() and f"{name[:i]}[x]" in keep for i in range(1, len(name)))


def _tagged(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t != SUBSETTED]
    meta["tag"] = [*tags, SUBSETTED]
    return {**resource, "meta": meta}
