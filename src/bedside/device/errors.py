"""The device node's errors, under Bedside's one hierarchy (``bedside.errors``).

The device app shows these messages to the person holding the device, often a clinician at a
bedside with no signal, so each one is a plain sentence that says what happened and what to do
next. None carries a secret, a PIN or anything about a patient.

    BedsideError
    └── DeviceError                  the device cannot do what was asked (message for the user)
        ├── NotEnrolled              no key file yet: the device has not been set up
        ├── WrongPin                 the PIN did not open the keys; carries ``attempts_left``
        ├── KeysLocked               no PIN can open the keys; an online sign-in must
        ├── KeystoreUnavailable      the OS key store holding the device secret cannot be reached
        └── AttachmentError          an attachment is missing, or damaged and refused
"""

from __future__ import annotations

from typing import Final

from bedside.errors import BedsideError

__all__ = [
    "LOCKED_SENTENCE",
    "AttachmentError",
    "DeviceError",
    "KeysLocked",
    "KeystoreUnavailable",
    "Locked",
    "NotEnrolled",
    "Refused",
    "WrongPin",
]


class DeviceError(BedsideError):
    """The device cannot do what was asked; ``str(error)`` is a sentence for the user."""


class NotEnrolled(DeviceError):
    """The home directory holds no key file: the device has never been set up, or was wiped."""

    def __init__(self) -> None:
        super().__init__("This device is not set up yet. Sign in online to set it up.")


class WrongPin(DeviceError):
    """A PIN was refused; ``attempts_left`` more wrong PINs in a row lock the device."""

    def __init__(self, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        if attempts_left == 1:
            tail = "One more wrong PIN locks this device until you sign in online."
        else:
            tail = f"{attempts_left} attempts are left before this device locks."
        super().__init__(f"That PIN is not right. {tail}")


class KeysLocked(DeviceError):
    """The PIN can no longer open the keys (its wrap was deleted); only an online sign-in can."""

    def __init__(self) -> None:
        super().__init__(
            "This device is locked. Sign in online to unlock it, then choose a new PIN."
        )


class KeystoreUnavailable(DeviceError):
    """The device secret lives in the OS key store (keyring), which cannot be reached now."""

    def __init__(self) -> None:
        super().__init__(
            "The system key store that protects this device's data cannot be reached. "
            "Unlock your computer's key store (or sign in to your desktop session) and try again."
        )


class AttachmentError(DeviceError):
    """An attachment file is missing, or failed its integrity check and was not opened."""


LOCKED_SENTENCE: Final = "This device is locked. Enter your PIN to continue."


class Locked(DeviceError):
    """The device is locked (by the user or after inactivity): the PIN opens it again."""

    def __init__(self, message: str = LOCKED_SENTENCE) -> None:
        super().__init__(message)


class Refused(DeviceError):
    """The offline policy does not allow this read or write; nothing was read or written."""
