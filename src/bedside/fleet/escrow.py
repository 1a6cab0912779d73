"""The escrow keys devices deposit at registration, sealed at rest by a key only the server holds.

A device wraps its data key under a key derived from the escrow key (EK) and its own device
secret (ADR 0007), then hands EK to the server and forgets it. After too many wrong PINs only an
online sign-in, which fetches EK back (``POST /device/unlock-key``), opens the device again.

Why seal EK here rather than store it as sent: database dumps and backups travel further than
the server's data dir. Sealed with AES-256-GCM under ``<data dir>/keys/escrow-seal.key`` (32
random bytes, mode 0600, made on first use), a copy of the database alone yields no escrow key.
The associated data binds each sealed key to its device and user, so a sealed value copied onto
another device's row does not open. The seal key must be backed up with the data dir: without
it, locked-out devices can only be re-enrolled (their unsynced work is lost).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bedside.errors import ConfigurationError

__all__ = ["KEY_FILE", "EscrowSeal", "encode_key"]

KEY_FILE: Final = "escrow-seal.key"
_PREFIX: Final = "v1."
_AAD: Final = b"bedside escrow seal v1|"


class EscrowSeal:
    """Seals and opens escrow keys with one AES-256-GCM key (RFC 5116 AEAD, 12-byte nonces)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the escrow seal key is 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, data_dir: Path) -> EscrowSeal:
        """The data dir's seal key, created on first use.

        Several server processes may start at once: the key is written to a private temporary
        file and linked into place, so every process ends up reading the one key that won.
        """
        folder = data_dir / "keys"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / KEY_FILE
        if not path.exists():
            tmp = folder / f".{KEY_FILE}.{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
                with contextlib.suppress(FileExistsError):  # another process won the race
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"The key file {path} is readable by other users; run chmod 600 on it."
            )
        key = path.read_bytes()
        if len(key) != 32:
            raise ConfigurationError(f"The key file {path} is damaged (not 32 bytes).")
        return cls(key)

    def seal(self, escrow_key: bytes, *, device_id: str, user_id: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, escrow_key, _aad(device_id, user_id))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")

    def open(self, sealed: str, *, device_id: str, user_id: str) -> bytes:
        """The escrow key; ConfigurationError when it was sealed by another key or moved."""
        try:
            if not sealed.startswith(_PREFIX):
                raise ValueError("unknown format")
            body = sealed.removeprefix(_PREFIX)
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return self._aead.decrypt(raw[:12], raw[12:], _aad(device_id, user_id))
        except (InvalidTag, ValueError, binascii.Error):
            raise ConfigurationError(
                "A device's escrow key cannot be opened with this server's seal key."
            ) from None


def _aad(device_id: str, user_id: str) -> bytes:
    return _AAD + device_id.encode("utf-8") + b"|" + user_id.encode("utf-8")


def encode_key(raw: bytes) -> str:
    """base64url without padding: how escrow keys travel in JSON."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
