"""The server's signing keys, generated on first start into the data dir (owner-only).

Layout: ``<data dir>/keys/signing-<kid>.pem`` (PKCS#8, mode 0600, folder 0700). The newest key
signs; every key in the folder verifies, so a rotated-out key keeps live tokens valid until it is
removed. Keys are never committed: they exist only where the server runs.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

from bedside.errors import ConfigurationError

__all__ = ["KeyRing", "SigningKeys", "load_or_create", "retire", "rotate"]


@dataclass(frozen=True)
class SigningKeys:
    signing: RSAKey
    all: KeySet

    def public_jwks(self) -> dict[str, object]:
        return dict(self.all.as_dict(private=False))


def _secure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def load_or_create(data_dir: Path) -> SigningKeys:
    """Load the data dir's keys, generating an RSA-2048 key on first use."""
    folder = data_dir / "keys"
    _secure_dir(folder)
    files = sorted(folder.glob("signing-*.pem"), key=lambda p: p.stat().st_mtime)
    if not files:
        return rotate(data_dir)
    keys: list[Any] = []
    for f in files:
        if f.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"The key file {f} is readable by other users; run chmod 600 on it."
            )
        keys.append(RSAKey.import_key(f.read_bytes()))
    return SigningKeys(keys[-1], KeySet(keys))


def rotate(data_dir: Path) -> SigningKeys:
    """Add a new signing key; older keys stay for verification."""
    folder = data_dir / "keys"
    _secure_dir(folder)
    key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    path = folder / f"signing-{key.kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.as_pem(private=True))
    return load_or_create(data_dir)


class KeyRing:
    """The keys of a running server, reloaded when the key folder changes.

    ``bedside admin keys rotate`` adds a key while the server runs; within ``recheck`` seconds
    the server signs with it, and tokens signed by older keys stay valid because those keys
    still verify until they are retired.
    """

    def __init__(self, data_dir: Path, *, recheck: float = 2.0) -> None:
        self.data_dir = data_dir
        self.recheck = recheck
        self._keys = load_or_create(data_dir)
        self._stamp = self._folder_stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _folder_stamp(self) -> tuple[int, ...]:
        folder = self.data_dir / "keys"
        return tuple(sorted(p.stat().st_mtime_ns for p in folder.glob("signing-*.pem")))

    def current(self) -> SigningKeys:
        now = time.monotonic()
        if now - self._checked < self.recheck:
            return self._keys
        with self._lock:
            self._checked = now
            stamp = self._folder_stamp()
            if stamp != self._stamp:
                self._keys = load_or_create(self.data_dir)
                self._stamp = stamp
        return self._keys


def retire(data_dir: Path, kid: str) -> None:
    """Remove a verification key (after the tokens it signed have expired)."""
    keys = load_or_create(data_dir)
    if kid == keys.signing.kid:
        raise ConfigurationError("That key is the current signing key; rotate first.")
    path = data_dir / "keys" / f"signing-{kid}.pem"
    if not path.exists():
        raise ConfigurationError(f"There is no key {kid}.")
    path.unlink()
