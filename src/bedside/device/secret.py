"""The device secret (DS) and the private files the device keeps its keys in.

DS is 32 random bytes mixed into every key-encryption key (ADR 0007), so a copy of the key file
alone, without the place DS lives, cannot be attacked by guessing PINs. DS lives in the OS key
store through ``keyring`` (macOS Keychain, Windows Credential Locker, the Secret Service on
Linux desktops) when one is usable: service ``bedside-device``, username = the install id. A
headless machine, a container or CI has none, and then DS is the file ``DIR/secret`` (0600 in a
0700 directory) — weaker, since it sits next to the key file, and ADR 0007 says so.
``BEDSIDE_DEVICE_KEYSTORE=file`` forces the file (tests), ``=keyring`` forbids the fallback.

The private-file primitives live here too, because the key file and the encrypted attachments
share them: a write goes to a temporary file in the same directory, is fsynced and renamed over
the target (so a crash leaves the old file or the new one, never half of either), then the
directory is fsynced so the rename itself survives power loss. Shredding overwrites a file with
random bytes of the same length before unlinking it; on flash storage and copy-on-write file
systems that is best effort, which is why wiping also destroys the keys (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path
from typing import Final, Literal

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null

from bedside.device.errors import DeviceError, KeystoreUnavailable
from bedside.errors import ConfigurationError

__all__ = [
    "ENV_KEYSTORE",
    "SECRET_BYTES",
    "SECRET_FILE",
    "SERVICE",
    "DeviceSecret",
    "Storage",
    "fsync_dir",
    "keyring_backend",
    "private_dir",
    "shred_file",
    "write_private",
]

Storage = Literal["keyring", "file"]

SERVICE: Final = "bedside-device"
SECRET_FILE: Final = "secret"  # noqa: S105 - a file name, not a password
SECRET_BYTES: Final = 32
#: ``file`` forces DIR/secret, ``keyring`` refuses the file fallback; unset or ``auto`` chooses.
ENV_KEYSTORE: Final = "BEDSIDE_DEVICE_KEYSTORE"


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700, also when it already existed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (POSIX: fsync the directory itself)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably, as a 0600 file.

    ``mkstemp`` creates the temporary file 0600 in the target's own directory, so the rename
    never crosses a file system and the bytes are never readable by another user, even briefly.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def shred_file(path: Path) -> bool:
    """Overwrite ``path`` with random bytes of its own length, fsync, unlink; False if absent."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        written = 0
        while written < size:
            written += os.write(fd, secrets.token_bytes(min(size - written, 1 << 20)))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def keyring_backend() -> keyring.backend.KeyringBackend | None:
    """The OS key store ``keyring`` would use, or None when there is no usable one.

    ``fail`` (no backend at all), ``null`` (discards everything) and a chainer with nothing to
    chain cannot hold a secret; any exception while asking also counts as "none".
    """
    try:
        backend = keyring.get_keyring()
        if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
            return None
        if isinstance(backend, keyring.backends.chainer.ChainerBackend) and not backend.backends:
            return None
        if backend.priority <= 0:
            return None
    except Exception:
        return None
    return backend


def _preference(prefer: str | None) -> str:
    value = (os.environ.get(ENV_KEYSTORE, "") if prefer is None else prefer).strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value in ("file", "keyring"):
        return value
    raise ConfigurationError(f"{ENV_KEYSTORE} must be 'auto', 'file' or 'keyring'.")


def _encode(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SECRET_BYTES else None


class DeviceSecret:
    """Where one install keeps its device secret: the OS key store or ``DIR/secret``.

    The key file records which (``secret_storage``), so opening never guesses: a secret made in
    a file stays in the file even if a key store appears later, and a secret in the key store is
    refused with :class:`KeystoreUnavailable` rather than silently replaced when it vanishes.
    """

    def __init__(self, home: Path, install_id: str, storage: Storage) -> None:
        self.home = home
        self.install_id = install_id
        self.storage: Storage = storage

    @property
    def path(self) -> Path:
        return self.home / SECRET_FILE

    @classmethod
    def create(cls, home: Path, install_id: str, *, prefer: str | None = None) -> DeviceSecret:
        """Make a fresh DS, in the key store when usable (and allowed), else in a 0600 file.

        The key store is trusted only after the secret reads back equal, since some backends
        accept a write and keep nothing.
        """
        choice = _preference(prefer)
        secret = secrets.token_bytes(SECRET_BYTES)
        if choice != "file":
            backend = keyring_backend()
            if backend is not None and cls._keyring_store(backend, install_id, secret):
                return cls(home, install_id, "keyring")
            if choice == "keyring":
                raise KeystoreUnavailable()
        private_dir(home)
        write_private(home / SECRET_FILE, secret)
        return cls(home, install_id, "file")

    @staticmethod
    def _keyring_store(
        backend: keyring.backend.KeyringBackend, install_id: str, secret: bytes
    ) -> bool:
        text = _encode(secret)
        try:
            backend.set_password(SERVICE, install_id, text)
            back = backend.get_password(SERVICE, install_id)
        except Exception:
            return False
        if back is not None and hmac.compare_digest(back.encode(), text.encode()):
            return True
        with contextlib.suppress(Exception):  # it held nothing usable; the file takes over
            backend.delete_password(SERVICE, install_id)
        return False

    def read(self) -> bytes:
        """The 32-byte secret; :class:`KeystoreUnavailable` or a :class:`DeviceError` if gone."""
        if self.storage == "keyring":
            backend = keyring_backend()
            if backend is None:
                raise KeystoreUnavailable()
            try:
                text = backend.get_password(SERVICE, self.install_id)
            except Exception as exc:
                raise KeystoreUnavailable() from exc
            secret = None if text is None else _decode(text)
        else:
            try:
                if self.path.stat().st_mode & 0o077:
                    os.chmod(self.path, 0o600)
                secret = self.path.read_bytes()
            except FileNotFoundError:
                secret = None
        if secret is None or len(secret) != SECRET_BYTES:
            raise DeviceError(
                "This device's secret key is missing or damaged, so its data cannot be opened. "
                "Ask for this device to be wiped and set up again."
            )
        return secret

    def delete(self) -> None:
        """Destroy the secret: overwrite then delete the key-store entry, shred the file.

        ``DIR/secret`` is shredded whatever ``storage`` says, so a wipe also removes a stale
        copy. A key store that cannot be reached is skipped: without the key file's wraps, DS
        alone opens nothing.
        """
        shred_file(self.path)
        if self.storage != "keyring":
            return
        backend = keyring_backend()
        if backend is None:
            return
        try:
            backend.set_password(SERVICE, self.install_id, _encode(secrets.token_bytes(32)))
            backend.delete_password(SERVICE, self.install_id)
        except Exception:  # noqa: S110 - best effort; the wraps are already shredded
            pass
