"""JSON Merge Patch (RFC 7396) applied to a resource.

http.html#patch lets a server take any patch format; JSON Merge Patch is what clients such as
fhirpy send (a partial resource: ``{"active": false}``). RFC 7396 §2: an object merges member
by member, ``null`` removes a member, anything else replaces it whole (arrays included).
"""

from __future__ import annotations

from typing import Any

from bedside.errors import InvalidRequest

__all__ = ["merge_patch"]


def merge_patch(target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The resource with ``patch`` merged in; a patch that is not a JSON object is a 400 (a
    whole-document replacement is what PUT is for)."""
    if not isinstance(patch, dict):
        raise InvalidRequest("A JSON Merge Patch body must be a JSON object.")
    merged = _merge(target, patch)
    assert isinstance(merged, dict)
    return merged


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7396 §2 MergePatch(Target, Patch)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = _merge(out.get(name), value)
    return out
