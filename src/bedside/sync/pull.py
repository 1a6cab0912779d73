"""One page of ``GET /sync/pull`` (docs/sync-protocol.md "Pull", docs/sync-pull.md).

A device's copy of its working set advances in *rounds*. A round starts when the token has
none in progress: the server fixes a new horizon ``hi`` and will deliver every change-feed
position in ``[base, hi)``; it ends when that is done, and the next token's base is ``hi``.
Each page, in one read transaction:

1. **Decide access now**: the caller's :class:`~bedside.policy.model.AccessView` and
   :class:`~bedside.rest.access.Access` (the same as a search's), the device's pins, the
   working set with each patient's access fingerprint (:mod:`bedside.sync.members`).
2. **Purge** every member who left the working set (``left-working-set`` when the user still
   reaches them, else ``access-ended``) or whose fingerprint changed (``access-changed``: the
   device drops them and they come back whole at the next round).
3. At a round's start: ``access_changes`` rows in the window for held patients, naming this
   user or everyone, become purge entries with their kind, types and labels, and those patients
   are sent again (``e``); patients new to the working set are marked ``e`` too; the progress
   total is counted.
4. **Backfill** (phase 1): the current state of the ``e`` patients' compartments, by rid.
5. **Delta** (phase 2): change-feed rows in the window for the held (``b``) patients, in
   ``(major, seq)`` order: the version each row wrote, or a tombstone for a delete or for a
   write that took a resource the device could hold out of the caller's view.
6. The policy snapshot, signed, when its claims (less ``iat``/``nbf``/``exp``/``jti``) differ
   from the digest the token recorded.
7. **Review outcomes**: the device's resolved review items numbered above the token's outcome
   cursor (:func:`bedside.sync.review.outcomes`), at most ``limit`` per page. They ride beside
   the rounds: the cursor moves on every page, whatever the phase. An outcome that kept the
   server's version brings that record as the server holds it (:mod:`bedside.sync.kept`).

Every resource passes the caller's Access for ``search`` confined to the patients it is sent
for (:func:`bedside.fhir.search.confine.confine`), in SQL; a tombstone passes the same visibility on
the resource's last version (:func:`bedside.fhir.search.confine.admits`). So whatever a token says,
nothing leaves that a search by this user would not return.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys
from bedside.fhir.compartment import patients_of
from bedside.fhir.search.confine import admits, confine
from bedside.fleet import registry
from bedside.policy.decide import Policy
from bedside.policy.model import AccessView
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.protocol.pull import Page
from bedside.protocol.snapshot import VOLATILE
from bedside.rest.access import Access
from bedside.store.base import Session, Store
from bedside.store.feed import Candidate, FeedRow, FeedSql
from bedside.sync import members as ws
from bedside.sync import review
from bedside.sync.kept import add_kept
from bedside.sync.pull_token import BACKFILL, DELTA, PullToken, Round, decode, encode

__all__ = [
    "ACCESS_CHANGED",
    "ACCESS_ENDED",
    "LEFT_WORKING_SET",
    "RESYNC",
    "PullPage",
    "Puller",
    "claims_digest",
]

LEFT_WORKING_SET: Final = "left-working-set"
ACCESS_ENDED: Final = "access-ended"
ACCESS_CHANGED: Final = "access-changed"
RESYNC: Final = "resync"
_SEARCH: Final = "search"


def claims_digest(claims: dict[str, Any]) -> str:
    """A digest of a snapshot's claims less those that change at every signing."""
    kept = {k: v for k, v in claims.items() if k not in VOLATILE}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass
class PullPage(Page):
    """One answer: the wire page (``body()``), and what the audit entry needs."""

    #: the current versions sent to patients entering the working set (a first sync is all
    #: backfill), as stored: spliced into the body unparsed; before ``resources`` on the wire
    backfill: list[orjson.Fragment] = field(default_factory=list)
    #: patient -> how many of ``backfill`` are in their compartment (one audit entry each)
    backfill_patients: dict[str, int] = field(default_factory=dict)
    view: AccessView | None = None
    tombstone_patients: set[str] = field(default_factory=set)

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["resources"] = [*self.backfill, *self.resources]
        return out


@dataclass
class _State:
    """What one page works with, read in its transaction."""

    token: PullToken
    view: AccessView
    access: Access
    members: ws.Members
    purge: list[dict[str, Any]]
    round: Round

    def patients(self, state: str) -> set[str]:
        return {p for p, (_, s) in self.members.items() if s == state}


class Puller:
    """Serves pages of the pull for verified callers; built once by the web layer."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        keys: Callable[[], SigningKeys],
        issuer: str,
    ) -> None:
        self.store = store
        self.policy = policy
        self.keys = keys
        self.issuer = issuer
        self.feed = FeedSql(store.dialect)

    def page(self, caller: Caller, device: str, since: str | None, limit: int) -> PullPage:
        """One page for ``caller``'s registered, active ``device`` (checked by the caller)."""
        keys = self.keys()
        token = (
            decode(since, keys, device=device, subject=caller.subject)
            if since
            else PullToken(device, caller.subject)
        )
        with self.store.read() as session:
            db = session.records()
            horizon = self.feed.horizon(db)  # first: on PostgreSQL, this transaction's snapshot
            view = self.policy.view(db, caller)
            pins = registry.pins(db, device, caller.subject)
            st = self._state(session, caller, token, view, pins, horizon)
            page = self._serve(session, st, limit)
            found = review.outcomes(db, device, token.reviews, limit + 1)
            add_kept(session, st.access, found[:limit], set(st.members), page)
            claims = snapshot(
                view, caller, issuer=self.issuer, rules=self.policy.rules, now=view.now, pins=pins
            )
        sent = claims_digest(claims)
        if sent != token.snapshot:
            page.snapshot = sign_snapshot(claims, keys)
        key = ws.save(self.store, device, st.members, self.policy.clock())
        rnd: Round | None = st.round
        base = token.base
        if not page.more:  # the round is complete: its horizon is the next base
            base, rnd = st.round.horizon, None
        outcomes = found[:limit]
        page.reviews = [item.outcome_message() for item in outcomes]
        cursor = token.reviews
        if outcomes:
            last = outcomes[-1].outcome_seq
            assert last is not None  # outcomes() reads numbered items only
            cursor = last
        page.more = page.more or len(found) > limit  # more outcomes wait: ask again
        page.next = encode(
            PullToken(device, caller.subject, base, key, sent, rnd, reviews=cursor), keys
        )
        page.purge = st.purge
        page.view = view
        return page

    # --- the state of this page ------------------------------------------------------------

    def _state(
        self,
        session: Session,
        caller: Caller,
        token: PullToken,
        view: AccessView,
        pins: Iterable[str],
        horizon: int,
    ) -> _State:
        db = session.records()
        now_ws = ws.working_set(view, caller, pins)
        loaded = ws.load(db, token.device, token.members)
        purge: list[dict[str, Any]] = []
        rnd = token.round
        if loaded is None:  # the members row is gone: the device's state is unknown
            purge.extend(_purge(p, RESYNC) for p in now_ws)
            loaded, rnd = {}, None
        members = dict(loaded)
        reach = ws.reached(view, caller)
        for patient, (fingerprint, _) in sorted(loaded.items()):
            if patient not in now_ws:
                still = reach is None or patient in reach
                purge.append(_purge(patient, LEFT_WORKING_SET if still else ACCESS_ENDED))
                del members[patient]
            elif now_ws[patient] != fingerprint:
                purge.append(_purge(patient, ACCESS_CHANGED))
                del members[patient]
        access = Access(caller, view)
        if rnd is None:
            held = {p for p, (_, s) in loaded.items() if s == ws.HELD}
            rnd = self._start(session, caller, token, held, members, now_ws, purge, horizon)
        return _State(token, view, access, members, purge, rnd)

    def _start(
        self,
        session: Session,
        caller: Caller,
        token: PullToken,
        held: set[str],
        members: ws.Members,
        now_ws: dict[str, str],
        purge: list[dict[str, Any]],
        horizon: int,
    ) -> Round:
        """Begin a round: access changes since the base, newcomers, and the progress total.

        ``held`` are the patients the device held at the base (also those purged whole on this
        page): each access change for one of them that names this user or everyone becomes a
        purge entry, and the patient, if still in the working set, is sent again.
        """
        db = session.records()
        lo, hi = token.base, max(horizon, token.base)
        again: set[str] = set()
        for change in self.feed.access_changes(db, lo, hi):
            if change.patient not in held:
                continue
            if change.actors and caller.fhir_user not in change.actors:
                continue
            purge.append(
                {
                    "patient": change.patient,
                    "reason": change.kind,
                    "types": list(change.types),
                    "labels": list(change.labels),
                }
            )
            again.add(change.patient)
        for patient in again & set(members):
            members[patient] = (members[patient][0], ws.ENTERING)
        for patient, fingerprint in now_ws.items():
            if patient not in members:
                members[patient] = (fingerprint, ws.ENTERING)
        entering = {p for p, (_, s) in members.items() if s == ws.ENTERING}
        total = self.feed.backfill_count(db, entering)
        total += self.feed.delta_count(db, lo, hi, set(members) - entering)
        return Round(hi, BACKFILL, None, 0, total)

    # --- serving ---------------------------------------------------------------------------

    def _serve(self, session: Session, st: _State, limit: int) -> PullPage:
        db = session.records()
        page = PullPage("", True, 0, st.round.total)
        budget, rnd = limit, st.round
        if rnd.phase == BACKFILL:
            entering = st.patients(ws.ENTERING)
            after = rnd.after[0] if rnd.after else None
            found = self.feed.backfill(db, entering, after, budget + 1)
            served = found[:budget]
            self._current(session, st.access, served, entering, page)
            if len(found) > budget:
                rnd = rnd.advance(phase=BACKFILL, after=(served[-1].rid, 0), examined=budget)
            else:
                rnd = rnd.advance(phase=DELTA, after=None, examined=len(served))
            budget -= len(served)
        finished = False
        if rnd.phase == DELTA and budget > 0:
            held = st.patients(ws.HELD)
            rows = self.feed.delta(db, st.token.base, rnd.horizon, rnd.after, held, budget + 1)
            served_rows = rows[:budget]
            self._changes(session, st.access, served_rows, held, page)
            last = (served_rows[-1].major, served_rows[-1].seq) if served_rows else rnd.after
            rnd = rnd.advance(phase=DELTA, after=last, examined=len(served_rows))
            finished = len(rows) <= budget
        st.round = rnd
        page.more = not finished
        page.done = rnd.total if finished else rnd.done
        if finished:
            st.members = {p: (f, ws.HELD) for p, (f, _) in st.members.items()}
        return page

    def _visible(
        self, session: Session, access: Access, rtype: str, rids: list[int], patients: set[str]
    ) -> set[int]:
        visibility = confine(access.rows(rtype, _SEARCH), rtype, patients)
        if visibility.nothing:
            return set()
        return session.visible_rids(rids, visibility)

    def _current(
        self,
        session: Session,
        access: Access,
        found: Sequence[Candidate],
        patients: set[str],
        page: PullPage,
    ) -> None:
        """The current versions of backfill candidates the caller may see, in rid order, as
        stored (never parsed: a first sync's pages are most of its cost), and whose they are."""
        keep: set[int] = set()
        for rtype in sorted({c.type for c in found}):
            rids = [c.rid for c in found if c.type == rtype]
            keep |= self._visible(session, access, rtype, rids, patients)
        chosen = [c for c in found if c.rid in keep]
        db = session.records()
        contents = self.feed.contents(db, [(c.rid, c.version) for c in chosen])
        sent = [c for c in chosen if contents.get((c.rid, c.version)) is not None]
        page.backfill.extend(orjson.Fragment(contents[(c.rid, c.version)]) for c in sent)
        owners = self.feed.owners(db, [c.rid for c in sent if c.type != "Patient"], patients)
        for c in sent:
            for patient in [c.id] if c.type == "Patient" else owners.get(c.rid, ()):
                page.backfill_patients[patient] = page.backfill_patients.get(patient, 0) + 1

    def _changes(
        self,
        session: Session,
        access: Access,
        rows: Sequence[FeedRow],
        patients: set[str],
        page: PullPage,
    ) -> None:
        """The versions the rows wrote (the last per resource), and tombstones.

        A tombstone goes out for a delete, and for a write that took the resource out of the
        caller's view (a security label added, say), when the device could hold the resource:
        the version before the page's first change to it was visible. Rows are the feed from
        the device's cursor on, so by induction that version is the one the device holds.
        """
        last: dict[int, FeedRow] = {}
        first: dict[int, int] = {}  # rid -> the version of the page's first change to it
        for row in rows:
            last.pop(row.rid, None)
            last[row.rid] = row
            first.setdefault(row.rid, row.version)
        writes = [r for r in last.values() if r.op != "delete"]
        keep: set[int] = set()
        for rtype in sorted({r.type for r in writes}):
            rids = [r.rid for r in writes if r.type == rtype]
            keep |= self._visible(session, access, rtype, rids, patients)
        gone = [r for r in last.values() if r.rid not in keep and first[r.rid] > 1]
        wanted = [(r.rid, r.version) for r in writes if r.rid in keep]
        wanted += [(r.rid, first[r.rid] - 1) for r in gone]
        contents = self.feed.contents(session.records(), wanted)
        for r in writes:
            content = contents.get((r.rid, r.version))
            if r.rid in keep and content is not None:
                page.resources.append(orjson.loads(content))
        for r in gone:
            content = contents.get((r.rid, first[r.rid] - 1))
            if content is None:
                continue  # already deleted before the page
            before: dict[str, Any] = orjson.loads(content)
            if admits(confine(access.rows(r.type, _SEARCH), r.type, patients), before):
                page.deleted.append({"type": r.type, "id": r.id, "version": str(r.version)})
                page.tombstone_patients.update(set(patients_of(before)) & patients)


def _purge(patient: str, reason: str) -> dict[str, Any]:
    return {"patient": patient, "reason": reason, "types": [], "labels": []}
