"""The review queue for one caller (docs/sync-server.md "Review"): list, show, resolve.

Built per request like ``Repository(store, caller)``: every method decides what the caller
may see (:func:`bedside.sync.review_access.may_see`), opens its own transaction and audits — a
listing or a read names the patients it showed, a refusal is audited on its own after its
transaction rolled back. The HTTP layer (:mod:`bedside.web.sync_api`) only parses and answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from bedside.errors import FhirError, Forbidden, InvalidRequest, NotFound
from bedside.fhir import json_body
from bedside.policy.bound import CallerBound
from bedside.rest.repository import Repository
from bedside.rest.trail import Trail
from bedside.sync import review, review_access
from bedside.sync.authorship import changed_by
from bedside.sync.resolution import parse_resolution, resolve

__all__ = ["MAX_PAGE", "STATES", "ReviewQueue"]

STATES: Final = {"open": review.OPEN, "resolved": review.RESOLVED, "all": None}
MAX_PAGE: Final = 1000


@dataclass
class ReviewQueue(CallerBound):
    base: str
    network: str | None = field(default=None, kw_only=True)

    def listing(
        self, role: str | None, state: str, cursor: str | None, count: str | None
    ) -> dict[str, Any]:
        """A page of the queue of ``role`` (default: the caller's) in ``state``, oldest first:
        ``{"role", "state", "items", "next"}``; each item whole or as a summary."""
        caller = self.caller
        role = role or caller.role
        try:
            if state not in STATES:
                raise InvalidRequest("state must be open, resolved or all.")
            size = _count(count)
            governance = self.policy.rules.review_roles
            anyone = review_access.is_operator(caller) or caller.role in governance
            if not anyone and (role is None or role != caller.role):
                raise Forbidden("You can list only the review queue of your own role.")
            with self.store.read() as session:
                view = self.policy.view(session.records(), caller)
                items, after = review.listing_page(
                    session.records(), role=role, state=STATES[state], cursor=cursor, count=size
                )
        except FhirError as exc:
            self._refused("review-list", exc, "review queue refused")
            raise
        shown: list[dict[str, Any]] = []
        patients: set[str] = set()
        for item in items:
            seen = review_access.may_see(caller, view, item, governance)
            if seen == "all" and item.patient:
                patients.add(item.patient)
            if seen:
                shown.append(item.detail() if seen == "all" else item.summary())
        trail = self._trail()
        trail.view = view
        trail.note(
            "review-list", patients=patients, description=f"review queue listed: {len(shown)} items"
        )
        self.auditor.submit(trail.entries)
        return {"role": role, "state": state, "items": shown, "next": after}

    def item(self, item_id: str) -> dict[str, Any]:
        """One item, whole (with who last changed the server's version) or as a summary."""
        caller = self.caller
        try:
            with self.store.read() as session:
                view = self.policy.view(session.records(), caller)
                item = review.get(session.records(), item_id)
                governance = self.policy.rules.review_roles
                seen = review_access.may_see(caller, view, item, governance) if item else ""
                if item is None or not seen:
                    raise NotFound("There is no review item with this id.")
                by = changed_by(
                    session.records(), item.resource_type, item.resource_id,
                    item.server_version,
                ) if seen == "all" else None  # fmt: skip
        except FhirError as exc:
            self._refused("review-read", exc, "review item refused")
            raise
        trail = self._trail()
        trail.view = view
        full = seen == "all"
        trail.note(
            "review-read",
            rtype=item.resource_type,
            patients=[item.patient] if full and item.patient else [],
            entities=[f"{item.resource_type}/{item.resource_id}"],
            description=f"review item {item.id} read" + ("" if full else " (summary)"),
        )
        self.auditor.submit(trail.entries)
        return {**item.detail(), "server_changed_by": by} if full else item.summary()

    def resolve(self, item_id: str, raw: bytes) -> dict[str, Any]:
        """Settle an item as the JSON body ``raw`` says (keep device | server | merged)."""
        repo = Repository.of(self, self.base, self.network)
        try:
            how = parse_resolution(json_body.loads(raw))
            with self.store.write() as session:
                item = resolve(repo, session, item_id, how, now=self.policy.clock())
                repo.chain(session)
        except FhirError as exc:
            repo.discard()
            self._refused("review-resolve", exc, "review resolution refused")
            raise
        return item.detail()

    def _trail(self) -> Trail:
        return Trail(self.caller, self.policy.clock, self.network)

    def _refused(self, subtype: str, exc: FhirError, words: str) -> None:
        """Audit a refused request on its own (its transaction, if any, rolled back)."""
        trail = self._trail()
        trail.failure(subtype, None, exc, description=f"{words} ({exc.status})")
        self.auditor.submit(trail.entries)


def _count(text: str | None) -> int:
    """The page size asked for (default ``review.PAGE``); 400 unless 1 to :data:`MAX_PAGE`."""
    if text is None:
        return review.PAGE
    if text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_PAGE:
        return int(text)
    raise InvalidRequest(f"count must be a number from 1 to {MAX_PAGE}.")
