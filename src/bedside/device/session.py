"""An unlocked device: the open store and everything that needs the data key, until it locks.

:class:`Session` bundles what every read and write needs (store, offline policy, outbox,
attachments, clock), so :mod:`bedside.device.chart` and :mod:`bedside.device.writes` are plain
functions of a session; :class:`bedside.device.node.Node` creates and ends sessions.

:class:`QuickUnlock` is what lets a clinician back in with the PIN alone, without the slow
argon2id derivation, shortly after the device locked itself for inactivity. It keeps, in memory
only, an HMAC-SHA256 of the PIN under a random key and DK sealed under another random key
(AES-256-GCM); both keys die with the process. A PIN that does not match is not an error here:
the caller falls back to the key file, which counts the failed attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bedside.device.attachments import Attachments
from bedside.device.clock import ServerClock
from bedside.device.home import DeviceInfo
from bedside.device.keys import KeyFile
from bedside.device.offline import OfflinePolicy
from bedside.device.outbox import Outbox
from bedside.device.store import LocalStore

__all__ = ["QuickUnlock", "Session"]


@dataclass(slots=True)
class Session:
    """The unlocked state of a node. Ended by :meth:`close`; never outlives a lock."""

    home: Path
    info: DeviceInfo
    keyfile: KeyFile
    store: LocalStore
    policy: OfflinePolicy
    outbox: Outbox
    attachments: Attachments
    clock: ServerClock  # called: device time; .server(t) / .now(): the server's (device/clock.py)
    #: the ward board's per-patient facts (bedside.device.ward), dropped with the session
    ward: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.store.close()


class QuickUnlock:
    """A PIN check and DK, in memory only, for a quick unlock after an idle lock."""

    def __init__(self, pin: str, dk: bytes) -> None:
        self._mac_key = secrets.token_bytes(32)
        self._verifier = self._mac(pin)
        self._key = AESGCM(AESGCM.generate_key(bit_length=256))
        self._nonce = secrets.token_bytes(12)
        self._sealed = self._key.encrypt(self._nonce, dk, None)
        self.locked_at: float | None = None  # set when the device locks for inactivity
        self.window: float = 0.0  # quick_unlock_seconds at the time of that lock

    def _mac(self, pin: str) -> bytes:
        return hmac.new(self._mac_key, pin.encode("utf-8"), hashlib.sha256).digest()

    def armed(self, now: float) -> bool:
        """Whether an idle lock happened and its quick-unlock window is still open."""
        return self.locked_at is not None and 0 <= now - self.locked_at <= self.window

    def open(self, pin: str) -> bytes | None:
        """DK when ``pin`` is the PIN that unlocked last (constant-time check), else None."""
        if not hmac.compare_digest(self._mac(pin), self._verifier):
            return None
        try:
            return self._key.decrypt(self._nonce, self._sealed, None)
        except InvalidTag:
            return None
