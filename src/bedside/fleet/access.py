"""Who may do what with the device registry; the HTTP layer asks, the registry does.

* A device acts on itself only: its user's token naming it (claim ``device``), while active.
* Pinning a patient needs the policy view to reach the patient now (:func:`reaches`): a pin
  asks the server to keep a patient on the device, so it must never reach further than the
  user's own access. A pin does not outlive that access: the device keeps a pinned patient
  only while the snapshot's ``patients`` still lists them.
* Administration is for the ``admin`` role, or the operator (``bedside admin token``: a token
  the server's key signed outside any grant). Backend services, which hold grants, may not.
"""

from __future__ import annotations

from typing import Final

from bedside.auth.caller import Caller
from bedside.errors import Forbidden
from bedside.fleet.enrolment import ID
from bedside.fleet.registry import REVOKED, WIPE, Device, status_error
from bedside.policy.model import AccessView

__all__ = ["PAST", "reaches", "require_active", "require_admin", "require_device", "well_formed"]

#: How a status reads in a sentence: "This device has been revoked."
PAST: Final = {REVOKED: "revoked", WIPE: "flagged for wipe"}


def well_formed(device_id: str) -> str | None:
    """``device_id`` when it is a well-formed id, else None (only those go into the audit)."""
    return device_id if ID.fullmatch(device_id) else None


def require_device(caller: Caller) -> str:
    """The device the token names, or 403."""
    if not caller.device:
        raise Forbidden(
            "Use the token of a registered device: register the device, then refresh the token."
        )
    return caller.device


def require_active(device: Device) -> None:
    if not device.active:
        raise status_error(Forbidden, f"This device has been {PAST[device.status]}.", device.status)


def require_admin(caller: Caller) -> None:
    operator = caller.role is None and caller.grant_id is None
    if caller.role != "admin" and not operator:
        raise Forbidden("Only an administrator can manage devices.")


def reaches(view: AccessView, caller: Caller, patient: str) -> bool:
    """Whether the caller may see ``patient``'s record now: the policy view reaches them (a
    relationship, break-glass or a consent share) and some scope of the token is not confined
    to another patient (a ``patient/`` scope is confined to the launch patient)."""
    if view.confined:
        reached = {a.patient for a in (*view.relations, *view.glass)}
        reached |= {s.patient for s in view.shares}
        if patient not in reached:
            return False
    contexts = {s.context for s in caller.scopes.scopes}
    return any(caller.confined_to(c) in (None, patient) for c in contexts)
