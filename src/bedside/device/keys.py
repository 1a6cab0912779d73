"""The device's key hierarchy: one data key, opened by a PIN offline or by the server online.

ADR 0007 explains the design; in short:

- DK, 32 random bytes, encrypts everything the device stores (the SQLCipher database; the
  attachments through an HKDF subkey). It is never written down in plaintext.
- DS, the device secret (:mod:`bedside.device.secret`), is mixed into every key-encryption key,
  so the key file alone is not enough to start guessing PINs.
- The PIN wrap: KEK_pin = HKDF-SHA256(argon2id(PIN, salt) || DS, salt=install_id,
  info="bedside pin wrap v1|"+user) (RFC 9106, RFC 5869). A wrong PIN costs one slow derivation
  and one attempt; ``pin_attempts`` wrong PINs in a row delete this wrap.
- The escrow wrap: KEK_escrow = HKDF-SHA256(EK || DS, ...). EK goes to the server at device
  registration and is not kept here, so after a lockout only a fresh online sign-in (which
  fetches EK) opens DK again.
- Wraps are AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce and AAD binding them to
  this install and user, so a wrap copied from another key file does not open.

``DIR/keys.json`` (0600) holds the argon2id parameters, the wraps, a check value that lets
``set_pin`` refuse a wrong DK, the failed-PIN counter and the lock. Every change replaces the
file atomically under an exclusive lock on the home directory, and :meth:`KeyFile.unlock`
counts an attempt on disk *before* it derives anything, so killing the app after a wrong guess
cannot take the guess back.
"""

from __future__ import annotations

import fcntl
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from bedside.device.errors import DeviceError, KeysLocked, NotEnrolled, WrongPin
from bedside.device.secret import DeviceSecret, Storage, private_dir, shred_file, write_private
from bedside.device.wraps import (
    DAMAGED,
    KEY_BYTES,
    KdfParams,
    KeyRecord,
    Wrap,
    open_wrap,
    pin_wrap,
    seal,
)

__all__ = [
    "KEY_BYTES",
    "KEY_FILE",
    "MAX_PIN_ATTEMPTS",
    "PIN_ATTEMPTS",
    "REASON_PIN_ATTEMPTS",
    "KdfParams",
    "KeyFile",
    "KeyStatus",
    "check_pin",
]

KEY_FILE: Final = "keys.json"
#: Wrong PINs in a row before lockout until the policy snapshot says otherwise.
PIN_ATTEMPTS: Final = 5
MAX_PIN_ATTEMPTS: Final = 100
#: The lockout reason recorded when the PIN limit is reached.
REASON_PIN_ATTEMPTS: Final = "pin-attempts"
_PIN: Final = re.compile(r"[0-9]{6,12}")
_REASON: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def check_pin(pin: str) -> None:
    """Refuse a PIN that is not 6 to 12 digits (ASCII 0-9 only, so every keypad types it)."""
    if not _PIN.fullmatch(pin):
        raise DeviceError("The PIN must be 6 to 12 digits.")


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """What the unlock screen shows: locked or not, and how many PIN attempts remain."""

    locked: bool
    failed: int
    attempts_left: int
    secret_storage: Storage
    reason: str | None = None  # why it is locked: a short code, e.g. "pin-attempts"


class KeyFile:
    """One install's ``keys.json``: unlock with the PIN or the escrow key, change the PIN, lock.

    Every method re-reads the file under an exclusive ``flock`` on the home directory, so two
    processes sharing a home never lose a failed attempt or resurrect a deleted wrap.
    """

    def __init__(self, home: Path, record: KeyRecord) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self.home = home
        self.user = record.user
        self.install_id = record.install_id
        self.secret = DeviceSecret(home, record.install_id, record.secret_storage)

    @property
    def path(self) -> Path:
        return self.home / KEY_FILE

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        user: str,
        install_id: str,
        pin: str,
        kdf: KdfParams = KdfParams(),
        pin_attempts: int = PIN_ATTEMPTS,
    ) -> tuple[KeyFile, bytes, bytes]:
        """Set a device up: new DS, DK and EK; returns (key file, DK, EK).

        EK is for ``POST /device/register`` and must not be stored on the device. Refuses to
        overwrite an existing key file: that would make the data under it unreadable.
        """
        check_pin(pin)
        if not user or not install_id:
            raise DeviceError("A device needs a user and an install id to be set up.")
        _check_attempts(pin_attempts)
        private_dir(home)
        with _home_lock(home):
            if (home / KEY_FILE).exists():
                raise DeviceError(
                    "This device is already set up. Wipe it before setting it up again."
                )
            secret = DeviceSecret.create(home, install_id)
            keyfile, dk, ek = cls._enrol(home, user, install_id, pin, kdf, pin_attempts, secret)
        return keyfile, dk, ek

    @classmethod
    def _enrol(
        cls,
        home: Path,
        user: str,
        install_id: str,
        pin: str,
        kdf: KdfParams,
        pin_attempts: int,
        secret: DeviceSecret,
    ) -> tuple[KeyFile, bytes, bytes]:
        dk, ek = secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)
        draft = KeyRecord(
            user=user,
            install_id=install_id,
            secret_storage=secret.storage,
            kdf=kdf,
            pin=None,
            escrow=Wrap(b"", b""),
            dk_check=b"",
            failed=0,
            pin_attempts=pin_attempts,
            locked=False,
            reason=None,
        )
        ds = secret.read()
        record = replace(
            draft,
            pin=pin_wrap(draft, kdf, pin, ds, dk),
            escrow=seal(draft.kek(b"escrow", ek, ds), dk, draft.aad()),
            dk_check=draft.check_value(dk),
        )
        keyfile = cls(home, record)
        keyfile._store(record)
        return keyfile, dk, ek

    @classmethod
    def open(cls, home: Path) -> KeyFile:
        """The key file of an enrolled home; :class:`NotEnrolled` when there is none."""
        return cls(home, _load(home / KEY_FILE))

    def unlock(self, pin: str) -> bytes:
        """DK from the PIN, or :class:`WrongPin` (attempts left) / :class:`KeysLocked`.

        Increment, then verify, then reset: the attempt is durable before the slow derivation
        can reveal whether the PIN was right. A PIN that is not 6-12 digits is refused without
        costing an attempt, since it cannot be the PIN and no derivation runs.
        """
        check_pin(pin)
        with _home_lock(self.home):
            record = self._load()
            wrap = record.pin
            if record.locked or wrap is None:
                raise KeysLocked()
            ds = self.secret.read()  # before counting: an unreachable key store costs nothing
            record = replace(record, failed=record.failed + 1)
            self._store(record)
            dk = open_wrap(
                record.kek(b"pin", record.kdf.derive(pin, wrap.salt), ds), wrap, record.aad()
            )
            if dk is not None:
                self._store(replace(record, failed=0))
                return dk
            if record.failed >= record.pin_attempts:
                self._store(record.locked_out(REASON_PIN_ATTEMPTS))
                raise KeysLocked()
            raise WrongPin(record.pin_attempts - record.failed)

    def unlock_with_escrow(self, ek: bytes) -> bytes:
        """DK from the escrow key the server returned after a fresh online sign-in.

        Works when locked; it does not reset the counter or the lock: :meth:`set_pin` does,
        once the user has chosen a new PIN.
        """
        with _home_lock(self.home):
            record = self._load()
            dk = None
            if len(ek) == KEY_BYTES:
                kek = record.kek(b"escrow", ek, self.secret.read())
                dk = open_wrap(kek, record.escrow, record.aad())
        if dk is None:
            raise DeviceError(
                "The unlock key from the server does not open this device's data. "
                "Ask for this device to be wiped and set up again."
            )
        return dk

    def set_pin(self, dk: bytes, new_pin: str, *, kdf: KdfParams | None = None) -> None:
        """Wrap DK under a new PIN (new salt), reset the counter and clear the lock.

        The data is not re-encrypted: only the wrap changes. ``dk`` must be this device's DK
        (checked in constant time against the stored check value).
        """
        check_pin(new_pin)
        with _home_lock(self.home):
            record = self._load()
            if len(dk) != KEY_BYTES or not hmac.compare_digest(
                record.check_value(dk), record.dk_check
            ):
                raise DeviceError("That key does not belong to this device; the PIN is unchanged.")
            params = record.kdf if kdf is None else kdf
            wrap = pin_wrap(record, params, new_pin, self.secret.read(), dk)
            self._store(replace(record, kdf=params, pin=wrap, failed=0, locked=False, reason=None))

    def lock_out(self, reason: str) -> None:
        """Delete the PIN wrap: from now on only the escrow key opens DK.

        ``reason`` is a short code (lowercase letters, digits, hyphens, e.g. ``"snapshot-expired"``)
        so no sentence with patient or user details can end up in the key file.
        """
        if not _REASON.fullmatch(reason):
            raise ValueError("lock_out reason must be a short code such as 'pin-attempts'")
        with _home_lock(self.home):
            self._store(self._load().locked_out(reason))

    def set_pin_attempts(self, n: int) -> None:
        """Take the PIN attempt limit from the policy snapshot; lock now if it is already spent."""
        _check_attempts(n)
        with _home_lock(self.home):
            record = replace(self._load(), pin_attempts=n)
            if not record.locked and record.failed >= n:
                record = record.locked_out(REASON_PIN_ATTEMPTS)
            self._store(record)

    def status(self) -> KeyStatus:
        record = self._load()
        locked = record.locked or record.pin is None
        return KeyStatus(
            locked=locked,
            failed=record.failed,
            attempts_left=0 if locked else max(0, record.pin_attempts - record.failed),
            secret_storage=record.secret_storage,
            reason=record.reason,
        )

    def shred(self) -> None:
        """Destroy the keys: overwrite and delete keys.json (and any temporary copy), then DS."""
        with _home_lock(self.home):
            for leftover in self.home.glob(f".{KEY_FILE}.*.tmp"):
                shred_file(leftover)
            shred_file(self.path)
            self.secret.delete()

    @property
    def secret_storage(self) -> Storage:
        return self.secret.storage

    def _load(self) -> KeyRecord:
        record = _load(self.path)
        if record.install_id != self.install_id or record.user != self.user:
            raise DeviceError(DAMAGED)
        return record

    def _store(self, record: KeyRecord) -> None:
        write_private(self.path, record.to_bytes())


@contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the home directory itself (no lock file to clean up)."""
    fd = os.open(home, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _load(path: Path) -> KeyRecord:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotEnrolled() from None
    return KeyRecord.parse(raw)


def _check_attempts(n: int) -> None:
    if not 1 <= n <= MAX_PIN_ATTEMPTS:
        raise DeviceError(f"The PIN attempt limit must be between 1 and {MAX_PIN_ATTEMPTS}.")
