"""The home directory of one enrolled device and user, and its plaintext ``device.json``.

Layout (docs/device.md)::

    DIR/device.json      what the device is and where it syncs: no secret, no PHI
    DIR/keys.json        the key file (bedside.device.keys)
    DIR/secret           the device secret, only without an OS key store
    DIR/store.db[-wal]   the SQLCipher store (bedside.device.store)
    DIR/attachments/     encrypted attachment files (bedside.device.attachments)

``device.json`` is readable before the PIN is entered, so the app can say which server and
user the device belongs to; everything else about the user lives in the encrypted store.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from bedside.device.errors import DeviceError, NotEnrolled
from bedside.device.secret import write_private

__all__ = ["DEVICE_FILE", "FORMAT_VERSION", "DeviceInfo"]

DEVICE_FILE: Final = "device.json"
FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The contents of ``device.json``."""

    install_id: str
    device_id: str
    server: str  # the FHIR base URL; also the snapshot's expected issuer
    user: str  # the access token's ``sub``
    client_id: str
    app_version: str
    enrolled_at: float
    version: int = FORMAT_VERSION

    @classmethod
    def load(cls, home: Path) -> DeviceInfo:
        """The home's device file; :class:`NotEnrolled` when there is none."""
        path = home / DEVICE_FILE
        try:
            data: Any = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise NotEnrolled() from None
        except (OSError, ValueError):
            raise DeviceError(
                "This device's setup file cannot be read. Wipe the device and set it up again."
            ) from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise DeviceError(
                "This device was set up by another version of Bedside. Wipe it and set it up again."
            )
        try:
            return cls(
                install_id=str(data["install_id"]),
                device_id=str(data["device_id"]),
                server=str(data["server"]),
                user=str(data["user"]),
                client_id=str(data["client_id"]),
                app_version=str(data.get("app_version", "")),
                enrolled_at=float(data["enrolled_at"]),
            )
        except (KeyError, TypeError, ValueError):
            raise DeviceError(
                "This device's setup file is incomplete. Wipe the device and set it up again."
            ) from None

    def save(self, home: Path) -> None:
        """Write ``device.json`` atomically, 0600."""
        body = {
            "version": self.version,
            **{k: v for k, v in asdict(self).items() if k != "version"},
        }
        write_private(home / DEVICE_FILE, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
