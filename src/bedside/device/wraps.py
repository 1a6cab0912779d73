"""How the data key is wrapped, and how ``keys.json`` records the wraps (ADR 0007).

:mod:`bedside.device.keys` decides *when* to wrap, unwrap, count and lock; this module is the
format and the cryptography it applies, kept apart so the policy reads in one screen:

- the PIN key is argon2id(PIN, salt) (RFC 9106) with :class:`KdfParams`, stored in the file;
- a key-encryption key is HKDF-SHA256 (RFC 5869) over (PIN key or EK) || DS, with the install
  id as salt and ``"bedside pin|escrow wrap v1|" + user`` as info;
- a wrap is AES-256-GCM (NIST SP 800-38D) of DK under a KEK, a random 96-bit nonce, and AAD
  ``"bedside-dk|" + install_id + "|" + user``, so a wrap copied from another install or user
  fails its tag check;
- ``dk_check`` = HMAC-SHA256(DK, "bedside dk check v1|" + AAD) lets a PIN change refuse a
  wrong DK without storing anything that opens DK.

Binary fields are unpadded base64url. Nothing in the file opens DK without DS and either the
PIN or EK; a damaged or edited file is refused with one sentence, never half-read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from typing import Any, Final

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bedside.device.errors import DeviceError
from bedside.device.secret import Storage

__all__ = [
    "DAMAGED",
    "KEY_BYTES",
    "KdfParams",
    "KeyRecord",
    "Wrap",
    "open_wrap",
    "pin_wrap",
    "seal",
]

KEY_BYTES: Final = 32
DAMAGED: Final = (
    "This device's key file is damaged, so its data cannot be opened. "
    "Ask for this device to be wiped and set up again."
)
_VERSION: Final = 1
_NONCE_BYTES: Final = 12
_SALT_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost parameters (RFC 9106 §4): the defaults cost ~0.1-0.3 s and 64 MiB.

    Stored in the key file, so a later release can raise them at the next PIN change. The
    floor (8 MiB, one pass) keeps a tampered key file from making new wraps cheap to attack.
    """

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 1

    def __post_init__(self) -> None:
        if not (
            1 <= self.parallelism <= 16
            and 1 <= self.time_cost <= 64
            and max(8192, 8 * self.parallelism) <= self.memory_cost <= 4 * 1024 * 1024
        ):
            raise DeviceError("The key derivation settings are outside the safe range.")

    def derive(self, pin: str, salt: bytes) -> bytes:
        """The 32-byte PIN key: argon2id(PIN, salt) with these costs."""
        return hash_secret_raw(
            pin.encode("ascii"),
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "argon2id",
            "version": 19,
            "time_cost": self.time_cost,
            "memory_cost": self.memory_cost,
            "parallelism": self.parallelism,
        }

    @classmethod
    def from_json(cls, data: Any) -> KdfParams:
        if data.get("algorithm") != "argon2id" or data.get("version") != 19:
            raise DeviceError(DAMAGED)
        return cls(
            time_cost=_int(data["time_cost"]),
            memory_cost=_int(data["memory_cost"]),
            parallelism=_int(data["parallelism"]),
        )


@dataclass(frozen=True, slots=True)
class Wrap:
    """DK sealed under one KEK: nonce and ciphertext (with tag), plus the PIN wrap's salt."""

    nonce: bytes
    ciphertext: bytes
    salt: bytes = b""  # the argon2id salt (PIN wrap only)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """keys.json, parsed. Nothing in it opens DK without DS and the PIN or EK."""

    user: str
    install_id: str
    secret_storage: Storage
    kdf: KdfParams
    pin: Wrap | None
    escrow: Wrap
    dk_check: bytes
    failed: int
    pin_attempts: int
    locked: bool
    reason: str | None

    def locked_out(self, reason: str) -> KeyRecord:
        """This record with the PIN wrap deleted: only the escrow key opens DK now."""
        return replace(self, pin=None, locked=True, reason=reason)

    def aad(self) -> bytes:
        return b"bedside-dk|" + self.install_id.encode() + b"|" + self.user.encode()

    def kek(self, label: bytes, key: bytes, secret: bytes) -> bytes:
        """HKDF-SHA256 (RFC 5869) over key || DS, bound to the install and the user."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=self.install_id.encode(),
            info=b"bedside " + label + b" wrap v1|" + self.user.encode(),
        ).derive(key + secret)

    def check_value(self, dk: bytes) -> bytes:
        """HMAC-SHA256 keyed by DK: lets set_pin refuse a wrong DK, reveals nothing of it."""
        return hmac.new(dk, b"bedside dk check v1|" + self.aad(), hashlib.sha256).digest()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": _VERSION,
            "user": self.user,
            "install_id": self.install_id,
            "secret_storage": self.secret_storage,
            "kdf": self.kdf.to_json(),
            "escrow": {
                "nonce": _b64(self.escrow.nonce),
                "ciphertext": _b64(self.escrow.ciphertext),
            },
            "dk_check": _b64(self.dk_check),
            "failed": self.failed,
            "pin_attempts": self.pin_attempts,
            "locked": self.locked,
            "reason": self.reason,
        }
        if self.pin is not None:
            data["pin"] = {
                "salt": _b64(self.pin.salt),
                "nonce": _b64(self.pin.nonce),
                "ciphertext": _b64(self.pin.ciphertext),
            }
        return data

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def parse(cls, raw: bytes) -> KeyRecord:
        """The record in ``raw``; :class:`DeviceError` (a sentence) when it is not a valid one."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise DeviceError(DAMAGED) from exc
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: Any) -> KeyRecord:
        try:
            if data["version"] != _VERSION or data["secret_storage"] not in ("keyring", "file"):
                raise DeviceError(DAMAGED)
            pin = data.get("pin")
            return cls(
                user=_str(data["user"]),
                install_id=_str(data["install_id"]),
                secret_storage=data["secret_storage"],
                kdf=KdfParams.from_json(data["kdf"]),
                pin=None if pin is None else _wrap(pin, salted=True),
                escrow=_wrap(data["escrow"], salted=False),
                dk_check=_unb64(data["dk_check"], KEY_BYTES),
                failed=_int(data["failed"]),
                pin_attempts=_int(data["pin_attempts"]),
                locked=data["locked"] is True,
                reason=None if data.get("reason") is None else _str(data["reason"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DeviceError(DAMAGED) from exc


def pin_wrap(record: KeyRecord, kdf: KdfParams, pin: str, ds: bytes, dk: bytes) -> Wrap:
    salt = secrets.token_bytes(_SALT_BYTES)
    wrap = seal(record.kek(b"pin", kdf.derive(pin, salt), ds), dk, record.aad())
    return replace(wrap, salt=salt)


def seal(kek: bytes, dk: bytes, aad: bytes) -> Wrap:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return Wrap(nonce, AESGCM(kek).encrypt(nonce, dk, aad))


def open_wrap(kek: bytes, wrap: Wrap, aad: bytes) -> bytes | None:
    """The wrapped key, or None: the GCM tag check is constant time (no ``==`` on secrets)."""
    try:
        dk = AESGCM(kek).decrypt(wrap.nonce, wrap.ciphertext, aad)
    except InvalidTag:
        return None
    return dk if len(dk) == KEY_BYTES else None


def _wrap(data: Any, *, salted: bool) -> Wrap:
    return Wrap(
        nonce=_unb64(data["nonce"], _NONCE_BYTES),
        ciphertext=_unb64(data["ciphertext"], KEY_BYTES + 16),
        salt=_unb64(data["salt"], _SALT_BYTES) if salted else b"",
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: Any, size: int) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64url text")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url text") from exc
    if len(raw) != size:
        raise ValueError("wrong length")
    return raw


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("not a count")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not text")
    return value
