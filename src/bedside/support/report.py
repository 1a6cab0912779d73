"""What ``bedside support device|user`` shows: the state of one device or one user, built from
the server's own records, PHI-free unless a reason is given.

For a **device**: its registry entry, its last health report (docs/sync-protocol.md
"Telemetry"), its last push, the lifecycle of its latest events on the server's side (received,
then applied, sent to review and resolved, or rejected with a code) by ``seq`` and idempotency
key, its review items, and the grants (token families) bound to it. For a **user**: the account,
every grant with its state (live, expired, revoked and why; refresh tokens live and spent), and
their devices. The states before "received" (created, queued, sent) live on the device: its
``bedside device status`` and outbox show them.

By default nothing names a patient or a record: resource types, states, codes, counts and
times only. ``reveal`` (the CLI's ``--reason``, which is audited with the patients shown) adds
the patient and record ids. Secrets never appear: no token, no escrow key, no grant scope
beyond its text.
"""

from __future__ import annotations

import time
from typing import Any, Final

from bedside.auth.grants import Grants
from bedside.auth.users import Users
from bedside.errors import NotFound
from bedside.fleet import registry, telemetry
from bedside.policy.breakglass import instant
from bedside.store.base import Store
from bedside.sync import clock, replay, review

__all__ = ["device_report", "user_report"]

_EVENTS: Final = 50


def _lifecycle(state: str, code: str, item: review.ReviewItem | None) -> list[str]:
    """The server's side of an event's life, in words."""
    steps = ["received"]
    if state in ("confirmed", "merged"):
        steps.append("applied" if state == "confirmed" else "applied (merged)")
    elif state == "rejected":
        steps.append(f"rejected ({code})")
    elif state == "needs-review":
        steps.append(f"sent to review ({code})")
        if item is not None and item.state == review.RESOLVED:
            kept = item.resolution or "?"
            done = "applied" if item.outcome == "confirmed" else "not applied (reversed)"
            steps.append(f"resolved: kept {kept}, {done}")
    return steps


def device_report(
    store: Store, device_id: str, *, reveal: bool = False, now: float | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The device's report, and the patients it names (empty unless ``reveal``)."""
    now = time.time() if now is None else now
    with store.records() as db:
        device = registry.get(db, device_id)
        if device is None:
            raise NotFound(f"No device {device_id} is registered.")
        health = telemetry.latest(db, device_id)
        pushed = clock.last_measured(db, device_id)
        events = replay.history(db, device_id, _EVENTS)
        items = review.of_device(db, device_id, _EVENTS)
    by_seq = {i.seq: i for i in items}
    patients: set[str] = set()
    lifecycle = []
    for seq, key, rtype, state, code, received in events:
        row: dict[str, Any] = {
            "seq": seq,
            "idempotency_key": key,
            "type": rtype,
            "received": received,
            "lifecycle": _lifecycle(state, code, by_seq.get(seq)),
        }
        lifecycle.append(row)
    reviews = []
    for item in items:
        shown: dict[str, Any] = {
            "id": item.id,
            "seq": item.seq,
            "type": item.resource_type,
            "code": item.code,
            "state": item.state,
            "role": item.route_role,
            "fields": item.fields,
            "created": instant(item.created_at),
            "age_s": max(0, int(now - item.created_at)),
        }
        if item.state == review.RESOLVED:
            shown["resolution"] = {"kept": item.resolution, "outcome": item.outcome}
        if reveal:
            own = item.resource_id if item.resource_type == "Patient" else None
            shown["resource"] = f"{item.resource_type}/{item.resource_id}"
            shown["patient"] = item.patient or own
            if shown["patient"]:
                patients.add(shown["patient"])
        reviews.append(shown)
    grants = [
        _grant_row(g, why, live, spent, now)
        for g, why, live, spent in Grants(store).states_of(device.user_id)
        if g.device == device_id
    ]
    summary = device.summary()
    summary.pop("public_key", None)
    report = {
        "device": summary,
        "telemetry": None
        if health is None
        else {
            **health.to_json(),
            "reported_at": instant(health.reported_at),
            "reported_age_s": max(0, int(now - health.reported_at)),
        },
        "last_push": None if pushed is None else {"at": instant(pushed[1]), "skew_ms": pushed[0]},
        "events": lifecycle,
        "review_items": reviews,
        "grants": grants,
    }
    return report, patients


def _grant_row(g: Any, why: str | None, live: int, spent: int, now: float) -> dict[str, Any]:
    if g.revoked_at is not None:
        state = f"revoked ({why or 'no reason recorded'})"
    elif g.expires_at <= now:
        state = "expired"
    else:
        state = "live"
    return {
        "grant": g.id[:8],  # enough to tell grants apart, not to use one
        "client": g.client_id,
        "device": g.device,
        "state": state,
        "created": instant(g.created_at),
        "expires": instant(g.expires_at),
        "refresh_tokens": {"live": live, "spent": spent},
    }


def user_report(
    store: Store, username: str, *, reveal: bool = False, now: float | None = None
) -> tuple[dict[str, Any], set[str]]:
    """The user's report, and the patients it names (a patient user's own record, when
    ``reveal``)."""
    now = time.time() if now is None else now
    user = Users(store).by_username(username)
    if user is None:
        raise NotFound(f"No user {username} exists.")
    with store.records() as db:
        devices = registry.listing(db, user_id=user.id)
        reports = {d["device_id"]: telemetry.latest(db, d["device_id"]) for d in devices}
    grants = [_grant_row(*row, now) for row in Grants(store).states_of(user.id)]
    account: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
    }
    patients: set[str] = set()
    if user.role == "patient":  # a patient's own account is patient-identifying detail
        if reveal:
            account["fhir_user"] = user.fhir_user
            if user.patient_id:
                patients.add(user.patient_id)
    else:
        account["fhir_user"] = user.fhir_user
    listed = []
    for d in devices:
        health = reports.get(d["device_id"])
        listed.append(
            {
                "device_id": d["device_id"],
                "status": d["status"],
                "app_version": d["app_version"],
                "unsent": None if health is None else health.unsent,
                "reported_at": None if health is None else instant(health.reported_at),
            }
        )
    return {"user": account, "grants": grants, "devices": listed}, patients
