"""Plain counters of what the upstream feeds did, for `upstream status` now and the metrics
endpoint later (kept as numbers: whoever exposes them picks the format). Counts only, never
a message id or anything from a message."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Counters"]


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)
