"""Figures kept per day in the database, for the console's charts over time.

Prometheus keeps the latency histograms and the devices' reported backlog, but only for as long
as whoever scrapes it keeps them, and the console cannot read it. So the handlers that see these
figures also fold them into one row per UTC day and figure (``daily_figures``, migration 0015):
how many samples, their total and the largest. Aggregates only — no device, user or patient —
so the console may show them to every console role. One small upsert per push, pull or report.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from bedside.store.base import Records, Store

__all__ = ["FIGURES", "keep", "note", "peaks"]

log = logging.getLogger("bedside.metrics")

#: The figures kept, and what each sample is.
FIGURES: Final = {
    "push-ms": "one sync push, from its body read to its answer, in milliseconds",
    "pull-ms": "one sync pull page, in milliseconds",
    "unsent": "the events every active device last reported waiting to send, added up",
}


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def note(db: Records, figure: str, value: int, now: float) -> None:
    """Fold one sample of ``figure`` into today's row (inside the caller's write)."""
    if figure not in FIGURES:
        raise ValueError(f"unknown daily figure {figure!r}")
    value = max(0, int(value))
    db.run(
        "INSERT INTO daily_figures (day, figure, samples, total, peak) VALUES (?, ?, 1, ?, ?)"
        " ON CONFLICT (day, figure) DO UPDATE SET samples = daily_figures.samples + 1,"
        " total = daily_figures.total + excluded.total,"
        " peak = CASE WHEN excluded.peak > daily_figures.peak"
        " THEN excluded.peak ELSE daily_figures.peak END",
        (_day(now), figure, value, value),
    )


def keep(store: Store, figure: str, value: int, now: float) -> None:
    """:func:`note` in its own short write, after the request's own work has committed: a
    figure that cannot be kept is logged, never turned into the request's failure."""
    try:
        with store.records(write=True) as db:
            note(db, figure, value, now)
    except Exception as exc:  # the push or pull it measured has already succeeded
        log.warning("daily figure not kept", extra={"error_type": type(exc).__name__})


def peaks(db: Records, figure: str, days: int, now: float) -> list[int]:
    """The largest sample of ``figure`` on each of the last ``days`` days, oldest first (0 on a
    day without one)."""
    today = datetime.fromtimestamp(now, UTC).date()
    first = today - timedelta(days=days - 1)
    rows = db.rows(
        "SELECT day, peak FROM daily_figures WHERE figure = ? AND day >= ?",
        (figure, first.isoformat()),
    )
    found = {str(day): int(peak) for day, peak in rows}
    return [found.get((first + timedelta(days=i)).isoformat(), 0) for i in range(days)]
