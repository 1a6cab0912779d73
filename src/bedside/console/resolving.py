"""Resolving and deferring conflicts from the governance console (ADR 0014).

A console role reaches no patient through the FHIR API (``patients = "none"``), so the
console cannot resolve through the reviewer's own access the way ``/review`` does. Instead a
resolution runs under a **resolution-scoped** authority made for one item and one transaction:

* only a console role the policy names for the item's queue (``[sync.review] console``,
  e.g. ``doctor = "clinical-safety"``) may settle it, and never an item its own device made;
* the write's caller is the reviewer with scopes for the item's record type only
  (``user/<Type>.cru``), and its policy view reaches the item's patient only, for that type
  only: the normal write path (validation, ADR 0009's checks, Provenance, audit) applies, and
  no other record, patient or type is in reach;
* the only contents it writes are the device's version or a merge built here from the
  server's version with, for each differing field, the side the reviewer chose: the console
  never accepts a resource from the browser;
* the Provenance names the reviewer (author), the console app and the device (performers)
  and the device's user (informant); the audit names the reviewer as agent.

The console's session token itself keeps its ``openid fhirUser online_access`` scopes: no
FHIR write, no FHIR read. A deferral writes no record: it stores a note
(:mod:`bedside.sync.deferral`) and is audited (``review-defer``) naming the item and
patient, not the note.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import orjson

from bedside.audit.entry import MINOR_FAILURE, Auditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.auth.users import Users
from bedside.console.words import plain
from bedside.errors import Conflict, FhirError, Forbidden, InvalidRequest, NotFound
from bedside.fleet import registry
from bedside.policy.decide import Policy
from bedside.policy.model import AccessView, PatientAccess
from bedside.rest.repository import Repository
from bedside.store.base import Records, Session, Store
from bedside.sync import deferral, review
from bedside.sync.resolution import Resolution, resolve
from bedside.sync.review import ReviewItem

__all__ = ["CHOICES", "ConflictDesk", "patient_of"]

#: What the reviewer may keep for one differing field in "Edit a merge".
CHOICES: Final = ("device", "server")
_FIXED: Final = frozenset({"resourceType", "id", "meta"})


def patient_of(item: ReviewItem) -> str | None:
    """The patient whose record the item is about (a Patient's own id for a Patient)."""
    own = item.resource_id if item.resource_type == "Patient" else None
    return item.patient or own


class ConflictDesk:
    """The console's resolve / defer for one signed-in reviewer."""

    def __init__(
        self, store: Store, policy: Policy, auditor: Auditor, caller: Caller, base: str
    ) -> None:
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.caller = caller
        self.base = base

    # --- who may settle an item --------------------------------------------------------------

    def refusal(self, db: Records, item: ReviewItem) -> str | None:
        """Why this reviewer may not settle ``item`` (a sentence), or None if they may."""
        resolver = self.policy.rules.sync.console_resolvers.get(item.route_role)
        if resolver is None or resolver != self.caller.role:
            return f"Only the {item.route_role} queue can resolve this item."
        device = registry.get(db, item.device)
        if device is not None and device.user_id == self.caller.subject:
            return "This change was made on your own device: another reviewer must settle it."
        return None

    def _scope(self, db: Records, now: float) -> Any:
        def scope(item: ReviewItem) -> AccessView:
            why = self.refusal(db, item)
            if why is not None:
                raise Forbidden(why)
            patient = patient_of(item)
            relations = (
                (PatientAccess(patient, "assignment", f"review/{item.id}"),) if patient else ()
            )
            return AccessView(
                self.caller.role,
                True,
                {item.resource_type: frozenset("cru")},
                relations=relations,
                now=now,
            )

        return scope

    def _writer(self, rtype: str) -> Caller:
        """The reviewer, with scopes for this one record type (the view narrows to the record's
        patient; the resolution narrows to the record)."""
        return replace(self.caller, scopes=ScopeSet.parse(f"user/{rtype}.cru"), device=None)

    # --- what the item page shows ------------------------------------------------------------

    def detail(self, item: ReviewItem, *, values: bool) -> dict[str, Any]:
        """The item's summary; with ``values`` (a value role, or a reviewer who may settle it)
        each differing field's base, device and server value side by side, the server's as
        it is **now** (the version a resolution is made against), and whether and why not this
        reviewer may settle it, and its latest deferral."""
        with self.store.records() as db:
            why = self.refusal(db, item) if item.state == review.OPEN else None
            put_aside = deferral.latest(db, item.id)
        shown = item.summary()
        shown["may_resolve"] = item.state == review.OPEN and why is None
        shown["why_not"] = why
        if put_aside is not None:
            by = self._name(put_aside.by)
            shown["deferred"] = {"at": put_aside.at, "by": by, "note": put_aside.note}
        if "resolution" in shown:
            shown["resolution"]["by"] = self._name(shown["resolution"]["by"])
        if not (values or shown["may_resolve"]):
            return shown
        server = item.server_value or {}
        live = item.server_version
        if item.state == review.OPEN:
            live, content = self.current(item)
            server = content or {}
        shown["live_version"] = live
        shown["moved"] = item.state == review.OPEN and live != item.server_version
        shown["sides"] = [
            {
                "field": name,
                "base": plain((item.base_value or {}).get(name)),
                "device": plain(item.device_value.get(name)),
                "server": plain(server.get(name)),
            }
            for name in item.fields
        ]
        return shown

    # --- resolve ---------------------------------------------------------------------------

    def current(self, item: ReviewItem) -> tuple[int | None, dict[str, Any] | None]:
        """The record's version and content on the server now (None, None: gone)."""
        with self.store.read() as session:
            now = session.current(item.resource_type, item.resource_id)
        if now is None or now.deleted or now.content is None:
            return None, None
        return now.version, orjson.loads(now.content)

    def resolve(
        self, item_id: str, keep: str, version: int | None, choices: dict[str, str]
    ) -> ReviewItem:
        """Keep device, keep server, or a merge of the differing fields as ``choices`` says,
        against the server ``version`` the reviewer saw. FhirError (409 when it moved on)."""
        if keep not in ("device", "server", "merged"):
            raise InvalidRequest("Choose keep the device's version, the server's, or a merge.")
        now = self.policy.clock()
        with self.store.records() as db:
            item = review.get(db, item_id)
        if item is None:
            raise NotFound("There is no review item with this id.")
        writer = self._writer(item.resource_type)
        repo = Repository(self.store, writer, self.base, policy=self.policy, auditor=self.auditor)
        repo.hooks.device = item.device
        repo.hooks.informant = self._device_user(item)
        try:
            with self.store.write() as session:
                how = Resolution(keep, None, version)
                if keep == "merged":
                    how = Resolution(keep, self._merge(session, item, version, choices), version)
                done = resolve(
                    repo, session, item_id, how, now=now, scope=self._scope(session.records(), now)
                )
                repo.chain(session)
        except FhirError as exc:
            repo.discard()
            patient = patient_of(item)
            repo.trail.failure(
                "review-resolve",
                item.resource_type,
                exc,
                description=f"console resolution of review item {item.id} refused ({exc.status})",
                patients=[patient] if patient else [],
            )
            self.auditor.submit(repo.trail.entries)
            raise
        return done

    def _merge(
        self, session: Session, item: ReviewItem, version: int | None, choices: dict[str, str]
    ) -> dict[str, Any]:
        """The server's version with each differing field taken from the side chosen. Every
        other field is settled as the push's three-way merge would: a field only the device
        changed (from the base) takes the device's value, anything else the server's."""
        if set(choices) != set(item.fields) or not set(choices.values()) <= set(CHOICES):
            raise InvalidRequest("Choose the device's or the server's value for every field.")
        current = session.current(item.resource_type, item.resource_id)
        if current is None or current.deleted or current.content is None:
            raise Conflict("The record no longer exists on the server. Nothing was written.")
        if version is not None and current.version != version:
            raise Conflict(
                f"The record changed on the server: it is now at version {current.version}. "
                "Nothing was written. Look at it again, then choose."
            )
        server = {k: v for k, v in orjson.loads(current.content).items() if k != "meta"}
        device, base = item.device_value, item.base_value or {}
        merged = dict(server)
        for name in (set(device) | set(server) | set(base)) - _FIXED:
            take_device = choices.get(name) == "device" or (
                name not in choices
                and device.get(name) != base.get(name)
                and server.get(name) == base.get(name)
            )
            if take_device:
                if name in device:
                    merged[name] = device[name]
                else:
                    merged.pop(name, None)
        return merged

    def _name(self, who: str | None) -> str:
        """A reviewer as the page names them: their username (a user id or fhirUser else)."""
        users = Users(self.store)
        user = users.get(who) if who else None
        return user.username if user is not None else (who or "(unknown)")

    def _device_user(self, item: ReviewItem) -> str | None:
        with self.store.records() as db:
            device = registry.get(db, item.device)
        if device is None:
            return None
        user = Users(self.store).get(device.user_id)
        return (user.fhir_user if user is not None else None) or device.user_id

    # --- defer -----------------------------------------------------------------------------

    def defer(self, item_id: str, note: str, entry: Any) -> deferral.Deferral:
        """Put an open item aside with a note; audited by ``entry`` (the console's audit entry
        maker), naming the item and patient but not the note. A refusal is audited too."""
        now = self.policy.clock()
        patients: list[str] = []
        try:
            with self.store.records(write=True) as db:
                item = review.get(db, item_id)
                if item is None:
                    raise NotFound("There is no review item with this id.")
                patient = patient_of(item)
                patients = [patient] if patient else []
                why = self.refusal(db, item)
                if why is not None:
                    raise Forbidden(why)
                if item.state != review.OPEN:
                    raise Conflict("This review item is already resolved.")
                by = self.caller.fhir_user or self.caller.subject
                done = deferral.defer(db, item.id, by=by, note=note, now=now)
                words = f"review item {item.id} deferred with a note"
                self.auditor.append(
                    db, [entry("review-defer", words, action="U", patients=patients)]
                )
        except FhirError as exc:
            words = f"deferral of review item {item_id} refused ({exc.status})"
            self.auditor.submit(
                [entry("review-defer", words, action="U", outcome=MINOR_FAILURE, patients=patients)]
            )
            raise
        return done
