"""Figures kept per day for the console's charts over time (bedside.metrics.daily), on SQLite
and PostgreSQL: each day's row counts its samples, adds them up and keeps the largest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bedside.console.trends import DAYS, trends
from bedside.metrics import daily
from bedside.store import Store

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


def test_a_day_keeps_its_largest_sample_and_the_charts_read_it(store: Store) -> None:
    with store.records(write=True) as db:
        for ms in (120, 870, 45):
            daily.note(db, "push-ms", ms, NOON - 2 * DAY)
        daily.note(db, "push-ms", 300, NOON)
        daily.note(db, "unsent", 12, NOON - DAY)
        daily.note(db, "unsent", 3, NOON - DAY)
    with store.records() as db:
        push = daily.peaks(db, "push-ms", DAYS, NOON)
        waiting = daily.peaks(db, "unsent", DAYS, NOON)
        rows = db.rows("SELECT samples, total FROM daily_figures WHERE figure = ? AND day = ?",
                       ("push-ms", "2026-12-01"))  # fmt: skip
        charts = {c["title"]: c for c in trends(db, NOON)}
    assert len(push) == DAYS and push[-1] == 300 and push[-3] == 870 and sum(push) == 1170
    assert waiting[-2] == 12 and waiting[-1] == 0
    assert [(int(a), int(b)) for a, b in rows] == [(3, 1035)]
    slowest = charts["Slowest sync push of the day (milliseconds)"]
    assert slowest["headline"] == 870 and slowest["top"] == 870
    assert charts["Most events waiting on devices, as they reported"]["days"] == waiting


def test_only_the_named_figures_are_kept(store: Store) -> None:
    with store.records(write=True) as db, pytest.raises(ValueError, match="unknown daily figure"):
        daily.note(db, "patient-count", 1, NOON)
