"""The push on the wire: ``POST /sync/push``, its body and its answer (docs/sync-protocol.md).

A push body is ``{"protocol": 1, "device_time": "...", "events": [...]}``: at most
:data:`~bedside.protocol.MAX_EVENTS` signed events (:mod:`bedside.protocol.event`) in ascending
``seq``. Anything wrong with the request as a whole is an :class:`~bedside.errors.InvalidRequest`
(400 OperationOutcome), anything wrong with one event is that event's result
(:mod:`bedside.protocol.results`). The answer is ``{"protocol", "server_time", "skew_ms",
"results"}``; the server assembles it from each result's stored bytes, so a replayed result
reaches the device byte for byte as first sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.errors import InvalidRequest
from bedside.protocol import MAX_EVENTS, PROTOCOL, PROTOCOLS, unsupported_protocol
from bedside.protocol.event import parse_time

__all__ = ["PATH", "Answer", "Push", "Reply", "parse_push"]

PATH: Final = "/sync/push"


@dataclass(frozen=True, slots=True)
class Push:
    """A push: the device's clock as it sends, and the signed events (raw on the server)."""

    device_time: str
    events: list[Any]

    def body(self) -> dict[str, Any]:
        """The wire form a device sends."""
        return {"protocol": PROTOCOL, "device_time": self.device_time, "events": self.events}


def parse_push(body: Any) -> Push:
    """Check the request as a whole (protocol, device_time, events); the events stay raw."""
    if not isinstance(body, dict):
        raise InvalidRequest("A push is a JSON object with protocol, device_time and events.")
    protocol = body.get("protocol")
    if isinstance(protocol, bool) or protocol not in PROTOCOLS:
        raise unsupported_protocol()
    device_time = body.get("device_time")
    if not isinstance(device_time, str) or parse_time(device_time) is None:
        raise InvalidRequest("device_time must be the device's clock now, an RFC 3339 UTC time.")
    events = body.get("events")
    if not isinstance(events, list):
        raise InvalidRequest("events must be a list of signed events.")
    if len(events) > MAX_EVENTS:
        raise InvalidRequest(f"Send at most {MAX_EVENTS} events in one push.")
    seqs = [e.get("seq") for e in events if isinstance(e, dict)]
    numbers = [s for s in seqs if isinstance(s, int) and not isinstance(s, bool)]
    if numbers != sorted(numbers):
        raise InvalidRequest("Send the events in ascending seq order.")
    return Push(device_time, events)


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer as the server writes it."""

    server_time: str
    skew_ms: int
    results: list[bytes]  # each result's JSON, as stored

    def encode(self) -> bytes:
        head = orjson.dumps(
            {"protocol": PROTOCOLS[-1], "server_time": self.server_time, "skew_ms": self.skew_ms}
        )
        return head[:-1] + b',"results":[' + b",".join(self.results) + b"]}"


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer as a device reads it: what is unreadable is left out, never guessed."""

    server_time: float | None  # epoch seconds of the server's clock as it answered
    skew_ms: int | None
    #: each result by the seq it answers, as sent (a device keeps it whole)
    results: dict[int, dict[str, Any]]

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> Reply:
        server_time = body.get("server_time")
        skew = body.get("skew_ms")
        results = body.get("results")
        return cls(
            server_time=parse_time(server_time) if isinstance(server_time, str) else None,
            skew_ms=int(skew) if isinstance(skew, int) else None,
            results={
                r["seq"]: r
                for r in (results if isinstance(results, list) else [])
                if isinstance(r, dict) and isinstance(r.get("seq"), int)
            },
        )
