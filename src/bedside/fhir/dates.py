"""FHIR date, dateTime and instant values as millisecond ranges (datatypes.html#dateTime).

A FHIR date is imprecise on purpose: ``2024-03`` means the whole of March. Search (search.html#date)
compares ranges, so every value becomes ``[low, high]`` in UTC milliseconds, both inclusive.
Values without a time zone are read as UTC.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = ["MAX_MS", "MIN_MS", "now_instant", "parse_range"]

MIN_MS: Final = -(2**62)
MAX_MS: Final = 2**62

_DATE_RE: Final = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_range(text: str) -> tuple[int, int] | None:
    """The instant range a FHIR date/dateTime/instant covers, or None when it is not one."""
    m = _DATE_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        return _range(m)
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59:59+14:00 ends past year 9999
        return None


def _range(m: re.Match[str]) -> tuple[int, int]:
    year = int(m["y"])
    tz = _tz(m["tz"])
    if m["m"] is None:
        start = datetime(year, 1, 1, tzinfo=tz)
        end = datetime(year + 1, 1, 1, tzinfo=tz) if year < 9999 else None
    elif m["d"] is None:
        month = int(m["m"])
        start = datetime(year, month, 1, tzinfo=tz)
        end = start + timedelta(days=calendar.monthrange(year, month)[1])
    elif m["H"] is None:
        start = datetime(year, int(m["m"]), int(m["d"]), tzinfo=tz)
        end = start + timedelta(days=1)
    else:
        hour, minute = int(m["H"]), int(m["M"] or 0)
        if m["S"] is None:
            start = datetime(year, int(m["m"]), int(m["d"]), hour, minute, tzinfo=tz)
            end = start + timedelta(minutes=1)
        else:
            frac = m["f"] or ""
            micro = int((frac[1:] + "000000")[:6]) if frac else 0
            start = datetime(
                year, int(m["m"]), int(m["d"]), hour, minute, int(m["S"]), micro, tzinfo=tz
            )
            end = start + (timedelta(milliseconds=1) if frac else timedelta(seconds=1))
    low = _ms(start)
    high = _ms(end) - 1 if end is not None else MAX_MS
    return low, max(low, high)


def _tz(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def now_instant() -> str:
    """The current time as a FHIR instant with millisecond precision (meta.lastUpdated)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
