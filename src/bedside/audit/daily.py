"""Counts of audit events per UTC day, by subtype and outcome: the history behind the
console's small charts (docs/console.md "Overview"). Every access decision is an audit event,
so the trail already is the time series; this reads it through the ``recorded_ms`` index and
returns counts only (no patient, no user).
"""

from __future__ import annotations

from typing import Final

from bedside.store.base import Records

__all__ = ["DAY_MS", "daily_counts"]

DAY_MS: Final = 86_400_000


def daily_counts(records: Records, days: int, now: float) -> dict[tuple[int, str, str], int]:
    """{(day index 0 = oldest, subtype, outcome): count} over the ``days`` UTC days ending
    today, ``now`` in UNIX seconds."""
    today = int(now * 1000) // DAY_MS
    first = today - days + 1
    rows = records.rows(
        "SELECT recorded_ms / ? AS day, subtype, outcome, COUNT(*) FROM audit_log"
        " WHERE recorded_ms >= ? GROUP BY day, subtype, outcome",
        (DAY_MS, first * DAY_MS),
    )
    return {(int(d) - first, str(s), str(o)): int(n) for d, s, o, n in rows}
