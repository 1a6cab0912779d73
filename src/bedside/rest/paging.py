"""Opaque paging cursors (search.html#paging).

A cursor holds the change-feed position at which the search started (its snapshot) and the sort
key of the last row served. Pages are keyset pages over resources that existed at the snapshot,
so writes between page requests neither repeat nor skip a result, and no server state is kept.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from bedside.errors import InvalidRequest

__all__ = ["Cursor"]


@dataclass(frozen=True, slots=True)
class Cursor:
    snapshot: int
    after: tuple[Any, ...] | None = None
    offset: int = 0  # results served so far (page numbering only)

    def encode(self) -> str:
        raw = orjson.dumps({"s": self.snapshot, "a": self.after, "o": self.offset})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = orjson.loads(raw)
            after = data["a"]
            snapshot, offset = _counter(data["s"]), _counter(data["o"])
            if after is not None and not (
                isinstance(after, list) and all(_sort_key_part(part) for part in after)
            ):
                raise ValueError("sort key")
            return cls(snapshot, tuple(after) if after is not None else None, offset)
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise InvalidRequest(
                "The paging cursor is not valid; start the search again."
            ) from None


_INT64_MAX = 2**63 - 1


def _counter(value: object) -> int:
    """A snapshot or offset: a non-negative integer a database column can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64_MAX:
        raise ValueError("counter out of range")
    return value


def _sort_key_part(value: object) -> bool:
    """Whether ``value`` can be a sort-key value bound as a SQL parameter (a forged cursor
    could otherwise carry an integer past 64 bits, a list or an object)."""
    if value is None or isinstance(value, str | float | bool):
        return True
    return isinstance(value, int) and -_INT64_MAX - 1 <= value <= _INT64_MAX
