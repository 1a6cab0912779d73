"""The review queue: device changes a person must settle (table ``sync_reviews``, brief G4).

An item is opened by ingest (:mod:`bedside.sync.ingest`) when a change conflicts with the
server's version or its device time cannot be trusted. It keeps the device's value, the
server's value and the base value, the top-level elements that differ, and the role whose
queue it is routed to (``[sync.review] roles`` in the policy file: orders to doctors, tasks to
nurses). Items persist until resolved (:mod:`bedside.sync.resolution`); the device learns the
outcome at its next pull. Listings go oldest first, in pages joined by an opaque cursor
(:func:`listing_page`), so every item can be listed.

**Outcomes for the device.** Resolving an item gives it the next number of its device's
outcome sequence (``outcome_seq``, :func:`mark_resolved`), taken under a per-device lock that
is held until the resolution commits: per device, numbers commit in order, so a pull that has
delivered every outcome up to number *n* (its cursor) finds every later one above *n*
(:func:`outcomes`). The device learns ``confirmed`` with the version written (kept device or
merged) or ``rejected`` with a plain reason (kept server: nothing was written, the item records
the version kept) (:meth:`ReviewItem.outcome_message`).

Who sees what is :mod:`bedside.sync.review_access`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.errors import InvalidRequest
from bedside.policy.breakglass import instant
from bedside.protocol.event import Event
from bedside.rest.paging import Cursor
from bedside.store.base import Records, Session, StoredVersion

__all__ = [
    "KEPT_SERVER",
    "NOT_ACCEPTED",
    "OPEN",
    "PAGE",
    "RESOLVED",
    "ReviewItem",
    "get",
    "listing",
    "listing_page",
    "mark_resolved",
    "of_device",
    "of_event",
    "open_counts",
    "open_item",
    "outcomes",
]

PAGE: Final = 200  # items per page of a listing, unless asked otherwise
OPEN: Final = "open"
RESOLVED: Final = "resolved"
_COLUMNS: Final = (
    "id, device, seq, code, reason, action, resource_type, resource_id, patient, device_value,"
    " server_value, server_version, base_value, base_version, fields, route_role, device_time,"
    " state, resolution, outcome, outcome_version, resolved_by, created_at, resolved_at,"
    " outcome_seq"
)
#: What a device is told when a reviewer kept the server's side (no PHI: the reviewer, the
#: record and the values are not named).
KEPT_SERVER: Final = "A reviewer kept the server's version: your change was not applied."
NOT_ACCEPTED: Final = "A reviewer did not accept this change: it was not applied."


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: str
    device: str
    seq: int
    code: str  # conflict or implausible-time
    reason: str
    action: str
    resource_type: str
    resource_id: str
    patient: str | None
    device_value: dict[str, Any]
    server_value: dict[str, Any] | None
    server_version: int | None
    base_value: dict[str, Any] | None
    base_version: int | None
    fields: list[str]
    route_role: str
    device_time: str
    state: str
    resolution: str | None
    outcome: str | None
    outcome_version: int | None  # the version written (device, merged) or kept (server)
    resolved_by: str | None
    created_at: int
    resolved_at: int | None
    outcome_seq: int | None = None  # the device's outcome number, set at resolution

    def summary(self) -> dict[str, Any]:
        """What governance sees: the item without any clinical value."""
        out: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "code": self.code,
            "reason": self.reason,
            "device": self.device,
            "seq": self.seq,
            "action": self.action,
            "type": self.resource_type,
            "resource": f"{self.resource_type}/{self.resource_id}",
            "patient": self.patient,
            "role": self.route_role,
            "fields": self.fields,
            "device_time": self.device_time,
            "created": instant(self.created_at),
            "server_version": _text(self.server_version),
            "base_version": _text(self.base_version),
        }
        if self.state == RESOLVED:
            out["resolution"] = {
                "keep": self.resolution,
                "outcome": self.outcome,
                "version": _text(self.outcome_version),
                "by": self.resolved_by,
                "at": instant(self.resolved_at or 0),
            }
        return out

    def outcome_message(self) -> dict[str, Any]:
        """The outcome as pull's ``reviews`` carries it to the device (resolved items only)."""
        out: dict[str, Any] = {"review": self.id, "seq": self.seq, "state": self.outcome}
        if self.outcome == "confirmed":
            out["version"] = _text(self.outcome_version)
        else:
            out["reason"] = KEPT_SERVER if self.outcome_version is not None else NOT_ACCEPTED
        return out

    def detail(self) -> dict[str, Any]:
        """Everything a reviewer needs: the three values besides the summary."""
        return {
            **self.summary(),
            "device_value": self.device_value,
            "server_value": self.server_value,
            "base_value": self.base_value,
        }


def _text(version: int | None) -> str | None:
    return None if version is None else str(version)


def _json(value: Any) -> Any:
    return None if value is None else orjson.loads(bytes(value))


def _item(row: tuple[Any, ...]) -> ReviewItem:
    (rid, device, seq, code, reason, action, rtype, res_id, patient, dev, srv, srv_v, base) = row[
        :13
    ]
    (base_v, fields, role, dtime, state, resolution, outcome, out_v, by, created, resolved) = row[
        13:24
    ]
    number = row[24]
    return ReviewItem(
        id=str(rid),
        device=str(device),
        seq=int(seq),
        code=str(code),
        reason=str(reason),
        action=str(action),
        resource_type=str(rtype),
        resource_id=str(res_id),
        patient=patient,
        device_value=_json(dev),
        server_value=_json(srv),
        server_version=None if srv_v is None else int(srv_v),
        base_value=_json(base),
        base_version=None if base_v is None else int(base_v),
        fields=list(orjson.loads(fields)),
        route_role=str(role),
        device_time=str(dtime),
        state=str(state),
        resolution=resolution,
        outcome=outcome,
        outcome_version=None if out_v is None else int(out_v),
        resolved_by=by,
        created_at=int(created),
        resolved_at=None if resolved is None else int(resolved),
        outcome_seq=None if number is None else int(number),
    )


def open_item(
    db: Records,
    event: Event,
    *,
    code: str,
    reason: str,
    role: str,
    server: StoredVersion | None,
    base: tuple[dict[str, Any], int] | None,
    fields: tuple[str, ...],
    now: float,
) -> str:
    """Put ``event`` in the queue of ``role``; the new item's id (``r-`` and 16 random hex)."""
    item_id = f"r-{secrets.token_hex(8)}"
    server_value = server.content if server is not None and not server.deleted else None
    db.run(
        f"INSERT INTO sync_reviews ({_COLUMNS}) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, NULL,"
        " NULL)",
        [
            item_id,
            event.device,
            event.seq,
            code,
            reason,
            event.action,
            event.resource_type,
            event.resource_id,
            event.patient.removeprefix("Patient/") if event.patient else None,
            orjson.dumps(event.resource),
            server_value,
            server.version if server is not None else None,
            orjson.dumps(base[0]) if base is not None else None,
            base[1] if base is not None else None,
            orjson.dumps(list(fields)).decode(),
            role,
            event.device_time,
            OPEN,
            int(now),
        ],
    )
    return item_id


def get(db: Records, item_id: str) -> ReviewItem | None:
    row = db.one(f"SELECT {_COLUMNS} FROM sync_reviews WHERE id = ?", [item_id])
    return _item(row) if row else None


def of_event(db: Records, device: str, seq: int) -> ReviewItem | None:
    row = db.one(f"SELECT {_COLUMNS} FROM sync_reviews WHERE device = ? AND seq = ?", [device, seq])
    return _item(row) if row else None


def of_device(db: Records, device: str, limit: int = 50) -> list[ReviewItem]:
    """A device's review items, newest first."""
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM sync_reviews WHERE device = ? ORDER BY created_at DESC LIMIT ?",
        [device, limit],
    )
    return [_item(r) for r in rows]


def listing(
    db: Records,
    *,
    role: str | None = None,
    state: str | None = OPEN,
    after: tuple[int, str] | None = None,
    limit: int = PAGE,
) -> list[ReviewItem]:
    """Items oldest first (``created_at``, then id), of one role's queue (None: every queue)
    and state (None: any), after the position ``after`` if given, at most ``limit``."""
    where: list[str] = []
    args: list[object] = []
    if role is not None:
        where.append("route_role = ?")
        args.append(role)
    if state is not None:
        where.append("state = ?")
        args.append(state)
    if after is not None:
        where.append("(created_at > ? OR (created_at = ? AND id > ?))")
        args.extend([after[0], after[0], after[1]])
    sql = f"SELECT {_COLUMNS} FROM sync_reviews"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.rows(f"{sql} ORDER BY created_at, id LIMIT ?", [*args, limit])
    return [_item(r) for r in rows]


def listing_page(
    db: Records, *, role: str | None, state: str | None, cursor: str | None, count: int = PAGE
) -> tuple[list[ReviewItem], str | None]:
    """One page of :func:`listing` from ``cursor`` (None: the start), and the cursor of the
    next page (None: this is the last). A cursor is opaque (:class:`bedside.rest.paging.Cursor`):
    the position of the page's last item, so items opened meanwhile are neither repeated nor
    skipped; a forged one is InvalidRequest (400)."""
    count = max(count, 1)
    after = _position(cursor) if cursor is not None else None
    items = listing(db, role=role, state=state, after=after, limit=count + 1)
    if len(items) <= count:
        return items, None
    items = items[:count]
    return items, Cursor(0, (items[-1].created_at, items[-1].id)).encode()


def open_counts(db: Records) -> list[tuple[str, str, int, int]]:
    """Open items by (resource type, code): how many, and when the oldest was opened (UNIX
    seconds). For the metrics: counts and ages only, nothing about a patient."""
    rows = db.rows(
        "SELECT resource_type, code, COUNT(*), MIN(created_at) FROM sync_reviews"
        " WHERE state = ? GROUP BY resource_type, code",
        [OPEN],
    )
    return [(str(t), str(c), int(n), int(oldest)) for t, c, n, oldest in rows]


def _position(cursor: str) -> tuple[int, str]:
    """The (created_at, id) a listing cursor holds; InvalidRequest for anything else."""
    try:
        after = Cursor.decode(cursor).after or ()
    except InvalidRequest:
        after = ()
    if len(after) == 2 and type(after[0]) is int and isinstance(after[1], str):
        return after[0], after[1]
    raise InvalidRequest("The review listing cursor is not valid; list again from the start.")


def mark_resolved(
    session: Session,
    item: ReviewItem,
    *,
    keep: str,
    outcome: str,
    version: int | None,
    by: str,
    now: float,
) -> None:
    """Record the resolution and give it the next number of the device's outcome sequence.

    The number is taken under the lock ``outcomes:<device>``, which is held until this
    transaction ends, and read after the lock is granted (a write transaction reads what is
    committed at each statement on PostgreSQL; SQLite has one writer): so the device's numbers
    commit in increasing order and a pull can never see number *n* + 1 without *n*. A
    ``(device, outcome_seq)`` unique index is the backstop.
    """
    session.lock(f"outcomes:{item.device}")
    db = session.records()
    row = db.one(
        "SELECT COALESCE(MAX(outcome_seq), 0) + 1 FROM sync_reviews WHERE device = ?",
        [item.device],
    )
    assert row is not None
    db.run(
        "UPDATE sync_reviews SET state = ?, resolution = ?, outcome = ?, outcome_version = ?,"
        " resolved_by = ?, resolved_at = ?, outcome_seq = ? WHERE id = ?",
        [RESOLVED, keep, outcome, version, by, int(now), int(row[0]), item.id],
    )


def outcomes(db: Records, device: str, after: int, limit: int) -> list[ReviewItem]:
    """The device's resolved items numbered above ``after``, in number order, at most ``limit``."""
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM sync_reviews WHERE device = ? AND outcome_seq > ?"
        " ORDER BY outcome_seq LIMIT ?",
        [device, after, limit],
    )
    return [_item(r) for r in rows]
