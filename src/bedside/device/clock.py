"""The server's clock as this device knows it: an offset learned online, for every time check.

Tokens and policy snapshots carry the server's times (``iat``, ``exp``, ``nbf``, each entry's
``until``); a phone's clock drifts, or is set by hand, minutes away from them. So the device
checks those times against the server's clock, estimated as its own clock plus an **offset**
(server minus device) learned from the server's answers, and kept in the encrypted store
(meta ``server_clock``) with the server time it was learned at, so it survives restarts.
docs/sync-protocol.md ("Clock discipline") and docs/device-offline.md say the same for users.

Limits:

* :data:`TOLERANCE` (60 s, the snapshot's ``NBF_LEEWAY``): how far the corrected clock may
  still disagree with a token's or snapshot's times (the offset is measured over a round trip,
  to the second);
* :data:`MAX_SKEW` (one hour): the largest skew corrected. Phone clocks drift by seconds or
  minutes; a clock an hour or more off is a wrong setting (time zone, daylight saving, a clock
  battery) that also stamps every record the user makes, so the device says so in one plain
  sentence (:class:`ClockSkew`) and the user sets the clock. Nothing is burnt meanwhile: the
  token exchange still succeeds and its rotated refresh token is kept.

Where the server's time comes from (**only authenticated answers count**):

* the ``iat`` of every access token the token endpoint issues, read only after its RS256
  signature verified against the server's key set (:meth:`ServerClock.for_token`);
* the HTTP ``Date`` (RFC 9110 §6.6.1) of a 2xx answer to a request that carried the device's
  access token: push, pull, the policy snapshot, the device API (:meth:`ServerClock.heard`),
  over the connection to the server the device enrolled with (HTTPS in production);
* the ``server_time`` of a push answer (docs/sync-protocol.md), to the millisecond.

Error answers, discovery and the key set never teach the clock.

Why a learned offset cannot stretch an expired snapshot (G6):

1. Offline nothing changes the offset, so the corrected clock advances exactly as the device's
   own clock does: the snapshot's ``exp`` stays one fixed device-clock instant
   (``exp - offset``), and waiting never extends it. A device clock set back moves the corrected
   clock back with it, as before: more than a minute before ``nbf`` locks the device.
2. The server's time never goes backwards on the device: a reading older than the latest one
   adopted (less :data:`TOLERANCE`), a stale or replayed answer, even a genuinely signed one, is
   ignored, so an old answer cannot wind the device's idea of the time back.
3. An offset is never larger than :data:`MAX_SKEW`, learned or read back from the store. The
   most a device holder can gain by setting the clock wrong before a sync and right after it is
   that hour, once per online contact (which brings a fresh snapshot anyway); setting the clock
   back offline, the old limit, is bounded by ``nbf`` as before, and the server rechecks every
   event at sync (G3).
4. Signatures are checked exactly as before, and before any time is read from a token.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Final

import httpx

from bedside.device.errors import DeviceError
from bedside.protocol.snapshot import NBF_LEEWAY

__all__ = [
    "MAX_SKEW",
    "META_KEY",
    "TOLERANCE",
    "ClockSkew",
    "Offset",
    "Reading",
    "ServerClock",
    "policy_ahead",
]

TOLERANCE: Final = NBF_LEEWAY
MAX_SKEW: Final = 3600
#: The store's meta key for the adopted offset (JSON, :meth:`Offset.dumps`).
META_KEY: Final = "server_clock"


class ClockSkew(DeviceError):
    """The device's clock is further from the server's than :data:`MAX_SKEW`."""

    def __init__(self, skew: float) -> None:
        self.skew = skew  # device minus server, seconds
        side = "ahead of" if skew > 0 else "behind"
        super().__init__(
            f"This device's clock is {_duration(abs(skew))} {side} the server's, more than the "
            "hour Bedside corrects by itself. Set the device's date, time and time zone "
            "correctly (automatic is best), then try again."
        )


class Reading(Enum):
    """What became of one reading of the server's clock."""

    ADOPTED = "adopted"
    BEYOND = "beyond"  # further off than MAX_SKEW: measured, not used
    STALE = "stale"  # older than the server time already known: ignored


@dataclass(frozen=True, slots=True)
class Offset:
    """The adopted offset: the server's clock minus the device's, learned at ``server_at``."""

    seconds: float
    server_at: float  # the latest server time adopted: an older reading is stale
    source: str  # "token", "date" or "push"

    def dumps(self) -> str:
        return json.dumps(
            {"offset": self.seconds, "server_at": self.server_at, "source": self.source}
        )

    @classmethod
    def loads(cls, text: str | None) -> Offset | None:
        """The stored offset; None when absent, unreadable or beyond :data:`MAX_SKEW`."""
        try:
            raw = json.loads(text or "null")
            seconds, at = float(raw["offset"]), float(raw["server_at"])
            source = str(raw.get("source", ""))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if not (math.isfinite(seconds) and math.isfinite(at)) or abs(seconds) > MAX_SKEW:
            return None
        return cls(seconds, at, source)


class ServerClock:
    """The device's clock and what it learned of the server's (one per node or client).

    Calling it reads the device's own clock, so it stands wherever a plain clock did (device
    time is what events and pushes carry); :meth:`now` and :meth:`server` give server time.
    """

    def __init__(self, device: Callable[[], float] = time.time) -> None:
        self.device = device
        self.offset: Offset | None = None
        self.skew: float | None = None  # device minus server, s: the latest reading, used or not
        self._read_at: float | None = None  # server time of that reading

    @classmethod
    def of(cls, clock: Callable[[], float] | ServerClock) -> ServerClock:
        return clock if isinstance(clock, ServerClock) else cls(clock)

    def __call__(self) -> float:
        return self.device()

    def server(self, device_time: float) -> float:
        """A reading of this device's clock as the server's time."""
        return device_time if self.offset is None else device_time + self.offset.seconds

    def now(self) -> float:
        """The server's time now, as well as this device knows it."""
        return self.server(self.device())

    @property
    def skew_ms(self) -> int | None:
        """The adopted offset as the protocol's ``skew_ms`` (device minus server)."""
        return None if self.offset is None else round(-self.offset.seconds * 1000)

    def learn(self, server_time: float, device_time: float, source: str) -> Reading:
        """One authenticated reading: the server's clock said ``server_time`` when this device's
        said ``device_time``. Callers pass only readings from answers the device authenticated
        (module docstring)."""
        if not (math.isfinite(server_time) and math.isfinite(device_time)):
            return Reading.STALE
        known = self.offset.server_at if self.offset is not None else None
        if known is not None and server_time < known - TOLERANCE:
            return Reading.STALE  # the server's time never goes backwards: stale or replayed
        self.skew, self._read_at = device_time - server_time, server_time
        seconds = server_time - device_time
        if abs(seconds) > MAX_SKEW:
            return Reading.BEYOND
        latest = server_time if known is None else max(known, server_time)
        self.offset = Offset(seconds, latest, source)
        return Reading.ADOPTED

    def adopt(self, other: ServerClock | Offset | None) -> None:
        """Take what ``other`` knows when it is newer: its offset and its latest reading."""
        if isinstance(other, ServerClock):
            if other._read_at is not None and (
                self._read_at is None or other._read_at >= self._read_at
            ):
                self.skew, self._read_at = other.skew, other._read_at
            other = other.offset
        if other is None or abs(other.seconds) > MAX_SKEW:
            return
        if self.offset is None or other.server_at >= self.offset.server_at:
            self.offset = other

    def check(self) -> None:
        """Raise :class:`ClockSkew` when the latest reading was beyond :data:`MAX_SKEW`."""
        if self.skew is not None and abs(self.skew) > MAX_SKEW:
            raise ClockSkew(self.skew)

    def for_token(self, iat: object) -> float:
        """The server time to check a verified token's ``exp`` against, learning from its signed
        ``iat`` first. A token whose ``iat`` is too far off to adopt is checked against that
        ``iat`` (a fresh token from a server whose clock disagrees is not "unverifiable"; the
        sync is then refused by :meth:`check`); a stale one against the server time known."""
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            return self.now()
        if self.learn(float(iat), self.device(), "token") is Reading.BEYOND:
            return float(iat)
        return self.now()

    def heard(self, response: httpx.Response) -> None:
        """Learn from the ``Date`` of a 2xx answer to a request that carried the device's access
        token (an httpx response hook: :class:`~bedside.device.remote.Remote` installs it)."""
        date = response.headers.get("date")
        bearer = response.request.headers.get("authorization", "").startswith("Bearer ")
        if not (bearer and date and 200 <= response.status_code < 300):
            return
        try:
            moment = parsedate_to_datetime(date)
            server_time = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        self.learn(server_time, self.device(), "date")  # stamped as the server answered


def policy_ahead(seconds: float) -> DeviceError:
    """The refusal of a snapshot issued ``seconds`` ahead of this device's (corrected) clock."""
    return DeviceError(
        f"This device's clock is {_duration(seconds)} behind the time its offline policy was "
        "issued, so the policy cannot be used yet. Set the device's date, time and time zone "
        "correctly (automatic is best), then try again."
    )


def _duration(seconds: float) -> str:
    """``seconds`` in words, rounded: "45 seconds", "20 minutes", "3 hours", "2 days"."""
    if seconds < 90:
        n, unit = round(seconds), "second"
    elif seconds < 90 * 60:
        n, unit = round(seconds / 60), "minute"
    elif seconds < 48 * 3600:
        n, unit = round(seconds / 3600), "hour"
    else:
        n, unit = round(seconds / 86400), "day"
    return f"{n} {unit}{'' if n == 1 else 's'}"
