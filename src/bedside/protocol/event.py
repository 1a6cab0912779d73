"""The signed event: one clinical action recorded on a device, as it travels to the server.

A device never sends a bare resource. Each local write becomes an event carrying who did what to
which resource, on which version it was based, in which order on that device, and an Ed25519
signature (RFC 8032) by the device's own key over the event's canonical JSON (RFC 8785 JCS).
The device writes events into its outbox (``bedside.device``) and the server verifies them on
ingest (``docs/sync-protocol.md``); both import this module, so there is exactly one definition
of the format, its canonical bytes and its signature.

An event on the wire is a JSON object: the fields of :class:`Event` plus ``sig``, the base64url
(unpadded) signature over the canonical JSON of every other field. Field order, whitespace and
number formatting do not matter: JCS fixes them before signing and before verifying.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bedside.errors import EventError, SignatureError
from bedside.fhir.compartment import patients_of
from bedside.fhir.resource_types import is_resource_type

__all__ = [
    "ACTIONS",
    "KIND",
    "VERSION",
    "Event",
    "EventError",
    "SignatureError",
    "canonical",
    "es_number",
    "format_time",
    "load_public_key",
    "parse",
    "parse_time",
    "public_key_text",
    "sign",
    "verify",
]

VERSION: Final = 1
KIND: Final = "bedside-event"
#: create: a new resource; update: a new version of an existing one; correct: a new version that
#: amends a recorded one (for example ``status: entered-in-error``), kept apart for review rules.
#: An update of a resource whose create is still in the outbox has ``base_version`` "pending:<seq>",
#: naming the device seq of that create: the server resolves it once the create is confirmed.
ACTIONS: Final = ("create", "update", "correct")
_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_KEY: Final = re.compile(r"^[A-Za-z0-9\-_]{16,128}$")


@dataclass(frozen=True, slots=True)
class Event:
    """One clinical action, as signed by the device that recorded it."""

    device: str  # the device id the server registered
    seq: int  # the device's own sequence number: 1, 2, 3 ... with no gaps
    idempotency_key: str  # random per event; a re-sent event carries the same key
    device_time: str  # when the user acted, by the device's clock (RFC 3339, UTC, ms)
    user: str  # the signed-in user's id (the access token's ``sub``)
    patient: str | None  # "Patient/<id>" the action is about, or None
    action: str  # one of ACTIONS
    resource_type: str
    resource_id: str  # a device-made id for a create; the server's id otherwise
    base_version: str | None  # the server version the device saw (None for a create)
    resource: dict[str, Any]  # the whole resource as the device stored it
    purpose: str | None = None  # v3-ActReason purposeOfUse, "BTG" under break-glass

    def body(self) -> dict[str, Any]:
        """The signed fields, with the format's version and kind.

        Shallow on purpose (not ``dataclasses.asdict``, which deep-copies the resource): the
        body is serialised at once and never kept.
        """
        return {"v": VERSION, "kind": KIND, **{f: getattr(self, f) for f in _FIELDS}}


_FIELDS: Final = tuple(f.name for f in fields(Event))


def canonical(body: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``body`` (an event without ``sig``).

    Every signed write on a device pays for this, and the ``rfc8785`` package (pure Python)
    took a fifth of a write. So the usual event takes a fast path: orjson with sorted keys,
    which is byte-for-byte JCS for ASCII keys, strings and safe integers, with each float
    swapped for a placeholder and then written in ECMAScript form (JCS §3.2.2.3). Anything
    else (non-ASCII keys, NUL in a string, huge integers, NaN) goes to ``rfc8785``.
    ``tests/unit/test_sync_event.py`` holds the two equal over every sample resource.
    """
    floats: list[bytes] = []
    try:
        fast = _placeheld(body, floats)
        if fast is not _SLOW:
            out = orjson.dumps(fast, option=orjson.OPT_SORT_KEYS)
            for i, number in enumerate(floats):
                out = out.replace(b'"\\u0000%d\\u0000"' % i, number, 1)
            return out
        return rfc8785.dumps(body)
    except (orjson.JSONEncodeError, RecursionError):
        # nested past what orjson writes (254 levels) or Python recurses: one bad event,
        # refused on its own, never a failure of the whole push (G2)
        raise EventError("The event cannot be canonicalised: it nests too deeply.") from None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EventError(f"The event cannot be canonicalised: {exc}.") from None


_SLOW: Final = object()
_SAFE_INT: Final = 2**53 - 1


def _placeheld(value: Any, floats: list[bytes]) -> Any:
    """``value`` with floats replaced by ``"\\0<n>\\0"``, or _SLOW when the fast path is unsafe."""
    if isinstance(value, str):
        return _SLOW if "\0" in value else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT <= value <= _SAFE_INT else _SLOW
    if isinstance(value, float):
        number = es_number(value)
        if number is None:
            return _SLOW
        floats.append(number)
        return f"\0{len(floats) - 1}\0"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k.isascii() or "\0" in k:
                return _SLOW
            placed = _placeheld(v, floats)
            if placed is _SLOW:
                return _SLOW
            out[k] = placed
        return out
    if isinstance(value, list):
        items = []
        for v in value:
            placed = _placeheld(v, floats)
            if placed is _SLOW:
                return _SLOW
            items.append(placed)
        return items
    return _SLOW


def es_number(x: float) -> bytes | None:
    """ECMAScript's Number::toString of a finite float (what JCS prints), or None."""
    if x != x or x in (float("inf"), float("-inf")):
        return None
    if x == 0:
        return b"0"
    text = repr(abs(x))  # the shortest digits that round-trip, as ECMAScript chooses them
    mantissa, _, exp_text = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    exponent = int(exp_text) if exp_text else 0
    if whole.strip("0"):
        point = len(whole.lstrip("0")) + exponent
    else:
        point = exponent - (len(fraction) - len(fraction.lstrip("0")))
    digits = (whole + fraction).lstrip("0").rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        out = digits + "0" * (point - k)
    elif 0 < point <= 21:
        out = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        out = "0." + "0" * -point + digits
    else:
        e = point - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        out += str(abs(e))
    return (("-" if x < 0 else "") + out).encode("ascii")


def sign(event: Event, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The wire form of ``event``: its body plus ``sig`` by ``key``."""
    body = event.body()
    return {**body, "sig": _b64(key.sign(canonical(body)))}


def verify(signed: dict[str, Any], key: Ed25519PublicKey) -> Event:
    """The event in ``signed`` if its signature by ``key`` holds; else EventError."""
    body = {k: v for k, v in signed.items() if k != "sig"}
    sig = signed.get("sig")
    if not isinstance(sig, str):
        raise SignatureError("The event has no signature.")
    try:
        key.verify(_unb64(sig), canonical(body))
    except (InvalidSignature, ValueError):
        raise SignatureError("The event's signature does not match its content.") from None
    return parse(body)


def parse(body: dict[str, Any]) -> Event:
    """Check every field of an event body (without ``sig``); EventError names the first bad one."""
    if body.get("v") != VERSION or body.get("kind") != KIND:
        raise EventError(f"The event is not a version {VERSION} {KIND}.")
    fields = {k: v for k, v in body.items() if k not in ("v", "kind")}
    expected = set(Event.__dataclass_fields__)
    if set(fields) - expected:
        raise EventError(f"The event has an unknown field {sorted(set(fields) - expected)[0]}.")
    required = expected - {"purpose"}
    if required - set(fields):
        raise EventError(f"The event has no {sorted(required - set(fields))[0]}.")
    event = Event(**fields)
    _check(event)
    return event


def _check(e: Event) -> None:
    if not isinstance(e.device, str) or not _ID.match(e.device):
        raise EventError("The event's device is not a valid id.")
    if not isinstance(e.seq, int) or isinstance(e.seq, bool) or e.seq < 1:
        raise EventError("The event's seq must be a whole number from 1.")
    if not isinstance(e.idempotency_key, str) or not _KEY.match(e.idempotency_key):
        raise EventError("The event's idempotency_key must be 16 to 128 URL-safe characters.")
    if not isinstance(e.device_time, str) or parse_time(e.device_time) is None:
        raise EventError("The event's device_time is not an RFC 3339 UTC time.")
    if not isinstance(e.user, str) or not e.user:
        raise EventError("The event names no user.")
    if e.patient is not None and (
        not isinstance(e.patient, str)
        or not e.patient.startswith("Patient/")
        or not _ID.match(e.patient.removeprefix("Patient/"))
    ):
        raise EventError("The event's patient must be Patient/<id>.")
    if e.action not in ACTIONS:
        raise EventError(f"The event's action must be one of {', '.join(ACTIONS)}.")
    if not isinstance(e.resource_type, str) or not is_resource_type(e.resource_type):
        raise EventError("The event's resource_type is not a FHIR R4 resource type.")
    if not isinstance(e.resource_id, str) or not _ID.match(e.resource_id):
        raise EventError("The event's resource_id is not a valid FHIR id.")
    if (e.action == "create") != (e.base_version is None):
        raise EventError("A create has no base_version, and an update or correct must have one.")
    if e.base_version is not None and not isinstance(e.base_version, str):
        raise EventError("The event's base_version must be a string.")
    if not isinstance(e.resource, dict):
        raise EventError("The event's resource must be a JSON object.")
    if e.resource.get("resourceType") != e.resource_type or e.resource.get("id") != e.resource_id:
        raise EventError("The event's resource does not match its resource_type and resource_id.")
    if e.purpose is not None and not isinstance(e.purpose, str):
        raise EventError("The event's purpose must be a code.")
    concerned = patients_of(e.resource)  # wrong-patient safeguard (docs/sync-protocol.md)
    if e.patient is not None and concerned and e.patient.removeprefix("Patient/") not in concerned:
        raise EventError(
            "The record is about a different patient from the one open when it was made,"
            " so it was not applied."
        )


def format_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, as device_time carries it."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float | None:
    """The epoch seconds of an RFC 3339 UTC time ending in Z, or None."""
    if not text.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00").timestamp()
    except ValueError:
        return None


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64url: how the device registry stores it."""
    return _b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    """The key :func:`public_key_text` wrote; EventError when it is not one."""
    try:
        raw = _unb64(text)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise EventError("The public key is not a base64url Ed25519 key.") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
