"""Break-glass: a clinician's time-limited, reviewed access to a patient outside their care.

``POST /fhir/Patient/{id}/$break-glass`` (routed by the Repository inside a write transaction)
calls :func:`start`, which inserts a row in ``break_glass``; :func:`bedside.policy.decide.
break_glass_grants` reads that row back into every access decision until ``expires_at``. Each
grant is also an item in the governance review queue: a reviewer (``[governance] review_roles``)
lists open items and closes each with an outcome, and monitoring staff (``monitor_roles``) read
counts that name no patient and no reason.

Why the checks come in this order: the role check first, so a patient or a service learns
nothing else; then the sign-in age (RFC 9470 step-up), so a stale session cannot open the glass
even with a good reason; then the request body; and the patient's existence last, so an unknown
patient answers exactly like any unknown patient (404). The reason is kept for reviewers only:
it may describe the patient, so it never goes to logs or error messages.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Final

from bedside.auth.caller import Caller
from bedside.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from bedside.policy.rules import PolicyRules
from bedside.store.base import Records

__all__ = [
    "MAX_NOTE",
    "MAX_REASON",
    "MAX_STATS_HOURS",
    "OUTCOMES",
    "STATUSES",
    "close",
    "for_patient",
    "instant",
    "review_queue",
    "start",
    "stats",
]

MAX_REASON: Final = 1000
MAX_NOTE: Final = 2000
MAX_STATS_HOURS: Final = 24 * 7
OUTCOMES: Final = ("justified", "not-justified", "needs-follow-up")
STATUSES: Final = ("open", "closed", "all")

_COLUMNS: Final = (
    "id, user_id, user_ref, patient, reason, started_at, expires_at, review_status,"
    " review_outcome, review_note, reviewed_by, reviewed_at, device_id, received_at"
)


def start(
    db: Records,
    caller: Caller,
    patient_exists: bool,
    patient_id: str,
    body: Any,
    *,
    rules: PolicyRules,
    now: float,
) -> tuple[dict[str, Any], str]:
    """Open break-glass access to ``patient_id`` for ``caller``; return (Parameters, grant id).

    ``db`` must be a write transaction; the grant is visible to access decisions once it
    commits. Raises Forbidden, Unauthorized (step-up), InvalidRequest or NotFound.
    """
    if caller.role not in rules.break_glass_roles or not caller.fhir_user:
        raise Forbidden("Your role cannot use break-glass.")
    if caller.auth_time is None or now - caller.auth_time > rules.max_auth_age:
        raise Unauthorized(
            "Break-glass needs a recent sign-in: sign in again and retry.",
            headers={
                "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
                'error_description="A more recent authentication is required", '
                f"max_age={rules.max_auth_age}"
            },
        )
    reason = _reason(body)
    if not patient_exists:
        raise NotFound(f"Patient/{patient_id} is not known.")
    grant_id = "bg-" + secrets.token_hex(16)
    started, expires = int(now), int(now) + rules.break_glass_seconds
    db.run(
        "INSERT INTO break_glass (id, user_id, user_ref, patient, reason, started_at,"
        " expires_at, review_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [grant_id, caller.subject, caller.fhir_user, patient_id, reason, started, expires, "open"],
    )
    until = instant(expires)
    message = (
        f"Break-glass access to this patient's record is open until {until}."
        " Everything you see is recorded, and a reviewer will ask why it was needed."
    )
    response = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "grant", "valueString": grant_id},
            {"name": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}},
            {"name": "expires", "valueInstant": until},
            {"name": "message", "valueString": message},
        ],
    }
    return response, grant_id


def _reason(body: Any) -> str:
    """The one ``reason`` parameter of a Parameters body, stripped (FHIR operations.html)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(
            "Send a Parameters resource with a reason parameter.", expression=("Parameters",)
        )
    params = body.get("parameter")
    items = params if isinstance(params, list) else []
    found = [p for p in items if isinstance(p, dict) and p.get("name") == "reason"]
    if len(found) > 1:
        raise InvalidRequest("Give one reason for break-glass access.", code="structure")
    value = found[0].get("valueString") if found else None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            "Give a reason for break-glass access.", code="required", expression=("Parameters",)
        )
    if len(value.strip()) > MAX_REASON:
        raise InvalidRequest(f"Keep the reason under {MAX_REASON} characters.", code="too-long")
    return value.strip()


def review_queue(
    db: Records, *, status: str | None = "open", limit: int = 100
) -> list[dict[str, Any]]:
    """Grants to review: open ones oldest first (a queue); closed or all newest first.

    ``status`` None means all. Reviewers see the reason and the patient: that is their job.
    """
    status = status or "all"
    if status not in STATUSES:
        raise InvalidRequest("status must be open, closed or all.")
    limit = max(1, min(int(limit), 1000))
    if status == "open":
        sql, args = " WHERE review_status = ? ORDER BY started_at, id", ["open"]
    elif status == "closed":
        sql, args = " WHERE review_status = ? ORDER BY started_at DESC, id", ["closed"]
    else:
        sql, args = " ORDER BY started_at DESC, id", []
    rows = db.rows(f"SELECT {_COLUMNS} FROM break_glass{sql} LIMIT ?", [*args, limit])
    return [_item(r) for r in rows]


def close(
    db: Records, grant_id: str, *, reviewer: str, outcome: str, note: str | None, now: float
) -> dict[str, Any]:
    """Record a review's outcome. Closing does not end the grant: its expiry does.

    Nobody reviews their own break-glass (``reviewer`` is the reviewer's fhirUser, or their
    user id when they have none). The update is conditional on the item still being open, so
    two reviewers racing to close the same item get one success and one Conflict.
    """
    if outcome not in OUTCOMES:
        raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}.")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidRequest(f"note must be text under {MAX_NOTE} characters.")
    found = db.one("SELECT user_ref, user_id FROM break_glass WHERE id = ?", [grant_id])
    if found is None:
        raise NotFound("No such break-glass grant.")
    if reviewer in (found[0], found[1]):
        raise Forbidden("You cannot review your own break-glass access.")
    changed = db.run(
        "UPDATE break_glass SET review_status = ?, review_outcome = ?, review_note = ?,"
        " reviewed_by = ?, reviewed_at = ? WHERE id = ? AND review_status = ?",
        ["closed", outcome, note or None, reviewer, int(now), grant_id, "open"],
    )
    if not changed:
        raise Conflict("This break-glass grant has already been reviewed.")
    row = db.one(f"SELECT {_COLUMNS} FROM break_glass WHERE id = ?", [grant_id])
    if row is None:  # cannot happen: the row was updated in this transaction
        raise NotFound("No such break-glass grant.")
    return _item(row)


def stats(db: Records, *, now: float, hours: int = 24) -> dict[str, Any]:
    """Counts for monitoring: grants started per user and per UTC hour, active, open reviews.

    The window is ``hours`` whole UTC hours ending with the current one; every hour is listed,
    zeros included, so a chart needs no gap filling. No patient ids, no reasons.
    """
    if not isinstance(hours, int) or not 1 <= hours <= MAX_STATS_HOURS:
        raise InvalidRequest(f"hours must be a whole number from 1 to {MAX_STATS_HOURS}.")
    current = int(now) - int(now) % 3600
    first = current - (hours - 1) * 3600
    rows = db.rows(
        "SELECT user_ref, started_at FROM break_glass WHERE started_at >= ? AND started_at <= ?",
        [first, int(now)],
    )
    per_user: dict[str, int] = {}
    per_hour = {first + 3600 * i: 0 for i in range(hours)}
    for user_ref, started in rows:
        per_user[str(user_ref)] = per_user.get(str(user_ref), 0) + 1
        bucket = int(started) - int(started) % 3600
        per_hour[bucket] = per_hour.get(bucket, 0) + 1
    active = db.one(
        "SELECT COUNT(*) FROM break_glass WHERE started_at <= ? AND expires_at > ?",
        [int(now), int(now)],
    )
    open_reviews = db.one("SELECT COUNT(*) FROM break_glass WHERE review_status = ?", ["open"])
    return {
        "from": instant(first),
        "to": instant(int(now)),
        "hours": hours,
        "total": len(rows),
        "per_user": [{"user": u, "count": per_user[u]} for u in sorted(per_user)],
        "per_hour": [{"hour": instant(h), "count": per_hour[h]} for h in sorted(per_hour)],
        "active": int(active[0]) if active else 0,
        "open_reviews": int(open_reviews[0]) if open_reviews else 0,
    }


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    (gid, user_id, user_ref, patient, reason, started, expires, status, outcome, note, by, at) = (
        row[:12]
    )
    device, received = row[12], row[13]
    return {
        "id": gid,
        "user": user_ref,
        "user_id": user_id,
        "patient": f"Patient/{patient}",
        "reason": reason,
        "started": instant(int(started)),
        "expires": instant(int(expires)),
        "status": status,
        "outcome": outcome,
        "note": note,
        "reviewed_by": by,
        "reviewed_at": instant(int(at)) if at is not None else None,
        # opened on a device while offline (bedside.policy.breakglass_offline): which, and
        # when its record reached the server; None for a grant opened online
        "offline_device": device,
        "received": instant(int(received)) if received is not None else None,
    }


def instant(seconds: float) -> str:
    """A FHIR instant in UTC to the second, e.g. 2025-01-31T14:00:00Z."""
    return datetime.fromtimestamp(int(seconds), UTC).isoformat().replace("+00:00", "Z")


def for_patient(db: Records, patient: str) -> list[tuple[str, int, int, str]]:
    """The break-glass grants on one patient's record, as (user_ref, started, expires, reason):
    the patient's portal shows them the reason they were given (docs/portal.md)."""
    rows = db.rows(
        "SELECT user_ref, started_at, expires_at, reason FROM break_glass WHERE patient = ?"
        " ORDER BY started_at DESC LIMIT 500",
        [patient],
    )
    return [(str(u), int(s), int(e), str(r)) for u, s, e, r in rows]
