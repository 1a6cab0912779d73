"""The caller-bound entry point of the FHIR REST API.

``Repository(store, caller, base)`` is built once per request by the web layer from the verified
token; everything the caller can do goes through it, and every method checks the caller's grant
before it touches data. Routes never check permissions themselves: the Repository holds the
caller's :class:`~bedside.rest.access.Access`, and every read, search, history and write asks it
which rows the caller may see (see ``bedside.rest.access`` for the rules).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bedside.auth.caller import Caller
from bedside.errors import FhirError, InvalidRequest, MethodNotAllowed, NotFound
from bedside.fhir.outcome import information
from bedside.fhir.search.query import parse_search
from bedside.rest import bundles
from bedside.rest.access import Access
from bedside.rest.interactions import Interactions, Outcome, check_type, load
from bedside.rest.paging import Cursor
from bedside.rest.searchset import history_bundle, search
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session, Store, StoredVersion

_HISTORY_COUNT = 50


class Repository:
    def __init__(self, store: Store, caller: Caller, base: str) -> None:
        self.store = store
        self.caller = caller
        self.access = Access(caller)
        self.base = base.rstrip("/")

    # --- entry point -----------------------------------------------------------------------

    def handle(self, req: FhirRequest) -> FhirResponse:
        """Run one interaction in its own transaction."""
        if req.path == "" and req.method == "POST":
            return self.bundle(req)
        if req.method in ("GET", "HEAD"):
            with self.store.read() as session:
                return self._run(session, req)
        with self.store.write() as session:
            return self._run(session, req)

    def bundle(self, req: FhirRequest) -> FhirResponse:
        btype, entries = bundles.check_bundle(req.body)
        if btype == "transaction":
            with self.store.write() as session:
                results = bundles.run_transaction(
                    session, entries, self._run, self._find, req.prefer_return
                )
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

    def _find(self, session: Session, rtype: str, query: str) -> list[StoredVersion]:
        return Interactions(session, self.access).find(rtype, query, lock=True)

    # --- routing -----------------------------------------------------------------------------

    def _run(self, session: Session, req: FhirRequest) -> FhirResponse:
        parts = [p for p in req.path.split("/") if p]
        act = Interactions(session, self.access)
        m = req.method
        if not parts:
            if m == "GET" and req.query and dict(req.query).get("_history") is None:
                raise InvalidRequest("Search across all types is not supported; search one type.")
            raise MethodNotAllowed(f"{m} is not supported on the FHIR base.")
        if parts == ["_history"] and m == "GET":
            return self._history(session, None, None, req)
        rtype = parts[0]
        check_type(rtype)
        if len(parts) == 1:
            if m == "GET":
                return self._search(session, rtype, list(req.query), req.lenient)
            if m == "POST":
                out = act.create(rtype, req.body, if_none_exist=req.if_none_exist)
                return self._written(out, req, matched=not out.created)
            if m == "PUT" and req.query:
                return self._written(act.conditional_update(rtype, _qs(req), req.body), req)
            if m == "DELETE" and req.query:
                return self._deleted(act.conditional_delete(rtype, _qs(req)))
        elif len(parts) == 2:
            rid = parts[1]
            if rid == "_search" and m == "POST":
                return self._search(session, rtype, list(req.query), req.lenient)
            if rid == "_history" and m == "GET":
                return self._history(session, rtype, None, req)
            if m in ("GET", "HEAD"):
                return _read_response(act.read(rtype, rid), self.base)
            if m == "PUT":
                return self._written(act.update(rtype, rid, req.body, if_match=req.if_match), req)
            if m == "PUT-NEW":  # a transaction's POST whose id was assigned in advance
                out = act.create(rtype, req.body, new_id=rid)
                return self._written(out, req)
            if m == "PATCH":
                return self._written(act.patch(rtype, rid, req.body, if_match=req.if_match), req)
            if m == "DELETE":
                return self._deleted(act.delete(rtype, rid))
        elif len(parts) == 3 and parts[2] == "_history" and m == "GET":
            act.caller.require(rtype, "history-instance")
            return self._history(session, rtype, parts[1], req)
        elif len(parts) == 4 and parts[2] == "_history" and m in ("GET", "HEAD"):
            return _read_response(act.vread(rtype, parts[1], parts[3]), self.base)
        raise MethodNotAllowed(f"{m} is not supported on {req.path}.")

    # --- responses -----------------------------------------------------------------------------

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
        if version is None:
            return FhirResponse(200, information("Nothing to delete: the resource does not exist."))
        return FhirResponse(
            200,
            information(f"{version.type}/{version.id} deleted."),
            version=version.version,
        )

    def _search(
        self, session: Session, rtype: str, params: list[tuple[str, str]], lenient: bool
    ) -> FhirResponse:
        query = parse_search(rtype, params, lenient=lenient)
        return FhirResponse(200, search(session, self.access, query, self.base))

    def _history(
        self, session: Session, rtype: str | None, rid: str | None, req: FhirRequest
    ) -> FhirResponse:
        """http.html#history: newest first, paged by change-feed position.

        Only versions of resources the caller may see now (by their current version) are listed;
        an instance the caller may not see is "not known", like a missing one.
        """
        if rtype is None:
            raise NotFound("System-wide history is not available; ask for a type's history.")
        if rid is None:
            self.caller.require(rtype, "history-type")
        visible = self.access.rows(rtype, "history-type" if rid is None else "history-instance")
        params = dict(req.query)
        unknown = set(params) - {"_count", "_since", "_cursor", "_format"}
        if unknown and not req.lenient:
            raise InvalidRequest(f"Unknown history parameter(s): {', '.join(sorted(unknown))}.")
        count = (
            min(int(params["_count"]), 1000)
            if params.get("_count", "").isdigit()
            else (_HISTORY_COUNT)
        )
        cursor = Cursor.decode(params["_cursor"]) if "_cursor" in params else None
        if rid is not None and session.current(rtype, rid, visible=visible) is None:
            raise NotFound(f"{rtype}/{rid} is not known.")
        versions = session.history(
            rtype,
            rid,
            since=params.get("_since"),
            before_seq=cursor.snapshot if cursor else None,
            count=count + 1,
            visible=visible,
        )
        path = f"{self.base}/{rtype}" + (f"/{rid}" if rid else "") + "/_history"
        keep = [(k, v) for k, v in req.query if k in ("_count", "_since")]
        next_url = None
        if len(versions) > count:
            versions = versions[:count]
            if versions:  # _count=0 asks for no entries, so there is no page to continue
                token = Cursor(versions[-1].seq).encode()
                next_url = f"{path}?{urlencode([*keep, ('_cursor', token)])}"
        self_url = f"{path}?{urlencode(req.query)}" if req.query else path
        return FhirResponse(
            200, history_bundle(self.base, versions, self_url=self_url, next_url=next_url)
        )


def _read_response(v: StoredVersion, base: str) -> FhirResponse:
    return FhirResponse(
        200,
        load(v),
        version=v.version,
        last_modified=v.last_updated,
        location=f"{base}/{v.type}/{v.id}/_history/{v.version}",
    )


def _qs(req: FhirRequest) -> str:
    return urlencode(req.query)
