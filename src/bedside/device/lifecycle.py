"""Setting a device home up, opening a session from the data key, and checking its snapshot.

:func:`enroll` is what the online enrollment (sign-in, device registration) calls once it has
everything: it creates the key file (new DK, DS and EK), the encrypted store, and writes into
the store — never anywhere else — the device's Ed25519 private key, the policy snapshot and the
server's JWK Set, and the refresh token. ``device.json`` gets only what is not secret.

:func:`open_session` turns DK into a :class:`Session`: store opened, snapshot re-verified
(expired or not: the mode then says what it still allows), outbox events that were being sent
when the process stopped put back to pending (G2: re-sent with the same idempotency key).
The server's clock as last learned (meta ``server_clock``, :mod:`bedside.device.clock`) is
loaded first: every snapshot check compares the server's times with the server's time.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from bedside.device import breakglass, compliance
from bedside.device.attachments import FOLDER, Attachments
from bedside.device.clock import META_KEY, Offset, ServerClock, policy_ahead
from bedside.device.errors import DeviceError
from bedside.device.home import DEVICE_FILE, DeviceInfo
from bedside.device.keys import KdfParams, KeyFile
from bedside.device.offline import OfflinePolicy
from bedside.device.outbox import Outbox
from bedside.device.posture import posture
from bedside.device.session import Session
from bedside.device.store import STORE_FILE, LocalStore
from bedside.device.workingset import PurgeReport, reconcile
from bedside.errors import Unauthorized
from bedside.fhir.compartment import PATIENT_COMPARTMENT, patient_compartment
from bedside.protocol.snapshot import NotYetValid, verify_snapshot

__all__ = [
    "META_KEYS",
    "enroll",
    "keep_clock",
    "open_session",
    "remove_store",
    "store_snapshot",
    "verify",
]

#: Meta values this module writes (docs/device.md); sync adds ``sync_token`` and ``last_sync``.
META_KEYS: Final = (
    "user",
    "device_id",
    "server",
    "client_id",
    "install_id",
    "enrolled_at",
    "device_key",  # the Ed25519 private key, raw 32 bytes, base64url
    "snapshot",  # the compact JWS
    "jwks",  # the server's JWK Set (JSON) the snapshot verifies against
    "refresh_token",
    META_KEY,  # the server's clock as learned: offset and when (device/clock.py)
)
_UNUSABLE: Final = "The offline policy on this device cannot be used ({why}). Sign in online."


def verify(
    jws: str, jwks: dict[str, Any], info: DeviceInfo, now: float, *, expired_ok: bool
) -> dict[str, Any]:
    """The snapshot's claims, checked against this device's server, user and device id.

    ``now`` is the server's time (:meth:`ServerClock.now`): the snapshot's times are its.
    """
    try:
        claims = verify_snapshot(jws, jwks, now=now, issuer=info.server, expired_ok=expired_ok)
    except NotYetValid as exc:
        raise policy_ahead(exc.nbf - now) from None
    except Unauthorized as exc:
        raise DeviceError(f"{exc.message} Sign in online to fetch a new one.") from None
    if claims.get("sub") != info.user:
        raise DeviceError(_UNUSABLE.format(why="it was issued to another user"))
    device = claims.get("device")
    if device is not None and device != info.device_id:
        raise DeviceError(_UNUSABLE.format(why="it was issued to another device"))
    return claims


def enroll(
    home: Path,
    *,
    user: str,
    device_id: str,
    server: str,
    client_id: str,
    pin: str,
    snapshot_jws: str,
    jwks: dict[str, Any],
    refresh_token: str,
    signing_key: Ed25519PrivateKey,
    app_version: str,
    kdf: KdfParams,
    clock: ServerClock,
) -> tuple[bytes, bytes]:
    """Create the home's keys and store; (DK, EK). EK is for the server only: never stored.

    Anything failing half-way is undone (keys shredded, store removed), so the user can try
    again; an already enrolled home is refused before anything is touched.
    """
    if (home / DEVICE_FILE).exists():
        raise DeviceError("This device is already set up. Wipe it before setting it up again.")
    now = clock()
    info = DeviceInfo(
        install_id=secrets.token_urlsafe(16),
        device_id=device_id,
        server=server,
        user=user,
        client_id=client_id,
        app_version=app_version,
        enrolled_at=now,
    )
    claims = verify(snapshot_jws, jwks, info, clock.server(now), expired_ok=False)
    policy = OfflinePolicy(claims, clock.server)
    keyfile, dk, ek = KeyFile.create(
        home,
        user=user,
        install_id=info.install_id,
        pin=pin,
        kdf=kdf,
        pin_attempts=policy.settings.pin_attempts,
    )
    try:
        store = LocalStore.open(home / STORE_FILE, dk, create=True)
        try:
            raw = signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            values = {
                "user": user,
                "device_id": device_id,
                "server": server,
                "client_id": client_id,
                "install_id": info.install_id,
                "enrolled_at": repr(now),
                "device_key": base64.urlsafe_b64encode(raw).decode("ascii"),
                "snapshot": snapshot_jws,
                "jwks": json.dumps(jwks),
                "refresh_token": refresh_token,
            }
            if clock.offset is not None:
                values[META_KEY] = clock.offset.dumps()
            attachments = Attachments(home, dk)
            with store.transaction() as tx:
                for key, value in values.items():
                    store.set_meta(key, value)
                reconcile(tx, policy, now, attachments.delete)
        finally:
            store.close()
        info.save(home)
    except BaseException:
        keyfile.shred()
        remove_store(home)
        (home / DEVICE_FILE).unlink(missing_ok=True)
        raise
    return dk, ek


_warmed = threading.Event()


def _warm_once() -> None:
    """Load the FHIR compartment tables in the background, once per process.

    The offline policy asks which types lie in the Patient compartment, from the same search
    definitions as the server; they build from the R4 models on first use, which took about
    a second and a half. Doing that while the user looks at the patient list keeps it out of
    the first write the clinician records.
    """
    if _warmed.is_set():
        return
    _warmed.set()

    def warm() -> None:
        for rtype in PATIENT_COMPARTMENT:
            patient_compartment(rtype)

    threading.Thread(target=warm, name="bedside-warm", daemon=True).start()


def open_session(
    home: Path, info: DeviceInfo, keyfile: KeyFile, dk: bytes, clock: ServerClock
) -> Session:
    """Open the store with ``dk`` and build the session (module docstring)."""
    _warm_once()
    store = LocalStore.open(home / STORE_FILE, dk)
    try:
        now = clock()
        keep_clock(store, clock)
        jws, jwks, key = store.meta("snapshot"), store.meta("jwks"), store.meta("device_key")
        if jws is None or jwks is None or key is None:
            raise DeviceError(_UNUSABLE.format(why="it is missing"))
        claims = verify(jws, json.loads(jwks), info, clock.server(now), expired_ok=True)
        policy = OfflinePolicy(claims, clock.server)
        with store.reading() as conn:  # break-glass opened offline, still running
            policy = breakglass.overlay(policy, breakglass.active(conn, clock.server(now)))
        policy = compliance.apply(policy, posture(home))  # graduated compliance
        signing = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(key))
        outbox = Outbox(store, device=info.device_id, user=info.user, key=signing)
        outbox.reset_sending(at=now)
        return Session(
            home=home,
            info=info,
            keyfile=keyfile,
            store=store,
            policy=policy,
            outbox=outbox,
            attachments=Attachments(home, dk),
            clock=clock,
        )
    except BaseException:
        store.close()
        raise


def store_snapshot(s: Session, jws: str, jwks: dict[str, Any] | None, now: float) -> PurgeReport:
    """Verify a new snapshot (with ``jwks``, else the stored JWK Set), store it and reconcile
    the working set with it, in one transaction; the session's policy is then the new one."""
    keys = jwks if jwks is not None else json.loads(s.store.meta("jwks") or "{}")
    claims = verify(jws, keys, s.info, s.clock.server(now), expired_ok=False)
    policy = OfflinePolicy(claims, s.clock.server)
    with s.store.transaction() as tx:
        s.store.set_meta("snapshot", jws)
        s.store.set_meta("jwks", json.dumps(keys))
        report = reconcile(tx, policy, now, s.attachments.delete)
        policy = breakglass.overlay(policy, breakglass.active(tx, s.clock.server(now)))
    s.policy = compliance.apply(policy, posture(s.home))
    with suppress(DeviceError):  # an out-of-range claim keeps the key file's own limit
        s.keyfile.set_pin_attempts(policy.settings.pin_attempts)
    return report


def keep_clock(store: LocalStore, clock: ServerClock) -> None:
    """Bring ``clock`` and the store's copy of it together: the newer offset wins both."""
    stored_text = store.meta(META_KEY)
    stored = Offset.loads(stored_text)
    clock.adopt(stored)
    if clock.offset is not None and clock.offset != stored:
        store.set_meta(META_KEY, clock.offset.dumps())


def remove_store(home: Path) -> None:
    """Delete the store files and the attachment folder (ciphertext: the keys are the secret)."""
    for path in LocalStore.files(home / STORE_FILE):
        path.unlink(missing_ok=True)
    folder = home / FOLDER
    if folder.is_dir():
        for entry in folder.iterdir():
            with suppress(FileNotFoundError):
                entry.unlink()
        with suppress(OSError):
            folder.rmdir()
