"""The caller-bound entry point of the FHIR REST API.

``Repository(store, caller, base)`` is built once per request by the web layer from the verified
token; everything the caller can do goes through it, and every method checks the caller's grant
before it touches data. Routes never check permissions themselves: the Repository holds the
caller's :class:`~bedside.rest.access.Access`, and every read, search, history and write asks it
which rows the caller may see (see ``bedside.rest.access`` for the rules).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.errors import FhirError, InvalidRequest, MethodNotAllowed, NotFound
from bedside.fhir.compartment import patient_compartment
from bedside.fhir.outcome import information
from bedside.fhir.resource_types import is_resource_type
from bedside.fhir.search.query import parse_search
from bedside.policy.bound import CallerBound
from bedside.policy.decide import Policy
from bedside.policy.model import AccessView
from bedside.rest import bundles
from bedside.rest.access import Access
from bedside.rest.bulk_export import BulkExports
from bedside.rest.history import history
from bedside.rest.interactions import Interactions, Outcome, check_type, load
from bedside.rest.on_behalf import OnBehalf
from bedside.rest.operations import audit_events, operation
from bedside.rest.reads import not_modified, shaped
from bedside.rest.searchset import search
from bedside.rest.targets import entry_requests, refused, searched_patients
from bedside.rest.trail import Trail, subtype_of, type_of
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.rest.writes import WriteHooks
from bedside.store.base import Records, Session, Store, StoredVersion
from bedside.subscriptions.service import SubscriptionService

__all__ = ["Repository"]


class Repository:
    def __init__(
        self,
        store: Store,
        caller: Caller,
        base: str,
        *,
        policy: Policy,
        auditor: Auditor,
        network: str | None = None,
        exports: BulkExports | None = None,
        subscriptions: SubscriptionService | None = None,
    ) -> None:
        self.store = store
        self.subscriptions = subscriptions  # topic-based Subscriptions (None: stored only)
        self.exports = exports  # Bulk Data $export jobs (None: not offered)
        self.caller = caller
        self.policy = policy
        self.auditor = auditor
        self.access = Access(caller)
        self.base = base.rstrip("/")
        self.trail = Trail(caller, self.policy.clock, network)
        self.hooks = WriteHooks(
            caller, self.trail, caller.client_id or self.base, self.policy.rules.references
        )

    # --- entry point -----------------------------------------------------------------------

    @classmethod
    def of(cls, bound: CallerBound, base: str, network: str | None = None) -> Repository:
        """The FHIR API as a caller-bound service's caller, under its policy and audit trail."""
        return cls(
            bound.store,
            bound.caller,
            base,
            policy=bound.policy,
            auditor=bound.auditor,
            network=network,
        )

    def handle(self, req: FhirRequest) -> FhirResponse:
        """Run one interaction in its own transaction, audited before it answers.

        A read's audit entries are made durable (batched with other requests') before the
        response leaves; a write's are chained in the write's own transaction. A refused or
        failed interaction is audited too, after its transaction rolled back.
        """
        if req.path == "" and req.method == "POST":
            return self.bundle(req)
        try:
            if req.method in ("GET", "HEAD"):
                with self.store.read() as session:
                    self._bind(session)
                    resp = self._run(session, req)
            else:
                with self.store.write() as session:
                    self._bind(session)
                    resp = self._run(session, req)
                    self._chain(session)
        except FhirError as exc:
            self.trail.entries.clear()  # notes of a rolled-back transaction did not happen
            self.hooks.pending.clear()
            self._refused([req], subtype_of(req), type_of(req), exc)
            self._submit()
            raise
        self._submit()
        return resp

    def bundle(self, req: FhirRequest) -> FhirResponse:
        btype, entries = bundles.check_bundle(req.body)
        if btype == "transaction":
            try:
                with self.store.write() as session:
                    self._bind(session)
                    results = bundles.run_transaction(
                        session, entries, self._run, self._find, req.prefer_return
                    )
                    self._chain(session)
            except FhirError as exc:
                self.trail.entries.clear()
                self.hooks.pending.clear()
                requests = entry_requests(entries, req.prefer_return)
                self._refused(requests, "transaction", None, exc)
                self._submit()
                raise
            body = {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [bundles.response_entry(r) for r in results],
            }
            return FhirResponse(200, body)
        out: list[dict[str, Any]] = []
        for entry in entries:
            try:
                sub = bundles.entry_request(entry, req.prefer_return)
                if sub.path == "" and sub.method == "POST":
                    raise InvalidRequest("A batch may not contain another Bundle to process.")
                out.append(bundles.response_entry(self.handle(sub)))
            except FhirError as exc:
                out.append(bundles.error_entry(exc))
        return FhirResponse(200, {"resourceType": "Bundle", "type": "batch-response", "entry": out})

    def _bind(self, session: Session, view: AccessView | None = None) -> None:
        """Decide, inside this transaction, what the caller may see (bedside.policy.decide)."""
        if view is None:
            view = self.policy.view(session.records(), self.caller)
        self.access = Access(self.caller, view, self._recheck)
        self.trail.view = view

    def _recheck(self, db: Records, now: float) -> AccessView:
        return self.policy.view(db, self.caller, now=now)

    # --- a write transaction someone else holds (sync ingest, review resolution) ---------------

    def bind(self, session: Session, view: AccessView | None = None) -> Interactions:
        """The caller's interactions inside ``session``, an open write transaction the caller of
        this method commits: the same checks, validation, Provenance and audit as :meth:`handle`
        once :meth:`chain` has run before the commit. ``view`` replaces the policy's view of now
        (sync widens it with a break-glass grant that covered the device's time)."""
        if view is None or view is not self.access.view:
            self._bind(session, view)
        else:  # the same decision again (a sync push's events): keep what Access worked out
            self.trail.view = view
        return Interactions(session, self.access, self.hooks)

    def on_behalf(
        self, *, occurred: str | None, purpose: str | None, device: str | None = None
    ) -> OnBehalf:
        """Declare an action the caller took at ``occurred`` under ``purpose`` from ``device``
        (a device's event): what is written and noted next says so (bedside.rest.on_behalf)."""
        return OnBehalf(self, occurred=occurred, purpose=purpose, device=device)

    def chain(self, session: Session) -> None:
        """Store the Provenance and audit entries noted so far, in ``session``'s transaction."""
        self._chain(session)

    def mark(self) -> tuple[int, int]:
        """Where the noted audit entries and Provenance stand now, for :meth:`discard`."""
        return len(self.trail.entries), len(self.hooks.pending)

    def discard(self, mark: tuple[int, int] = (0, 0)) -> None:
        """Forget what was noted for writes that were rolled back (to a savepoint): everything,
        or what was noted since ``mark`` (a sync push chains its events' together)."""
        del self.trail.entries[mark[0] :]
        del self.hooks.pending[mark[1] :]

    def _chain(self, session: Session) -> None:
        """Before the write commits: its Provenance, then its audit entries, same transaction."""
        self.hooks.flush(session)
        if self.trail.entries:
            self.auditor.append(session.records(), self.trail.entries)
            self.trail.entries = []

    def _submit(self) -> None:
        if self.trail.entries:
            entries, self.trail.entries = self.trail.entries, []
            self.auditor.submit(entries)

    def _refused(
        self, requests: list[FhirRequest], subtype: str, rtype: str | None, exc: FhirError
    ) -> None:
        """Audit a refusal with the resources and patients it addressed, looked up unconfined
        after its transaction rolled back (bedside.rest.targets); the caller's answer is the
        one ``exc`` gives, whatever the lookup finds."""
        target = refused(self.store, self.access, requests)
        reason = None
        if target.hidden:  # it exists, out of the caller's sight: the real reason, for auditors
            answered = "as not found" if isinstance(exc, NotFound) else f"with {exc.status}"
            reason = f"denied: outside the caller's access (answered {answered})"
        self.trail.failure(
            subtype,
            rtype,
            exc,
            description=reason,
            patients=target.patients,
            entities=target.entities,
        )

    def _find(self, session: Session, rtype: str, query: str) -> list[StoredVersion]:
        return Interactions(session, self.access, self.hooks).find(rtype, query, lock=True)

    # --- routing -----------------------------------------------------------------------------

    def _run(self, session: Session, req: FhirRequest) -> FhirResponse:
        parts = [p for p in req.path.split("/") if p]
        act = Interactions(session, self.access, self.hooks)
        note = self.trail.note
        m = req.method
        if not parts:
            if m == "GET" and req.query and dict(req.query).get("_history") is None:
                raise InvalidRequest("Search across all types is not supported; search one type.")
            raise MethodNotAllowed(f"{m} is not supported on the FHIR base.")
        if parts == ["_history"] and m == "GET":
            return history(self, session, None, None, req)
        if parts[0] == "metadata":  # GET /metadata is served by the web layer, without a token
            raise MethodNotAllowed("The CapabilityStatement is read-only: use GET /metadata.")
        if len(parts) == 1 and parts[0].startswith("$"):
            return operation(self, session, None, None, parts[0], req)
        rtype = parts[0]
        if rtype == "AuditEvent":
            return audit_events(self, session, parts, req)
        if rtype == "Subscription" and self.subscriptions is not None:
            return self.subscriptions.handle(self, session, parts, req)
        check_type(rtype)
        if len(parts) == 3 and parts[2].startswith("$"):
            return operation(self, session, rtype, parts[1], parts[2], req)
        if len(parts) == 2 and parts[1].startswith("$"):
            return operation(self, session, rtype, None, parts[1], req)
        if len(parts) == 1:
            if m == "GET":
                return self._search(session, rtype, list(req.query), req.lenient)
            if m == "POST":
                out = act.create(rtype, req.body, if_none_exist=req.if_none_exist)
                note("create" if out.created else "read", rtype=rtype, versions=[out.version])
                return self._written(out, req, matched=not out.created)
            if m == "PUT" and req.query:
                out = act.conditional_update(rtype, _qs(req), req.body)
                note("create" if out.created else "update", rtype=rtype, versions=[out.version])
                return self._written(out, req)
            if m == "DELETE" and req.query:
                return self._deleted(act.conditional_delete(rtype, _qs(req)))
        elif len(parts) == 2:
            rid = parts[1]
            if rid == "_search" and m == "POST":
                return self._search(session, rtype, list(req.query), req.lenient)
            if rid == "_history" and m == "GET":
                return history(self, session, rtype, None, req)
            if rid.startswith("_"):  # not an id (datatypes.html#id): a path of its own
                raise MethodNotAllowed(f"{m} is not supported on {req.path}.")
            if m in ("GET", "HEAD"):
                return self._served("read", act.read(rtype, rid), req)
            if m in ("PUT", "PUT-NEW", "PATCH"):
                if m == "PUT":
                    out = act.update(rtype, rid, req.body, if_match=req.if_match)
                elif m == "PUT-NEW":  # a transaction's POST whose id was assigned in advance
                    out = act.create(rtype, req.body, new_id=rid)
                else:
                    out = act.patch(
                        rtype, rid, req.body, if_match=req.if_match, content_type=req.content_type
                    )
                subtype = "create" if out.created else ("patch" if m == "PATCH" else "update")
                note(subtype, rtype=rtype, versions=[out.version])
                return self._written(out, req)
            if m == "DELETE":
                return self._deleted(act.delete(rtype, rid))
        elif len(parts) == 3 and parts[2] == "_history" and m == "GET":
            act.access.require(rtype, "history-instance")
            return history(self, session, rtype, parts[1], req)
        elif len(parts) == 3 and m == "GET" and is_resource_type(parts[2]):
            return self._compartment_search(session, rtype, parts[1], parts[2], req)
        elif len(parts) == 4 and parts[2] == "_history" and m in ("GET", "HEAD"):
            return self._served("vread", act.vread(rtype, parts[1], parts[3]), req)
        raise MethodNotAllowed(f"{m} is not supported on {req.path}.")

    # --- responses -----------------------------------------------------------------------------

    def _served(self, subtype: str, v: StoredVersion, req: FhirRequest) -> FhirResponse:
        """A read or vread response; the resource is parsed once, for the audit and the body.
        A conditional read the client's copy satisfies is a 304 (bedside.rest.reads)."""
        resource = load(v)
        body = shaped(resource, req)
        self.trail.note(subtype, rtype=v.type, resources=[resource])
        return FhirResponse(
            304 if not_modified(req, v) else 200,
            None if not_modified(req, v) else body,
            version=v.version,
            last_modified=v.last_updated,
            location=f"{self.base}/{v.type}/{v.id}/_history/{v.version}",
        )

    def _written(self, out: Outcome, req: FhirRequest, *, matched: bool = False) -> FhirResponse:
        v = out.version
        status = 200 if matched or not out.created else 201
        resp = FhirResponse(
            status,
            location=f"{self.base}/{v.type}/{v.id}/_history/{v.version}",
            version=v.version,
            last_modified=v.last_updated,
        )
        if req.prefer_return == "minimal":
            return resp
        if req.prefer_return == "OperationOutcome":
            resp.resource = information(f"{v.type}/{v.id} stored as version {v.version}.")
        else:
            resp.resource = out.resource
        return resp

    def _deleted(self, version: StoredVersion | None) -> FhirResponse:
        if version is not None:
            self.trail.note("delete", rtype=version.type, versions=[version])
        if version is None:
            return FhirResponse(200, information("Nothing to delete: the resource does not exist."))
        return FhirResponse(
            200,
            information(f"{version.type}/{version.id} deleted."),
            version=version.version,
        )

    def _search(
        self,
        session: Session,
        rtype: str,
        params: list[tuple[str, str]],
        lenient: bool,
        *,
        compartment: tuple[str, str] | None = None,
    ) -> FhirResponse:
        query = parse_search(rtype, params, lenient=lenient)
        if compartment is not None:
            query = replace(
                query,
                compartment=patient_compartment(rtype, compartment[1]),
                compartment_path="/".join(compartment),
            )
        bundle = search(session, self.access, query, self.base)
        returned = [
            e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] != "outcome"
        ]
        patients = searched_patients(session, rtype, params, returned)
        self.trail.note(
            "search-type",
            rtype=rtype,
            resources=returned,
            patients=[*patients, compartment[1]] if compartment else patients,
            query=urlencode(params),
        )
        return FhirResponse(200, bundle)

    def _compartment_search(
        self, session: Session, ctype: str, cid: str, rtype: str, req: FhirRequest
    ) -> FhirResponse:
        """``GET Patient/1/Observation?...`` (http.html#vsearch, compartmentdefinition.html):
        a search of the type, also confined to the Patient's compartment. The Patient must be
        one the caller may read; one it may not answers exactly like a missing one (404)."""
        if ctype != "Patient":
            raise NotFound(
                f"Searching the {ctype} compartment is not supported.", code="not-supported"
            )
        check_type(rtype)
        Interactions(session, self.access, self.hooks).read("Patient", cid)
        return self._search(session, rtype, list(req.query), req.lenient, compartment=(ctype, cid))


def _qs(req: FhirRequest) -> str:
    return urlencode(req.query)
