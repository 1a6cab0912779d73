"""Apply one page of a pull (docs/sync-protocol.md, "Pull") to the store, all or nothing.

A page holds changed resources, tombstones, purge orders, maybe a new policy snapshot, the
outcomes of review items, and the ``next`` cursor. Everything of a page lands in one local
transaction together with the cursor, so a device killed half way through asks for the same page
again and never skips one: the cursor cannot run ahead of the data it covers (G2), and a purge
the server ordered cannot be lost behind an advanced cursor (G5).

Local work wins over the server's copy until the server has answered for it: a tombstone or a
partial purge never deletes a resource whose own event is still unconfirmed (the server's
answer to that event decides, and a conflict goes to review, never silently, G4). A purge of a
whole patient follows :mod:`bedside.device.workingset`, which keeps the owed outbox events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device import receive as receiving
from bedside.device.errors import DeviceError
from bedside.device.lifecycle import store_snapshot
from bedside.device.outbox import UNCONFIRMED
from bedside.device.records import LocalRecords
from bedside.device.session import Session
from bedside.device.store import Connection
from bedside.device.workingset import ACCESS_ENDED, LEFT_WORKING_SET, purging

__all__ = ["Applied", "apply_page"]

#: Purge reasons that take the patient off the device (docs/device-offline.md); any other
#: reason the server gives drops data but keeps the patient in the working set.
_GONE: Final = (ACCESS_ENDED, LEFT_WORKING_SET)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one page did on the device: counts only (for the sync summary; no PHI)."""

    received: int
    held_back: int
    deleted: int
    purged_patients: int
    purged_resources: int
    reviews: int
    snapshot: bool


def apply_page(s: Session, page: Mapping[str, Any]) -> Applied:
    """Apply ``page`` and store its ``next`` cursor, in one transaction."""
    cursor = page.get("next")
    if not isinstance(cursor, str) or not cursor:
        raise DeviceError("The server's sync answer has no cursor; nothing was applied.")
    now = s.clock()
    snapshot = page.get("snapshot")
    with s.store.transaction(durable=False) as tx:
        if isinstance(snapshot, str) and snapshot:
            store_snapshot(s, snapshot, None, now)  # first: it decides the working set
        # purges before resources: a patient whose visible data changed is purged, then sent
        # again in the same page
        patients, resources = _purge(s, tx, _list(page.get("purge")), now)
        # review outcomes before resources: an event settled by review no longer holds back
        # the server's version (the kept one, written by the resolution) sent in this page
        reviews = sum(_review(s, tx, r, now) for r in _list(page.get("reviews")))
        deleted = sum(_delete(tx, d) for d in _list(page.get("deleted")))
        got = receiving.receive(s, _list(page.get("resources")))
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('sync_token', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (cursor,),
        )
    return Applied(
        received=got.stored,
        held_back=len(got.held_back),
        deleted=deleted,
        purged_patients=patients,
        purged_resources=resources,
        reviews=reviews,
        snapshot=isinstance(snapshot, str) and bool(snapshot),
    )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _unconfirmed(tx: Connection, rtype: str, rid: str) -> bool:
    marks = ",".join("?" * len(UNCONFIRMED))
    row = tx.execute(
        f"SELECT 1 FROM outbox WHERE type = ? AND resource_id = ? AND state IN ({marks}) LIMIT 1",
        (rtype, rid, *UNCONFIRMED),
    ).fetchone()
    return row is not None


def _drop(tx: Connection, rtype: str, rid: str) -> int:
    """Delete one resource and its search rows unless local work on it is unconfirmed."""
    if _unconfirmed(tx, rtype, rid):
        return 0
    return LocalRecords(tx).drop(rtype, rid)


def _delete(tx: Connection, tombstone: object) -> int:
    if not isinstance(tombstone, dict):
        return 0
    rtype, rid = tombstone.get("type"), tombstone.get("id")
    if not isinstance(rtype, str) or not isinstance(rid, str):
        return 0
    return _drop(tx, rtype, rid)


def _purge(s: Session, tx: Connection, orders: list[Any], now: float) -> tuple[int, int]:
    """Whole-patient orders through the working-set purge; partial ones type by type."""
    whole: dict[str, list[str]] = {}
    resources = 0
    for order in orders:
        if not isinstance(order, dict) or not isinstance(order.get("patient"), str):
            continue
        patient = order["patient"]
        types, labels = _list(order.get("types")), _list(order.get("labels"))
        reason = order.get("reason")
        if not types and not labels and reason in _GONE:
            whole.setdefault(str(reason), []).append(patient)
            continue
        # anything else (a narrowed consent, access-changed, resync): drop what is named and
        # keep the patient, whose still-visible data the server sends again
        resources += _purge_part(tx, patient, {str(t) for t in types}, {str(x) for x in labels})
    patients = 0
    if whole:
        with purging(tx, now, s.attachments.delete) as run:
            for reason, group in sorted(whole.items()):
                counts = run.purge(group, reason)
                patients += counts.patients
                resources += counts.resources
    return patients, resources


def _purge_part(tx: Connection, patient: str, types: set[str], labels: set[str]) -> int:
    """Drop the patient's resources of ``types`` (all types when empty) carrying any of
    ``labels`` (any resource when empty): what a narrowed consent no longer shares."""
    doomed = []
    for rtype, rid, body in LocalRecords(tx).bodies_of(patient):
        if types and rtype not in types:
            continue
        if labels and not labels & _labels(orjson.loads(body)):
            continue
        doomed.append((str(rtype), str(rid)))
    return sum(_drop(tx, rtype, rid) for rtype, rid in doomed)


def _labels(resource: dict[str, Any]) -> set[str]:
    meta = resource.get("meta")
    security = meta.get("security") if isinstance(meta, dict) else None
    return {
        f"{c.get('system', '')}|{c.get('code', '')}" for c in _list(security) if isinstance(c, dict)
    }


def _review(s: Session, tx: Connection, outcome: object, now: float) -> int:
    if not isinstance(outcome, dict) or not isinstance(outcome.get("seq"), int):
        return 0
    if outcome.get("state") not in ("confirmed", "rejected"):
        return 0  # still open on the server: nothing to change here
    return int(s.outbox.review_settled(tx, int(outcome["seq"]), outcome, now))
