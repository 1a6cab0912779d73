"""Break-glass opened on a device while offline, as it reaches the server (docs/policy.md).

``POST /sync/break-glass`` (:mod:`bedside.web.glass_api`) carries the grants a device opened
offline, before any other event of that sync: each its own local id, the patient, the typed
reason, when it started and ended by the device, and every view made under it. The access has
already happened, so the server never refuses the record: it is kept as a break-glass grant
awaiting governance review (:func:`bedside.policy.breakglass.review_queue`), with the device
that opened it and when it arrived, and each view becomes an AuditEvent with purposeOfUse
``BTG``. What the server does check: its length of life is capped at the policy's
``offline_minutes`` from its start (a device cannot grant itself more), a start in the future
is read as now, and the answer says when the grant reached the server late (past
``offline_sync_hours``) or when the policy does not allow offline break-glass for the role:
both are facts for the reviewer, and the device stops offering break-glass after either.

The local id makes the record idempotent: the same grant sent twice is one row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from bedside.auth.caller import Caller
from bedside.errors import InvalidRequest
from bedside.policy.breakglass import MAX_REASON
from bedside.policy.rules import PolicyRules
from bedside.protocol.event import parse_time
from bedside.store.base import Records

__all__ = ["MAX_GRANTS", "MAX_VIEWS", "OfflineGrant", "View", "grant_id", "parse_grants", "record"]

MAX_GRANTS: Final = 100
MAX_VIEWS: Final = 1000
_MAX_ID: Final = 64


@dataclass(frozen=True, slots=True)
class View:
    """One access the device logged under the grant (counts and types only)."""

    at: float
    type: str
    action: str
    count: int
    resource_id: str | None


@dataclass(frozen=True, slots=True)
class OfflineGrant:
    local_id: str
    patient: str
    reason: str
    started: float
    expires: float
    views: tuple[View, ...]


def _text(raw: dict[str, Any], key: str, limit: int) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"Each break-glass record needs {key} as text under {limit}.")
    return value.strip()


def _time(raw: dict[str, Any], key: str) -> float:
    value = raw.get(key)
    at = parse_time(value) if isinstance(value, str) else None
    if at is None:
        raise InvalidRequest(f"Each break-glass record needs {key} as a time.")
    return at


def _view(raw: Any) -> View:
    if not isinstance(raw, dict):
        raise InvalidRequest("Each break-glass view must be an object.")
    count = raw.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10**6:
        raise InvalidRequest("A break-glass view's count must be a whole number.")
    rid = raw.get("resource_id")
    return View(
        at=_time(raw, "at"),
        type=_text(raw, "type", _MAX_ID),
        action=_text(raw, "action", _MAX_ID),
        count=count,
        resource_id=rid if isinstance(rid, str) and 0 < len(rid) <= _MAX_ID else None,
    )


def parse_grants(body: Any) -> list[OfflineGrant]:
    """The body's ``grants``; InvalidRequest (400) for anything of the wrong shape."""
    items = body.get("grants") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_GRANTS:
        raise InvalidRequest(f"Send a list of at most {MAX_GRANTS} grants.")
    out: list[OfflineGrant] = []
    for raw in items:
        if not isinstance(raw, dict):
            raise InvalidRequest("Each break-glass record must be an object.")
        views = raw.get("views") or []
        if not isinstance(views, list) or len(views) > MAX_VIEWS:
            raise InvalidRequest(f"Send at most {MAX_VIEWS} views per break-glass record.")
        out.append(
            OfflineGrant(
                local_id=_text(raw, "id", _MAX_ID),
                patient=_text(raw, "patient", _MAX_ID),
                reason=_text(raw, "reason", MAX_REASON),
                started=_time(raw, "started"),
                expires=_time(raw, "expires"),
                views=tuple(map(_view, views)),
            )
        )
    return out


def grant_id(device_id: str, local_id: str) -> str:
    return "bg-" + hashlib.sha256(f"{device_id}\n{local_id}".encode()).hexdigest()[:32]


def record(
    db: Records,
    caller: Caller,
    device_id: str,
    grant: OfflineGrant,
    *,
    rules: PolicyRules,
    now: float,
) -> tuple[dict[str, Any], bool]:
    """Keep one offline grant for review (inside the caller's write transaction).

    Returns (the answer for the device, whether it is new: only a new one is audited).
    """
    gid = grant_id(device_id, grant.local_id)
    allowed = rules.break_glass_offline and caller.role in rules.break_glass_roles
    started = min(int(grant.started), int(now))
    expires = max(started, min(int(grant.expires), started + rules.break_glass_offline_seconds))
    late = int(now) - started > rules.break_glass_sync_seconds
    answer = {"id": grant.local_id, "grant": gid, "late": late, "allowed": allowed}
    if db.one("SELECT 1 FROM break_glass WHERE id = ?", [gid]) is not None:
        return {**answer, "state": "recorded"}, False
    db.run(
        "INSERT INTO break_glass (id, user_id, user_ref, patient, reason, started_at,"
        " expires_at, review_status, device_id, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            gid,
            caller.subject,
            caller.fhir_user or caller.subject,
            grant.patient,
            grant.reason,
            started,
            expires,
            "open",
            device_id,
            int(now),
        ],
    )
    return {**answer, "state": "recorded"}, True
