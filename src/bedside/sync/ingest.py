"""Ingest: each pushed event checked again and settled on its own (brief G2-G4).

The pipeline of docs/sync-protocol.md "Per event", in order, one step per method:

1. :func:`bedside.sync.push.authentic` — the event names the token's device and user, and
   its signature holds with the key the device registered (``bad-signature``,
   ``wrong-device``; audited as security events, never recorded).
2. :meth:`Ingest._replayed` — the replay record (:mod:`bedside.sync.replay`): the same event
   again gets its first result byte for byte; another event under a taken seq or key is
   ``seq-reused``.
3. ``read-only-type`` from the conflict class; :meth:`Ingest._dependency` resolves a
   ``pending:<seq>`` base (``deferred`` / ``depends-on-rejected``).
4. :meth:`Ingest._permit` — policy through the Repository's entry for writes on the caller's
   behalf (``Repository.on_behalf``: the device time, purpose and device), with this event's
   patient and purpose (``BTG`` only under a break-glass grant covering the time).
5. Clock discipline (:mod:`bedside.sync.clock`), then the conflict class
   (:mod:`bedside.policy.conflicts`): confirmed, merged, or a review item
   (:mod:`bedside.sync.review`).
6. The write, through the same Repository and so the API's own write path (validation,
   Provenance with the device time and purpose, audit, change feed), plus the replay record,
   under one savepoint: its own transaction on PostgreSQL, a group of events' transaction on
   SQLite (``_GROUP``; a result is only answered once its transaction committed). A write the
   API refuses is rolled back to a savepoint and the event is rejected with the API's sentence
   (``clinical-rule`` when a clinical rule, such as a NEWS2 total recomputed from the
   Observations it is derived from, does not hold; else ``invalid``); the rejection is recorded
   in the same transaction.

One event's failure never stops the next (G2): each is settled on its own, steps return values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, Auditor
from bedside.auth.caller import Caller
from bedside.errors import FhirError, Forbidden, StoreError
from bedside.fhir.dates import now_instant
from bedside.fleet import registry
from bedside.policy import conflicts
from bedside.policy.decide import Policy
from bedside.policy.guard import POLICY_INPUTS
from bedside.policy.model import AccessView
from bedside.policy.rules import READ_ONLY
from bedside.protocol import MAX_EVENTS
from bedside.protocol.event import Event, load_public_key
from bedside.protocol.push import Answer, Push
from bedside.protocol.results import CONFLICT, IMPLAUSIBLE_TIME, NEEDS_REVIEW, Result
from bedside.rest.interactions import load
from bedside.rest.on_behalf import OnBehalf
from bedside.rest.repository import Repository
from bedside.store.base import Session, Store, StoredVersion
from bedside.sync import clock, lineage, reach, replay, review
from bedside.sync.posture_check import Posture
from bedside.sync.push import authentic
from bedside.sync.results import Settled, refused_code, rejected

__all__ = ["Ingest", "Written"]

_SECURITY: Final = frozenset({"bad-signature", "wrong-device", "seq-reused"})
#: Events settled per transaction: a whole push. Each event still has its own savepoint, so one
#: refused write never fails the others (G2), and results are answered only after the commit.
#: On PostgreSQL every record lock the push needs is taken first, in sorted order
#: (:meth:`Ingest._lock_in_order`), so two pushes, or a push and API writes (one record lock
#: each, then the audit head, which a push also takes last), cannot deadlock.
_GROUP: Final = MAX_EVENTS
#: An event's result and the server version it left (None: no version, e.g. a review item).
Written = tuple[Result, int | None]


class _Raced(Exception):
    """Another server process settled this event first: run it again to find its result."""


class Ingest:
    """Settles one push of one device, for the caller its token names."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        auditor: Auditor,
        base: str,
        caller: Caller,
        device: registry.Device,
        *,
        network: str | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.rules = policy.rules.sync
        self.auditor = auditor
        self.caller = caller
        self.device = device
        self.key = load_public_key(device.public_key)
        self.repo = Repository(store, caller, base, policy=policy, auditor=auditor, network=network)
        self._view: AccessView | None = None
        self._posture = Posture(policy.rules.posture)  # graduated compliance at commit
        #: (result, reason) of each event settled so far: state and rejection or review code,
        #: ``("replayed", "")`` for an event answered from the replay record. PHI-free, for
        #: the metrics (the HTTP layer reads it after :meth:`run`).
        self.tally: Counter[tuple[str, str]] = Counter()

    def run(self, push: Push) -> Answer:
        now = self.policy.clock()
        skew = clock.skew_ms(push.device_time, now)
        assert skew is not None  # parse_push checked device_time
        # signatures first, outside any transaction (SQLite has one writer)
        checked = [(raw, self._checked(raw)) for raw in push.events]
        results: list[bytes] = []
        for start in range(0, max(len(checked), 1), _GROUP):
            group = checked[start : start + _GROUP]
            with self.store.write() as session:
                self._lock_in_order(session, [got for _, got in group if isinstance(got, Event)])
                self._view = None  # the caller's view, decided once in this transaction
                if start == 0:
                    clock.record_skew(session.records(), self.device.device_id, skew, now)
                results += [
                    got if isinstance(got, bytes) else self._one(session, got, raw, skew)
                    for raw, got in group
                ]
                # Provenance and audit of every event at once, last: the audit head is the
                # hottest lock, and one append of the batch holds it once, not per event
                self.repo.chain(session)
        return Answer(now_instant(), skew, results)

    def _lock_in_order(self, session: Session, events: list[Event]) -> None:
        """Every lock the events will take, in one sorted order (no-ops on SQLite)."""
        keys = {f"sync:{self.device.device_id}"}
        keys.update(f"res:{e.resource_type}/{e.resource_id}" for e in events)
        session.lock_all(sorted(keys))

    # --- one event -------------------------------------------------------------------------

    def _checked(self, raw: Any) -> Event | bytes:
        """The verified event, or the result of one refused before any transaction."""
        got = authentic(raw, self.device.device_id, self.caller.subject, self.key)
        if isinstance(got, Settled):
            self._audit_alone(got.result)
            self._count(got.result)
            return got.result.encode()
        return got

    def _one(self, session: Session, event: Event, raw: dict[str, Any], skew: int) -> bytes:
        """Settle one event under its own savepoint of the group's transaction."""
        db = session.records()
        for _ in range(3):
            mark = self.repo.mark()
            db.run("SAVEPOINT sync_one")
            try:
                result = self._settle(session, event, raw, skew)
            except _Raced:
                db.run("ROLLBACK TO SAVEPOINT sync_one")
                db.run("RELEASE SAVEPOINT sync_one")
                self.repo.discard(mark)
                continue
            db.run("RELEASE SAVEPOINT sync_one")
            return result
        raise StoreError("The event could not be settled: the database kept changing under it.")

    def _settle(self, session: Session, event: Event, raw: dict[str, Any], skew: int) -> bytes:
        db = session.records()
        session.lock(f"sync:{event.device}")
        repo = self.repo
        mark = repo.mark()  # what earlier events of the push noted stays
        agent = repo.on_behalf(
            occurred=event.device_time, purpose=event.purpose, device=event.device
        )
        earlier = self._replayed(session, agent, event, mark)
        if earlier is not None:
            return earlier
        outcome: Written | Settled | None = self._permit(session, agent, event, skew)
        if outcome is None:
            outcome = self._apply(session, agent, event, skew)
            if not isinstance(outcome, Settled) and event.resource_type in POLICY_INPUTS:
                self._view = None  # it may have changed what the caller may do: decide again
        if isinstance(outcome, Settled):
            repo.discard(mark)
            result, version = outcome.result, None
            self._note_rejection(agent, result, event)
            if not outcome.record:
                self._count(result)
                return result.encode()
        else:
            result, version = outcome
        if not replay.record(db, event, raw, result, received=now_instant(), version=version):
            raise _Raced()
        self._count(result)
        return result.encode()

    def _count(self, result: Result) -> None:
        self.tally[(result.state, result.code or "")] += 1

    def _replayed(
        self, session: Session, agent: OnBehalf, event: Event, mark: tuple[int, int]
    ) -> bytes | None:
        """The first result of this very event, or a seq-reused rejection, or None."""
        found = replay.find(session.records(), event.device, event.seq, event.idempotency_key)
        if not found:
            return None
        same = (event.seq, event.idempotency_key, replay.digest(event))
        for row in found:
            if (row.seq, row.idempotency_key, row.digest) == same:
                self.tally[("replayed", "")] += 1
                return row.result
        taken = "sequence number" if any(r.seq == event.seq for r in found) else "idempotency key"
        result = rejected(
            event.seq,
            event.idempotency_key,
            "seq-reused",
            f"This device already sent another event under this {taken}; this one was not applied.",
        )
        self.repo.discard(mark)
        self._note_rejection(agent, result, event)
        self._count(result)
        return result.encode()

    # --- policy ------------------------------------------------------------------------------

    def _permit(self, session: Session, agent: OnBehalf, event: Event, skew: int) -> Settled | None:
        """Bind the agent to the caller's view; what settles the event if policy refuses it."""
        db = session.records()
        seq, key = event.seq, event.idempotency_key
        device = registry.get(db, event.device)
        if device is None or device.status not in (registry.ACTIVE, registry.WIPE):
            # flagged for wipe: it drains first (docs/device-registry.md "Wipe"); revoked: no
            reason = "This device is no longer allowed to send changes."
            return Settled(rejected(seq, key, "not-permitted", reason), record=False)
        if (unsafe := self._posture.refusal(db, device, event)) is not None:
            return Settled(rejected(seq, key, "not-permitted", unsafe))
        if self.rules.conflict_class(event.resource_type) == READ_ONLY:
            rtype = event.resource_type
            reason = f"{rtype} records are kept on the server; a device cannot change them."
            return Settled(rejected(seq, key, "read-only-type", reason))
        if self._view is None:
            self._view = self.policy.view(db, self.caller)
        view = self._view
        if event.purpose == "BTG":
            view = reach.with_glass_at(db, self.caller, view, event, skew)
        agent.bind(session, view)
        try:
            agent.require(event.resource_type, "create" if event.action == "create" else "update")
            reach.require_reach(view, event)
        except Forbidden as exc:
            return Settled(rejected(seq, key, "not-permitted", exc.message))
        return None

    # --- conflict class and write ------------------------------------------------------------

    def _apply(
        self, session: Session, agent: OnBehalf, event: Event, skew: int
    ) -> Written | Settled:
        seq, key = event.seq, event.idempotency_key
        rtype, rid = event.resource_type, event.resource_id
        session.lock(f"res:{rtype}/{rid}")
        declared = lineage.declared_base(session.records(), event)
        if isinstance(declared, Settled):
            return declared
        current = session.current(rtype, rid, for_update=True)
        why = clock.implausible(
            event.device_time, skew, self.policy.clock(), self.device.registered_at
        )
        if why is not None:
            return self._review(session, agent, event, IMPLAUSIBLE_TIME, why, current, None), None
        if event.action == "create":
            return self._create(session, agent, event, current)
        if current is None:
            reason = "The record this change is for does not exist on the server."
            return Settled(rejected(seq, key, "invalid", reason))
        visible = agent.rows(rtype, "update")
        if visible is not None and session.current(rtype, rid, visible=visible) is None:
            reason = "You may not change this record now."
            return Settled(rejected(seq, key, "not-permitted", reason))
        if current.deleted:
            reason = "The record was deleted on the server after you last saw it."
            return self._review(session, agent, event, CONFLICT, reason, current, None), None
        base, based_on_current = lineage.base_of(session, event, declared, current)
        decision = conflicts.settle(
            self.rules,
            rtype,
            event.resource,
            base[0] if base else None,
            load(current),
            based_on_current=based_on_current,
        )
        if decision.state == NEEDS_REVIEW:
            item = (decision.reason, current, base, decision.fields)
            return self._review(session, agent, event, CONFLICT, *item), None
        if decision.state == conflicts.CURRENT:
            return self._done("confirmed", event, current), current.version
        assert decision.body is not None
        body = {**decision.body, "id": rid}
        return self._write(
            session,
            event,
            decision.state,
            lambda: agent.update(rtype, rid, body, if_match=f'W/"{current.version}"'),
        )

    def _create(
        self, session: Session, agent: OnBehalf, event: Event, current: StoredVersion | None
    ) -> Written | Settled:
        if current is not None:
            if not current.deleted and conflicts.same_content(load(current), event.resource):
                return self._done("confirmed", event, current), current.version
            reason = "This record's id is already taken on the server by another record."
            return Settled(rejected(event.seq, event.idempotency_key, "id-taken", reason))
        rtype, rid = event.resource_type, event.resource_id
        return self._write(
            session,
            event,
            "confirmed",
            lambda: agent.create(rtype, event.resource, new_id=rid),
        )

    def _write(
        self, session: Session, event: Event, state: str, write: Callable[[], StoredVersion]
    ) -> Written | Settled:
        """Run ``write`` (audited by the agent); a refusal by the API rolls the event back to
        its own savepoint (``sync_one``, :meth:`_one`: nothing before the write needs keeping,
        only reads and locks, which a rollback keeps) and rejects it, recorded under the same
        savepoint."""
        try:
            stored = write()
        except FhirError as exc:
            session.records().run("ROLLBACK TO SAVEPOINT sync_one")
            code = refused_code(exc)
            return Settled(rejected(event.seq, event.idempotency_key, code, exc.message))
        return self._done(state, event, stored), stored.version

    def _done(self, state: str, event: Event, stored: StoredVersion) -> Result:
        return Result(
            event.seq,
            event.idempotency_key,
            state,
            id=stored.id,
            version=str(stored.version),
            at=stored.last_updated,
        )

    # --- review and audit ----------------------------------------------------------------------

    def _review(
        self,
        session: Session,
        agent: OnBehalf,
        event: Event,
        code: str,
        reason: str,
        current: StoredVersion | None,
        base: tuple[dict[str, Any], int] | None,
        fields: tuple[str, ...] = (),
    ) -> Result:
        live = load(current) if current is not None and not current.deleted else None
        item = review.open_item(
            session.records(),
            event,
            code=code,
            reason=reason,
            role=self.rules.review_role(event.resource_type),
            server=current,
            base=base,
            fields=fields or conflicts.differing(event.resource, live),
            now=self.policy.clock(),
        )
        agent.note(
            "sync-review",
            rtype=event.resource_type,
            patients=reach.patients(event),
            entities=[f"{event.resource_type}/{event.resource_id}"],
            description=f"sent to review: {code}",
        )
        return Result(
            event.seq, event.idempotency_key, NEEDS_REVIEW, review=item, code=code, reason=reason
        )

    def _note_rejection(self, agent: OnBehalf, result: Result, event: Event | None) -> None:
        if result.state != "rejected":
            return
        agent.note(
            "sync-reject",
            rtype=event.resource_type if event else None,
            patients=reach.patients(event) if event else (),
            entities=[f"{event.resource_type}/{event.resource_id}"] if event else (),
            outcome=SERIOUS_FAILURE if result.code in _SECURITY else MINOR_FAILURE,
            description=f"rejected: {result.code}",
        )

    def _audit_alone(self, result: Result) -> None:
        """Audit a rejection decided before any transaction (its content is not trusted)."""
        agent = self.repo.on_behalf(occurred=None, purpose=None)
        self.repo.discard()
        self._note_rejection(agent, result, None)
        agent.submit()
