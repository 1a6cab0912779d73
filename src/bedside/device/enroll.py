"""Setting a device up online (enrollment), and opening a locked one online (escrow unlock).

Enrollment, in order (docs/device.md):

1. The user signs in through a browser (:meth:`Remote.sign_in`: PKCE, loopback redirect).
2. The device makes its identity: a random device id (UUID 4) and an Ed25519 key that will sign
   every event it records (:mod:`bedside.protocol.event`).
3. The home is created with the first policy snapshot (:meth:`Node.enroll_local`: key file,
   DK, EK, the encrypted store holding the private key and the refresh token).
4. ``POST /device/register`` sends the public key, the posture facts and EK; the server binds
   the sign-in's grant to the device. EK now exists only on the server.
5. A refresh gives an access token carrying the ``device`` claim (the rotated refresh token is
   stored), and the snapshot is fetched again with it, so it names the device and its pins.

Anything failing after step 3 wipes the half-made home, so the user can simply try again.

The online unlock is for a device whose PIN no longer opens it (too many wrong PINs, or an
offline period that ran out) or whose user forgot the PIN: a fresh sign-in, re-registration
of the same device and key (which binds the new grant), a refresh, then ``POST
/device/unlock-key`` returns EK, which opens DK, and the user chooses a new PIN. If the server
says the device was flagged for wipe, the home is wiped here and then.

The public key is also kept in plaintext beside ``device.json`` (``device.pub``), because the
re-registration of a locked device needs it while the private key is sealed in the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside import __version__
from bedside.device.errors import DeviceError
from bedside.device.home import DEVICE_FILE, DeviceInfo
from bedside.device.keys import KdfParams, KeyFile, check_pin
from bedside.device.lifecycle import remove_store
from bedside.device.node import Node
from bedside.device.posture import posture
from bedside.device.remote import Remote
from bedside.device.secret import private_dir, shred_file, write_private
from bedside.device.signin import SIGN_IN_TIMEOUT, Tokens
from bedside.device.status import Status
from bedside.protocol.event import public_key_text

__all__ = ["PUBLIC_KEY_FILE", "Enrolled", "SignIn", "Unlocked", "enroll", "online_unlock", "wipe"]

PUBLIC_KEY_FILE: Final = "device.pub"
_NO_REFRESH: Final = (
    "The server did not allow this device to stay signed in (no refresh token); "
    "ask an administrator to check the bedside-device app's scopes."
)


@dataclass(frozen=True)
class SignIn:
    """How to run the browser part of a sign-in (the CLI prints, tests play the browser)."""

    show_url: Callable[[str], None]
    open_browser: bool = False
    timeout: float = SIGN_IN_TIMEOUT
    transport: httpx.BaseTransport | None = None  # tests: an in-memory server


@dataclass(frozen=True)
class Enrolled:
    """What enrollment did: who, which device, what it reported, and the node's status."""

    device_id: str
    user: str
    fhir_user: str | None
    server: str
    posture: dict[str, Any]
    pins: list[str]
    status: Status
    info: DeviceInfo


@dataclass(frozen=True)
class Unlocked:
    """The online unlock's outcome: the new status, or the home wiped on the server's order."""

    wiped: bool
    status: Status | None = None
    info: DeviceInfo | None = None
    device_id: str = ""
    notes: list[str] = field(default_factory=list)


def enroll(
    home: Path,
    server: str,
    pin: str,
    sign_in: SignIn,
    *,
    kdf: KdfParams = KdfParams(),
    clock: Callable[[], float] = time.time,
) -> Enrolled:
    """Set ``home`` up for the user who signs in on ``server``; the node is left locked."""
    check_pin(pin)  # before the user spends a sign-in on a PIN that cannot be used
    home = Path(home)
    if (home / DEVICE_FILE).exists():
        raise DeviceError("This device is already set up. Wipe it before setting it up again.")
    private_dir(home)
    with Remote(server, transport=sign_in.transport, clock=clock) as remote:
        tokens = _sign_in(remote, sign_in)
        _clock_set(remote, tokens)
        if tokens.refresh_token is None:
            raise DeviceError(_NO_REFRESH)
        jwks = remote.jwks()
        device_id = str(uuid.uuid4())
        key = Ed25519PrivateKey.generate()
        public_key = public_key_text(key.public_key())
        node, ek = Node.enroll_local(
            home,
            user=tokens.subject,
            device_id=device_id,
            server=remote.fhir_base,
            client_id=remote.client_id,
            pin=pin,
            snapshot_jws=remote.snapshot(tokens.access_token),
            jwks=jwks,
            refresh_token=tokens.refresh_token,
            signing_key=key,
            app_version=__version__,
            kdf=kdf,
            clock=remote.clock,  # shared: the node keeps what the sign-in learned of the server
        )
        try:
            write_private(home / PUBLIC_KEY_FILE, (public_key + "\n").encode("ascii"))
            facts = posture(home)
            remote.register_device(
                tokens.access_token,
                device_id=device_id,
                public_key=public_key,
                app_version=__version__,
                posture=facts,
                escrow_key=ek,
            )
            bound = _bound(remote, tokens.refresh_token, device_id)
            node.set_refresh_token(bound.refresh_token or "")
            node.apply_snapshot(remote.snapshot(bound.access_token), jwks)
            pins = remote.pins(bound.access_token)
            node.save_clock()
            status = node.status()
        except BaseException:
            wipe(home, node)
            _end_quietly(remote, tokens)
            raise
        finally:
            node.lock()
    return Enrolled(
        device_id,
        tokens.subject,
        tokens.fhir_user,
        remote.fhir_base,
        facts,
        pins,
        status,
        node.info,
    )


def online_unlock(
    home: Path,
    new_pin: str,
    sign_in: SignIn,
    *,
    clock: Callable[[], float] = time.time,
) -> Unlocked:
    """Open the device with the escrow key after a fresh sign-in and set ``new_pin``."""
    check_pin(new_pin)
    home = Path(home)
    node = Node(home, clock=clock)
    info = node.info
    with Remote(
        info.server, client_id=info.client_id, transport=sign_in.transport, clock=node.clock
    ) as remote:
        tokens = _sign_in(remote, sign_in)
        _clock_set(remote, tokens)
        if tokens.subject != info.user:
            _end_quietly(remote, tokens)
            raise DeviceError(
                "This device belongs to another user; sign in as the user who set it up."
            )
        status = remote.device_status(tokens.access_token, info.device_id)
        if status == "wipe":
            wipe(home, node)
            return Unlocked(wiped=True, device_id=info.device_id)
        if status == "revoked":
            _end_quietly(remote, tokens)
            raise DeviceError(
                "This device has been revoked, so it cannot be unlocked. "
                "Ask an administrator, then wipe it and set it up again."
            )
        if tokens.refresh_token is None:
            raise DeviceError(_NO_REFRESH)
        remote.register_device(
            tokens.access_token,
            device_id=info.device_id,
            public_key=_public_key(home),
            app_version=info.app_version or __version__,
            posture=posture(home),
            escrow_key=None,
        )
        bound = _bound(remote, tokens.refresh_token, info.device_id)
        answer = remote.unlock_key(bound.access_token)
        if answer.wipe or answer.escrow_key is None:
            wipe(home, node)
            return Unlocked(wiped=True, device_id=info.device_id)
        jwks = remote.jwks(fresh=True)
        snapshot = remote.snapshot(bound.access_token)
        unlocked = node.unlock_with_escrow(
            answer.escrow_key, new_pin, snapshot_jws=snapshot, jwks=jwks
        )
        try:
            old = node.refresh_token()
            node.set_refresh_token(bound.refresh_token or "")
            notes = []
            if old and not remote.revoke(old):
                notes.append("The previous sign-in on this device could not be ended.")
        finally:
            node.lock()
    return Unlocked(wiped=False, status=unlocked, info=info, device_id=info.device_id, notes=notes)


def wipe(home: Path, node: Node | None = None) -> None:
    """Destroy the keys, the store, the attachments and the setup files of ``home``.

    Works on a half-made or damaged home too: whatever of ours is there goes.
    """
    home = Path(home)
    if node is None:
        with suppress(DeviceError):
            node = Node(home)
    if node is not None:
        node.wipe()
    else:
        with suppress(DeviceError):
            KeyFile.open(home).shred()
        remove_store(home)
        (home / DEVICE_FILE).unlink(missing_ok=True)
    shred_file(home / PUBLIC_KEY_FILE)


def _sign_in(remote: Remote, sign_in: SignIn) -> Tokens:
    return remote.sign_in(
        show_url=sign_in.show_url, open_browser=sign_in.open_browser, timeout=sign_in.timeout
    )


def _clock_set(remote: Remote, tokens: Tokens) -> None:
    """Stop, ending the new grant, when the sign-in showed this device's clock too far off."""
    try:
        remote.clock.check()
    except DeviceError:
        _end_quietly(remote, tokens)
        raise


def _end_quietly(remote: Remote, tokens: Tokens) -> None:
    """Best effort: end a sign-in's grant that this device will not use (RFC 7009)."""
    if tokens.refresh_token is not None:
        with suppress(DeviceError):
            remote.revoke(tokens.refresh_token)


def _bound(remote: Remote, refresh_token: str, device_id: str) -> Tokens:
    """Refresh once the grant is bound; the new access token must name the device."""
    bound = remote.refresh(refresh_token)
    if bound.device != device_id or bound.refresh_token is None:
        raise DeviceError("The server did not tie this sign-in to the device; try again.")
    return bound


def _public_key(home: Path) -> str:
    try:
        return (home / PUBLIC_KEY_FILE).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise DeviceError(
            "This device's public key file is missing, so it cannot be unlocked online. "
            "Wipe it and set it up again."
        ) from None
