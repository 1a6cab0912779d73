"""What a device's change was made on: its declared base, and its own earlier edits.

An update or correct names the server version the device saw (``base_version``), or
``pending:<seq>`` when the record was created on the device and the create had not been
confirmed yet. Two questions follow, answered here for :mod:`bedside.sync.ingest`:

* :func:`declared_base` — which server version that is (the create's, once the server applied
  it), or that the event must wait (``deferred``) or fail (``depends-on-rejected``);
* :func:`base_of` — the content the change was really made on. A device that edits a record
  twice offline declares the same base for both edits, but the second is made on top of the
  first; once the server applied the first, the base of the second is what the device sent in
  it, so its own earlier edit is not mistaken for someone else's.
"""

from __future__ import annotations

from typing import Any

from bedside.numerals import is_number
from bedside.protocol.event import Event
from bedside.protocol.results import CONFIRMED, DEFERRED, MERGED, NEEDS_REVIEW, Result
from bedside.rest.interactions import load
from bedside.store.base import Records, Session, StoredVersion
from bedside.sync import replay, review
from bedside.sync.results import Settled
from bedside.sync.results import rejected as rejection

__all__ = ["base_of", "declared_base"]


def declared_base(db: Records, event: Event) -> int | Settled | None:
    """The server version an update or correct was declared to be based on (None: a create).

    ``pending:<seq>`` names this device's create of the record: its version once the server
    applied it; ``deferred`` while it is unknown or waits in review; ``depends-on-rejected``
    when it was not accepted: a :class:`~bedside.sync.results.Settled` for those.
    """
    seq, key, base = event.seq, event.idempotency_key, event.base_version
    if base is None:
        return None
    if not base.startswith("pending:"):
        if not is_number(base):
            reason = "base_version must be a server version or pending:<seq>."
            return Settled(rejection(seq, key, "invalid", reason))
        return int(base)
    wanted = base.removeprefix("pending:")
    if not is_number(wanted):
        return Settled(rejection(seq, key, "invalid", "base_version pending:<seq> needs a seq."))
    dep = replay.of_seq(db, event.device, int(wanted))
    waits = Result(
        seq, key, DEFERRED, reason="This change waits for the record it changes to be accepted."
    )
    if dep is None:
        return Settled(waits, record=False)
    if (dep.resource_type, dep.resource_id) != (event.resource_type, event.resource_id):
        reason = "This change names the creation of another record as its base."
        return Settled(rejection(seq, key, "invalid", reason))
    if dep.state in (CONFIRMED, MERGED) and dep.version is not None:
        return dep.version
    if dep.state == NEEDS_REVIEW:
        item = review.of_event(db, event.device, dep.seq)
        if item is None or item.state == review.OPEN:
            return Settled(waits, record=False)
        if item.outcome == CONFIRMED and item.outcome_version is not None:
            return item.outcome_version
    reason = "The record this change is for was not accepted by the server."
    return Settled(rejection(seq, key, "depends-on-rejected", reason))


def base_of(
    session: Session, event: Event, declared: int | None, current: StoredVersion
) -> tuple[tuple[dict[str, Any], int] | None, bool]:
    """The (content, version) the device's change was made on (None when the server no longer
    has it), and whether the change may be written as it is: nobody else changed the record
    since the device saw it."""
    rtype, rid = event.resource_type, event.resource_id
    prior = replay.latest_accepted(session.records(), event.device, rtype, rid, event.seq)
    applied = prior.version if prior is not None else None
    if prior is not None and applied is not None and (declared is None or applied >= declared):
        # merged: the server holds more than the device sent, so a merge must keep that
        on_current = prior.state == CONFIRMED and applied == current.version
        return (prior.resource, applied), on_current
    if declared is None:
        return None, False
    if declared == current.version:
        return (load(current), declared), True
    old = session.version(rtype, rid, declared)
    if old is None or old.deleted:
        return None, False
    return (load(old), declared), False
