"""Ward and patient assignments an administrator manages (``bedside admin assign``).

An assignment links a user, by their ``fhirUser`` (``Practitioner/9``), to a Location (a ward:
the patients of in-progress encounters there become visible) or directly to a Patient. They
take effect at the user's next request; removing one ends the access just as fast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bedside.errors import InvalidRequest
from bedside.store.base import Store

__all__ = ["KINDS", "Assignment", "add", "listing", "remove"]

KINDS = ("location", "patient")


@dataclass(frozen=True, slots=True)
class Assignment:
    user_ref: str
    kind: str
    target: str
    created_at: int


def _check(user_ref: str, kind: str, target: str) -> None:
    if (
        not user_ref.startswith(("Practitioner/", "PractitionerRole/"))
        or "/" in user_ref.split("/", 1)[1]
    ):
        raise InvalidRequest("The user must be given as Practitioner/<id> (their fhirUser).")
    if kind not in KINDS:
        raise InvalidRequest("An assignment is to a location or a patient.")
    if not target or "/" in target:
        raise InvalidRequest(f"Give the {kind} as its id, without the resource type.")


def add(store: Store, user_ref: str, kind: str, target: str) -> bool:
    """Assign; False when the assignment already existed."""
    _check(user_ref, kind, target)
    with store.records(write=True) as db:
        if db.one(
            "SELECT 1 FROM policy_assignments WHERE user_ref = ? AND kind = ? AND target = ?",
            (user_ref, kind, target),
        ):
            return False
        db.run(
            "INSERT INTO policy_assignments (user_ref, kind, target, created_at)"
            " VALUES (?, ?, ?, ?)",
            (user_ref, kind, target, int(time.time())),
        )
    return True


def remove(store: Store, user_ref: str, kind: str, target: str) -> bool:
    """Unassign; False when there was no such assignment."""
    _check(user_ref, kind, target)
    with store.records(write=True) as db:
        return (
            db.run(
                "DELETE FROM policy_assignments WHERE user_ref = ? AND kind = ? AND target = ?",
                (user_ref, kind, target),
            )
            > 0
        )


def listing(store: Store, user_ref: str | None = None) -> list[Assignment]:
    sql = "SELECT user_ref, kind, target, created_at FROM policy_assignments"
    args: tuple[object, ...] = ()
    if user_ref:
        sql += " WHERE user_ref = ?"
        args = (user_ref,)
    with store.records() as db:
        rows = db.rows(sql + " ORDER BY user_ref, kind, target", args)
    return [Assignment(str(u), str(k), str(t), int(c)) for u, k, t, c in rows]
