"""What ``POST /device/register`` must send, checked before anything is stored.

The body (docs/device-registry.md)::

    {"device_id": "tab-7f3a", "public_key": "<base64url Ed25519>", "app_version": "1.4.0",
     "posture": {"os": "Android 15", "disk_encryption": true, "screen_lock": null},
     "escrow_key": "<base64url, 32 bytes>"}

``device_id`` follows the event format's id rule (it signs every event the device sends);
``public_key`` must load as the key :func:`bedside.protocol.event.public_key_text` writes. Posture
values are reported by the device and may be null (unknown): they inform compliance review, they
prove nothing. ``escrow_key`` is required to enrol and optional when the device registers again
(it no longer holds it). Every refusal names the field and never echoes the value.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Final

from bedside.errors import EventError, InvalidRequest
from bedside.protocol.event import load_public_key, public_key_text

__all__ = [
    "ID",
    "MAX_POSTURE_KEYS",
    "MAX_TEXT",
    "POSTURE_KEYS",
    "Registration",
    "check_id",
    "parse_registration",
    "posture_facts",
]

#: Device and Patient ids: the event format's id rule (FHIR ids, 1-64 characters).
ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
POSTURE_KEYS: Final = ("os", "disk_encryption", "screen_lock", "debugger", "root")
MAX_POSTURE_KEYS: Final = 16
MAX_TEXT: Final = 200
_KEY32: Final = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]=?")  # exactly 32 bytes


@dataclass(frozen=True, slots=True)
class Registration:
    device_id: str
    public_key: str  # normalised: public_key_text of the loaded key
    app_version: str
    posture: dict[str, Any] = field(default_factory=dict)
    escrow_key: bytes | None = None


def parse_registration(body: Any) -> Registration:
    if not isinstance(body, dict):
        raise InvalidRequest(
            "Send a JSON object with device_id, public_key, app_version, posture and escrow_key."
        )
    device_id = check_id(body.get("device_id"), "device_id")
    key = body.get("public_key")
    try:
        public_key = public_key_text(load_public_key(key)) if isinstance(key, str) else None
    except EventError:
        public_key = None
    if public_key is None:
        raise InvalidRequest("public_key must be the device's Ed25519 public key in base64url.")
    app_version = body.get("app_version")
    if not isinstance(app_version, str) or not 0 < len(app_version.strip()) <= 64:
        raise InvalidRequest("app_version must be text of 1 to 64 characters.")
    escrow = body.get("escrow_key")
    return Registration(
        device_id,
        public_key,
        app_version.strip(),
        posture_facts(body.get("posture")),
        None if escrow is None else _escrow_key(escrow),
    )


def check_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise InvalidRequest(f"{name} must be 1 to 64 letters, digits, dashes or dots.")
    return value


def posture_facts(value: Any) -> dict[str, Any]:
    """The three known facts (null when not reported) plus any other scalar ones sent."""
    if value is None:
        value = {}
    if not isinstance(value, dict) or len(value) > MAX_POSTURE_KEYS:
        raise InvalidRequest(
            f"posture must be a JSON object of at most {MAX_POSTURE_KEYS} facts, such as "
            '{"os": "Android 15", "disk_encryption": true, "screen_lock": true}.'
        )
    out: dict[str, Any] = dict.fromkeys(POSTURE_KEYS)
    for key, fact in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise InvalidRequest("posture names must be text of 1 to 64 characters.")
        scalar = fact is None or isinstance(fact, bool | int | float)
        if not scalar and not (isinstance(fact, str) and len(fact) <= MAX_TEXT):
            raise InvalidRequest(
                "Each posture fact must be true, false, null, a number or short text."
            )
        out[key] = fact
    return out


def _escrow_key(value: Any) -> bytes:
    if not isinstance(value, str) or not _KEY32.fullmatch(value):
        raise InvalidRequest("escrow_key must be 32 random bytes in base64url.")
    return base64.urlsafe_b64decode(value.rstrip("=") + "=")
