"""The overview's charts over the last 14 days, one bar per day, oldest first.

Counts come from the audit trail (``bedside.audit.daily``): requests refused, break-glass
grants, device events rejected or sent to review at sync, sign-ins refused. The figures only
Prometheus would otherwise keep over time come from ``bedside.metrics.daily``: each day's
slowest sync push and pull page, and the most events devices reported waiting to send. Every
chart is an aggregate: no patient, user or device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from bedside.audit.daily import daily_counts
from bedside.metrics import daily
from bedside.store.base import Records

__all__ = ["DAYS", "trends"]

DAYS: Final = 14
_REST: Final = frozenset(
    {"read", "vread", "search-type", "history-instance", "history-type", "create", "update",
     "patch", "delete", "operation"}
)  # fmt: skip
#: The overview's charts over the last 14 days: (title, which audit events count).
_TRENDS: Final[tuple[tuple[str, Callable[[str, str], bool]], ...]] = (
    ("Requests refused", lambda sub, out: sub in _REST and out == "4"),
    ("Break-glass grants", lambda sub, out: sub == "break-glass" and out == "0"),
    ("Device events rejected at sync", lambda sub, out: sub == "sync-reject"),
    ("Device events sent to review", lambda sub, out: sub == "sync-review"),
    ("Sign-ins refused", lambda sub, out: sub == "login" and out != "0"),
)


#: Charts of figures only Prometheus would otherwise keep over time (bedside.metrics.daily):
#: each day's largest sample; the headline is the largest of the 14 days.
_PEAKS: Final = (
    ("push-ms", "Slowest sync push of the day (milliseconds)"),
    ("pull-ms", "Slowest sync pull page of the day (milliseconds)"),
    ("unsent", "Most events waiting on devices, as they reported"),
)


def trends(db: Records, now: float) -> list[dict[str, Any]]:
    """Each chart: ``title``, ``days`` (one value per day, oldest first), ``top`` (the scale)
    and ``headline`` (the 14 days' total for counts, the largest day for peaks)."""
    counts = daily_counts(db, DAYS, now)
    out: list[dict[str, Any]] = []
    for title, counted in _TRENDS:
        series = [0] * DAYS
        for (day, sub, outcome), n in counts.items():
            if 0 <= day < DAYS and counted(sub, outcome):
                series[day] += n
        out.append(
            {"title": title, "days": series, "top": max([*series, 1]), "headline": sum(series)}
        )
    for figure, title in _PEAKS:
        series = daily.peaks(db, figure, DAYS, now)
        out.append(
            {"title": title, "days": series, "top": max([*series, 1]), "headline": max(series)}
        )
    return out
