"""The device registry's tables (``devices``, ``device_pins``, ``auth_grants.device``).

Every function takes the caller's :class:`~bedside.store.base.Records`, so a change and its
audit entry commit in one transaction, and raises :class:`~bedside.errors.FhirError`s the HTTP
layer maps to OperationOutcome (the CLI prints their message).

A device's status only moves forward: ``active`` → ``revoked`` (its grants are revoked, so its
tokens and refresh stop at once) and ``active``/``revoked`` → ``wipe`` (its grants are kept:
the device must still be able to ask, learn it is flagged, and destroy its keys; but
:meth:`bedside.auth.grants.Grants.is_active` refuses its tokens everywhere else). Re-enrolling
a revoked or wiped device id is refused; the device enrols again under a new id.

Registration binds the grant of the registering token to the device. A grant binds to one device
only; the same user re-registering the same id with the same key is idempotent (app version and
posture are updated), anything else with a taken id is a conflict.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.auth.caller import Caller
from bedside.errors import Conflict, FhirError, Forbidden, InvalidRequest, Issue, NotFound
from bedside.fleet.enrolment import Registration, check_id
from bedside.fleet.escrow import EscrowSeal
from bedside.policy.breakglass import instant
from bedside.store.base import Records

__all__ = [
    "ACTIVE",
    "REVOKED",
    "STATUSES",
    "WIPE",
    "Device",
    "get",
    "listing",
    "own",
    "pin",
    "pins",
    "pins_of",
    "register",
    "revoke",
    "status_counts",
    "status_error",
    "unpin",
    "wipe",
]

ACTIVE: Final = "active"
REVOKED: Final = "revoked"
WIPE: Final = "wipe"
STATUSES: Final = (ACTIVE, REVOKED, WIPE)
_COLUMNS: Final = (
    "device_id, user_id, client_id, public_key, app_version, posture, status, registered_at,"
    " status_changed_at, escrow_key"
)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    user_id: str
    client_id: str | None
    public_key: str
    app_version: str
    posture: dict[str, Any]
    status: str
    registered_at: int
    status_changed_at: int
    sealed_escrow: str  # open with EscrowSeal.open; never leaves the server sealed or not

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def summary(self) -> dict[str, Any]:
        """What an administrator sees: everything but the escrow key."""
        return {
            "device_id": self.device_id,
            "user": self.user_id,
            "client_id": self.client_id,
            "status": self.status,
            "app_version": self.app_version,
            "posture": self.posture,
            "public_key": self.public_key,
            "registered_at": instant(self.registered_at),
            "status_changed_at": instant(self.status_changed_at),
        }


def _device(row: tuple[Any, ...]) -> Device:
    did, user, client, key, version, posture, status, registered, changed, escrow = row
    return Device(
        str(did),
        str(user),
        client,
        str(key),
        str(version),
        orjson.loads(posture),
        str(status),
        int(registered),
        int(changed),
        str(escrow),
    )


def status_error(error: type[FhirError], message: str, status: str) -> FhirError:
    """A refusal that also tells the device its status, machine-readably.

    The first issue is the plain sentence; the second (severity ``information``) has the
    diagnostics ``{"status":"revoked"}`` or ``{"status":"wipe"}``, which a device acts on.
    """
    return error(
        message,
        issues=(
            Issue(error.default_code, message),
            Issue("informational", orjson.dumps({"status": status}).decode(), "information"),
        ),
    )


def get(db: Records, device_id: str) -> Device | None:
    row = db.one(f"SELECT {_COLUMNS} FROM devices WHERE device_id = ?", [device_id])
    return _device(row) if row else None


def own(db: Records, device_id: str, user_id: str) -> Device:
    """The user's own device, or 404 (another user's device is not theirs to know of)."""
    device = get(db, device_id)
    if device is None or device.user_id != user_id:
        raise NotFound("This device is not registered to you.")
    return device


def listing(
    db: Records, *, status: str | None = None, user_id: str | None = None
) -> list[dict[str, Any]]:
    """Every device (newest first) with its user's username and FHIR record and its pin count."""
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.")
    where, args = [], []
    if status is not None:
        where.append("d.status = ?")
        args.append(status)
    if user_id is not None:
        where.append("d.user_id = ?")
        args.append(user_id)
    cols = ", ".join(f"d.{c.strip()}" for c in _COLUMNS.split(","))
    rows = db.rows(
        f"SELECT {cols}, u.username, u.fhir_user,"
        " (SELECT COUNT(*) FROM device_pins p WHERE p.device_id = d.device_id)"
        " FROM devices d LEFT JOIN auth_users u ON u.id = d.user_id"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY d.registered_at DESC, d.device_id",
        args,
    )
    from bedside.fleet import wipes  # what each wiped device reported (drained or not)

    wiped = wipes.every(db)
    out = []
    for row in rows:
        item = _device(row[:10]).summary()
        item.update(username=row[10], fhir_user=row[11], pins=int(row[12]))
        item["wiped"] = wiped.get(item["device_id"])
        out.append(item)
    return out


def status_counts(db: Records) -> dict[str, int]:
    """How many devices have each status (for the metrics)."""
    rows = db.rows("SELECT status, COUNT(*) FROM devices GROUP BY status", [])
    return {str(status): int(n) for status, n in rows}


def register(
    db: Records,
    reg: Registration,
    *,
    user_id: str,
    client_id: str | None,
    grant_id: str,
    seal: EscrowSeal,
    now: float,
) -> tuple[Device, bool]:
    """Enrol ``reg`` for ``user_id`` and bind ``grant_id`` to it; (device, newly created)."""
    bound = db.one("SELECT device FROM auth_grants WHERE id = ?", [grant_id])
    if bound is None:
        raise Forbidden("Device registration needs a token from a user's sign-in.")
    if bound[0] is not None and bound[0] != reg.device_id:
        raise Conflict(
            "This sign-in already belongs to another device: sign in again on this device."
        )
    created = False
    if get(db, reg.device_id) is None:
        if reg.escrow_key is None:
            raise InvalidRequest("escrow_key is required to register a new device.")
        sealed = seal.seal(reg.escrow_key, device_id=reg.device_id, user_id=user_id)
        created = (
            db.run(
                f"INSERT INTO devices ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id) DO NOTHING",
                [
                    reg.device_id,
                    user_id,
                    client_id,
                    reg.public_key,
                    reg.app_version,
                    orjson.dumps(reg.posture).decode(),
                    ACTIVE,
                    int(now),
                    int(now),
                    sealed,
                ],
            )
            > 0
        )
    if not created:  # registered before (or a moment ago by a concurrent request)
        _same_device(db, reg, user_id, seal)
        db.run(
            "UPDATE devices SET app_version = ?, posture = ? WHERE device_id = ?",
            [reg.app_version, orjson.dumps(reg.posture).decode(), reg.device_id],
        )
    db.run("UPDATE auth_grants SET device = ? WHERE id = ?", [reg.device_id, grant_id])
    device = get(db, reg.device_id)
    assert device is not None  # inserted or checked above, in this transaction
    return device, created


def _same_device(db: Records, reg: Registration, user_id: str, seal: EscrowSeal) -> None:
    """Refuse a re-registration unless it is the same user, key and escrow key, still active."""
    existing = get(db, reg.device_id)
    assert existing is not None
    taken = Conflict("This device id is already registered. Enrol with a new device id.")
    if existing.user_id != user_id or not hmac.compare_digest(existing.public_key, reg.public_key):
        raise taken
    if not existing.active:
        raise status_error(
            Conflict, f"This device has been {_past(existing.status)}.", existing.status
        )
    if reg.escrow_key is not None:
        held = seal.open(existing.sealed_escrow, device_id=existing.device_id, user_id=user_id)
        if not hmac.compare_digest(held, reg.escrow_key):
            raise Conflict("This device is already registered with another escrow key.")


def _past(status: str) -> str:
    return "flagged for wipe" if status == WIPE else "revoked"


def revoke(db: Records, device_id: str, *, now: float) -> tuple[Device, bool]:
    """Revoke a device and every grant bound to it; (device, changed). Idempotent."""
    device = _admin_get(db, device_id)
    if device.status == WIPE:
        raise Conflict("This device is already flagged for wipe, which also ends its access.")
    if device.status == REVOKED:
        return device, False
    _set_status(db, device_id, REVOKED, now)
    db.run(
        "UPDATE auth_grants SET revoked_at = ?, revoked_why = 'device revoked'"
        " WHERE device = ? AND revoked_at IS NULL",
        [int(now), device_id],
    )
    return _admin_get(db, device_id), True


def wipe(db: Records, device_id: str, *, now: float) -> tuple[Device, bool]:
    """Flag a device for wipe; (device, changed). Idempotent. Its grants are kept (see above)."""
    device = _admin_get(db, device_id)
    if device.status == WIPE:
        return device, False
    _set_status(db, device_id, WIPE, now)
    return _admin_get(db, device_id), True


def _admin_get(db: Records, device_id: str) -> Device:
    device = get(db, check_id(device_id, "The device id"))
    if device is None:
        raise NotFound("There is no device with this id.")
    return device


def _set_status(db: Records, device_id: str, status: str, now: float) -> None:
    db.run(
        "UPDATE devices SET status = ?, status_changed_at = ? WHERE device_id = ?",
        [status, int(now), device_id],
    )


# --- pins ----------------------------------------------------------------------------------------


def pins(db: Records, device_id: str, user_id: str | None = None) -> list[str]:
    """The Patient ids a device pinned, sorted; with ``user_id``, only if it is their device."""
    sql = "SELECT p.patient FROM device_pins p"
    args: list[object] = [device_id]
    if user_id is not None:
        sql += " JOIN devices d ON d.device_id = p.device_id AND d.user_id = ?"
        args.insert(0, user_id)
    rows = db.rows(f"{sql} WHERE p.device_id = ? ORDER BY p.patient", args)
    return [str(r[0]) for r in rows]


def pin(db: Records, device_id: str, patient: str, *, now: float) -> bool:
    """Pin a patient (already checked against policy by the caller); False if it was pinned."""
    return (
        db.run(
            "INSERT INTO device_pins (device_id, patient, pinned_at) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id, patient) DO NOTHING",
            [device_id, patient, int(now)],
        )
        > 0
    )


def unpin(db: Records, device_id: str, patient: str) -> bool:
    return (
        db.run("DELETE FROM device_pins WHERE device_id = ? AND patient = ?", [device_id, patient])
        > 0
    )


def pins_of(db: Records, caller: Caller) -> list[str]:
    """The pins of the caller's device, for its policy snapshot; none without a device."""
    return pins(db, caller.device, caller.subject) if caller.device else []
