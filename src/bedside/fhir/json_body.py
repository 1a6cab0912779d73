"""Parsing a JSON request body with a nesting limit.

orjson parses up to 1,024 levels but serialises at most 254, so a deeper body used to be
accepted and then fail with a 500 when it was stored. No FHIR resource needs anywhere near
``MAX_DEPTH`` levels (a Questionnaire's nested items are the deepest in practice), so a deeper
body is refused as a structure error (400 with an OperationOutcome) before anything else runs.

Every JSON request body the server reads goes through :func:`loads`: the FHIR API, the review
resolution, the device, launch and governance APIs. A sync push passes ``max_depth=None``: its
envelope is checked as a whole, but each event's own depth is judged alone, so one event too
deep is rejected by itself and the others still land (protocol/event.py ``canonical``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from bedside.errors import InvalidRequest

__all__ = ["MAX_DEPTH", "loads"]

MAX_DEPTH: Final = 100


def loads(raw: bytes, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """The parsed body, or InvalidRequest when it is not JSON or nests deeper than
    ``max_depth`` (None: only orjson's own limit of 1,024 levels, past which it is not JSON)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON (at character {exc.pos}).", code="structure"
        ) from None
    if max_depth is not None and _depth_exceeds(value, max_depth):
        raise InvalidRequest(
            f"The request body nests deeper than {max_depth} levels.", code="structure"
        )
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` containers deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
