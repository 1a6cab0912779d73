"""The background sender inside ``bedside serve``: change feed → events → rest-hook POSTs.

Every ``poll_seconds`` each server process walks the live Subscriptions and, for each one
whose lease it takes (:func:`bedside.subscriptions.records.take_lease`: one sender per
Subscription across ``--workers N``, a database row, not process memory):

1. reads the change feed after the Subscription's cursor **in commit-safe order**
   (:meth:`bedside.store.feed.FeedSql.writes_after`, below the horizon read first in the
   transaction, exactly as a device pull does: on PostgreSQL a row still in flight lies at or
   above the horizon and is read on a later round, never skipped);
2. numbers the rows the owner may see now (:func:`bedside.subscriptions.events.visible`) and
   stores the numbers with the feed position, then moves the cursor — in one transaction;
3. for a rest-hook: the handshake when the Subscription is ``requested``, else the events not
   yet acknowledged (access checked again, now), else a heartbeat when idle for its period.
   A failed POST marks it ``error`` and is retried with exponential backoff (at most
   :data:`MAX_BACKOFF` s); success makes it ``active`` again.

Websocket channels are served by the process holding the socket (:mod:`bedside.web.
subscriptions_ws`), which reads the numbered events from the database. Every send is audited;
logs name no resource, patient or endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Final

import httpx
import orjson
from starlette.concurrency import run_in_threadpool

from bedside.audit.entry import MINOR_FAILURE, SUCCESS, Auditor
from bedside.auth.caller import Caller
from bedside.policy.decide import Policy
from bedside.rest.trail import Trail
from bedside.store.base import Store
from bedside.store.feed import FeedSql
from bedside.subscriptions import records
from bedside.subscriptions.config import SubscriptionConfig
from bedside.subscriptions.events import Notice, notification, owner_access, visible
from bedside.subscriptions.records import Event, SubscriptionRow

__all__ = ["BATCH", "LEASE", "MAX_BACKOFF", "TIMEOUT", "Dispatcher", "audit_send"]

log = logging.getLogger("bedside.subscriptions")
BATCH: Final = 100
LEASE: Final = 30.0
MAX_BACKOFF: Final = 300.0
TIMEOUT: Final = 10.0


def audit_send(
    auditor: Auditor,
    policy: Policy,
    sub: SubscriptionRow,
    kind: str,
    notices: list[Notice],
    *,
    channel: str,
    ok: bool,
) -> None:
    """One audit entry per notification sent (or failed), as the owner's access."""
    trail = Trail(Caller.from_record(sub.caller), policy.clock)
    numbers = f" (events {notices[0].event.number}-{notices[-1].event.number})" if notices else ""
    trail.note(
        "operation",
        rtype=sub.spec.rtype,
        resources=[n.resource for n in notices],
        entities=[f"Subscription/{sub.id}"],
        outcome=SUCCESS if ok else MINOR_FAILURE,
        description=f"subscription {kind} {'sent' if ok else 'not delivered'} over {channel}"
        + numbers,
    )
    auditor.submit(trail.entries)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        policy: Policy,
        auditor: Auditor,
        base: str,
        config: SubscriptionConfig,
    ) -> None:
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.base = base.rstrip("/")
        self.config = config
        self.feed = FeedSql(store.dialect)
        self.holder = f"{os.getpid()}-{secrets.token_hex(6)}"

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged (without PHI) and retried."""
        try:
            while True:
                try:
                    await run_in_threadpool(self.round)
                except Exception as exc:
                    log.warning(
                        "subscription round failed", extra={"error_type": type(exc).__name__}
                    )
                await asyncio.sleep(self.config.poll_seconds)
        finally:
            with self.store.records(write=True) as db:
                records.release(db, self.holder)

    def round(self) -> None:
        with self.store.records() as db:
            ids = records.live(db)
        for sid in ids:
            now = self.policy.clock()
            with self.store.records(write=True) as db:
                if not records.take_lease(db, sid, self.holder, now, LEASE):
                    continue  # another process sends for it
            try:
                self.serve(sid)
            except Exception as exc:
                log.warning("subscription send failed", extra={"error_type": type(exc).__name__})

    def collect(self, sid: str) -> SubscriptionRow | None:
        """Number the new events of ``sid`` the owner may see; None when it has ended."""
        with self.store.read() as session:
            db = session.records()
            horizon = self.feed.horizon(db)  # first: this transaction's snapshot
            sub = records.get(db, sid)
            if sub is None:
                return None
            access = owner_access(self.store, session, self.policy, sub)
            if access is None:
                new: list[Event] | None = None
                cursor = sub.cursor
            else:
                rows = self.feed.writes_after(db, horizon, sub.cursor, sub.spec.rtype, BATCH)
                now = self.policy.clock()
                new, number = [], sub.events
                for r in rows:
                    event = Event(number + 1, r.seq, r.type, r.id, r.version, r.op, now)
                    if visible(session, access, sub.spec, event) is not None:
                        new.append(event)
                        number += 1
                cursor = (rows[-1].major, rows[-1].seq) if rows else sub.cursor
        with self.store.records(write=True) as db:
            if records.get(db, sid) is None:
                return None  # deleted meanwhile: number nothing for it
            if new is None:
                records.set_status(db, sid, "off")  # the grant it was made under has ended
                return None
            if new or cursor != sub.cursor:
                records.record_events(db, sid, new, cursor)
            return records.get(db, sid)

    def serve(self, sid: str) -> None:
        sub = self.collect(sid)
        if sub is None or sub.spec.channel != "rest-hook":
            return
        now = self.policy.clock()
        if sub.failures and now - sub.last_sent < min(2.0**sub.failures, MAX_BACKOFF):
            return  # back off after failures
        if sub.status == "requested":
            self._post(sub, "handshake", [])
            return
        if sub.delivered < sub.events:
            with self.store.read() as session:
                access = owner_access(self.store, session, self.policy, sub)
                if access is None:
                    return
                found = records.events(session.records(), sid, sub.delivered + 1, sub.events, BATCH)
                notices = [n for e in found if (n := visible(session, access, sub.spec, e))]
            last = found[-1].number if found else sub.events
            self._post(sub, "event-notification", notices, upto=last)
            return
        if sub.spec.heartbeat and now - sub.last_sent >= sub.spec.heartbeat:
            self._post(sub, "heartbeat", [])

    def _post(
        self, sub: SubscriptionRow, kind: str, notices: list[Notice], upto: int | None = None
    ) -> None:
        now = self.policy.clock()
        endpoint = sub.spec.endpoint or ""
        ok = False
        if self.config.allows(endpoint):  # checked again: the allow-list may have changed
            status = "active" if kind == "handshake" else sub.status
            if status == "error":
                status = "active"
            body = notification(self.base, sub, kind, notices, now=now, status=status)
            headers = {"Content-Type": "application/fhir+json"}
            for h in sub.spec.headers:
                name, _, value = h.partition(": ")
                headers[name] = value
            try:
                with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as c:
                    answer = c.post(endpoint, content=orjson.dumps(body), headers=headers)
                ok = 200 <= answer.status_code < 300
            except httpx.HTTPError:
                ok = False
        with self.store.records(write=True) as db:
            if ok:
                records.delivered(db, sub.id, upto if upto is not None else sub.delivered, now)
                if kind == "handshake":
                    records.set_status(db, sub.id, "active")
            else:
                records.failed(db, sub.id, now)
        audit_send(self.auditor, self.policy, sub, kind, notices, channel="rest-hook", ok=ok)
        if not ok:
            log.info("subscription notification not delivered", extra={"kind": kind})
