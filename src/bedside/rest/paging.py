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
            return cls(int(data["s"]), tuple(after) if after is not None else None, int(data["o"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise InvalidRequest(
                "The paging cursor is not valid; start the search again."
            ) from None
