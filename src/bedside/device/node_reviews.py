"""The node's review work: explain a needs-review or rejected item, keep it for the reviewer,
withdraw it, resolve it, and what sync sends and stores for them (:mod:`bedside.device.reviews`).

A part of :class:`bedside.device.node.Node` (a mixin, like :mod:`~bedside.device.node_ward`).
The app's calls are uses of the device; sync's are background calls (they never keep it awake).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from bedside.device import reviews
from bedside.device.reviews import ReviewView
from bedside.device.session import Session

__all__ = ["ReviewSide"]


class ReviewSide:
    """Needs-review and rejected items, as the app and sync ask for them."""

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    def review_item(self, seq: int) -> ReviewView:
        with self._use() as s:
            return reviews.explain(s, seq)

    def acknowledge_review(self, seq: int) -> None:
        with self._use() as s:
            reviews.acknowledge(s, seq)

    def withdraw_review(self, seq: int) -> None:
        with self._use() as s:
            reviews.withdraw(s, seq)

    def resolve_review(self, seq: int, choices: dict[str, str]) -> None:
        with self._use() as s:
            reviews.resolve(s, seq, choices)

    # --- for sync ----------------------------------------------------------------------------

    def review_choices(self) -> dict[int, dict[str, Any]]:
        with self._use(background=True) as s:
            return reviews.queued(s)

    def review_choice_done(self, seq: int, error: str | None) -> None:
        with self._use(background=True) as s:
            reviews.done(s, seq, error)

    def reviews_to_fetch(self) -> list[tuple[int, str]]:
        with self._use(background=True) as s:
            return reviews.to_fetch(s)

    def store_review_detail(self, seq: int, detail: dict[str, Any]) -> None:
        with self._use(background=True) as s:
            reviews.store_detail(s, seq, detail)

    def close_settled_reviews(self) -> int:
        with self._use(background=True) as s:
            return reviews.close_settled(s)
