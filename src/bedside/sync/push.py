"""The push request and answer as a whole (docs/sync-protocol.md "Push: POST /sync/push").

A push body is ``{"protocol": 1, "device_time": "...", "events": [...]}``; anything wrong with
the request as a whole is an :class:`~bedside.errors.InvalidRequest` (400 OperationOutcome),
anything wrong with one event is that event's result. The answer is assembled from each
result's stored bytes, so a replayed result reaches the device byte for byte as first sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bedside.errors import EventError, InvalidRequest, SignatureError
from bedside.sync.event import Event, parse_time, verify
from bedside.sync.results import Settled, rejected

__all__ = [
    "MAX_EVENTS",
    "PROTOCOLS",
    "Answer",
    "Push",
    "authentic",
    "parse_push",
    "unsupported_protocol",
]

#: Protocol versions this server speaks.
PROTOCOLS: Final = (1,)
#: Most events in one push.
MAX_EVENTS: Final = 500


@dataclass(frozen=True, slots=True)
class Push:
    device_time: str
    events: list[Any]


def unsupported_protocol() -> InvalidRequest:
    spoken = ", ".join(str(v) for v in PROTOCOLS)
    return InvalidRequest(
        f'This server speaks sync protocol version {spoken}: send "protocol": {PROTOCOLS[-1]}.',
        code="not-supported",
    )


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
    server_time: str
    skew_ms: int
    results: list[bytes]  # each result's JSON, as stored

    def encode(self) -> bytes:
        head = orjson.dumps(
            {"protocol": PROTOCOLS[-1], "server_time": self.server_time, "skew_ms": self.skew_ms}
        )
        return head[:-1] + b',"results":[' + b",".join(self.results) + b"]}"


def authentic(raw: Any, device: str, user: str, key: Ed25519PublicKey) -> Event:
    """One pushed event, checked to be ``device``'s, recorded by ``user`` and signed with
    ``key``; :class:`~bedside.sync.results.Settled` (``invalid``, ``wrong-device``,
    ``bad-signature``) otherwise. Needs no transaction."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    ikey = raw.get("idempotency_key") if isinstance(raw, dict) else None
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    ikey = ikey if isinstance(ikey, str) else None
    if not isinstance(raw, dict):
        raise Settled(rejected(seq, ikey, "invalid", "The event is not a JSON object."))
    if raw.get("device") != device:
        reason = "This event was signed for another device than this one."
        raise Settled(rejected(seq, ikey, "wrong-device", reason))
    if raw.get("user") != user:
        reason = "This event was recorded by another user than the one signed in."
        raise Settled(rejected(seq, ikey, "wrong-device", reason))
    try:
        return verify(raw, key)
    except SignatureError:
        reason = "The event's signature does not match this device's key."
        raise Settled(rejected(seq, ikey, "bad-signature", reason)) from None
    except EventError as exc:
        raise Settled(rejected(seq, ikey, "invalid", str(exc))) from None
