"""HTTP for sync push and the review queue (docs/sync-protocol.md, docs/sync-server.md)::

    POST /sync/push                 a device's signed events; one result per event
    GET  /review?role=&state=&count=&cursor=
                                    review items routed to a role (default: the caller's),
                                    oldest first, a page at a time (``next``: the next cursor)
    GET  /review/{id}               one item
    POST /review/{id}/resolve       keep device | server | merged (server writes nothing)

This module authenticates and parses (errors become HTTP at :mod:`bedside.web.errors`); the work is
:class:`bedside.sync.ingest.Ingest` and :mod:`bedside.sync.resolution`. Push checks, in order:
a bearer token (401), a token naming a device of its user (403), the device's status (revoked
403 with the device API's status issue; a device flagged for wipe may still push, to drain
before it wipes: docs/device-registry.md "Wipe"), then the body (400, with
the protocol versions the server speaks). The answer leaves only once every event in it has
been committed. Every decision is audited: each event by ingest, a refused push or review
request here.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import FhirError, Forbidden, InvalidRequest, NotFound
from bedside.fhir import json_body
from bedside.metrics import daily
from bedside.metrics.registry import Metrics
from bedside.policy.decide import Policy
from bedside.rest.repository import Repository
from bedside.rest.trail import Trail
from bedside.store.base import Store
from bedside.sync import review
from bedside.sync.authorship import changed_by
from bedside.sync.ingest import Ingest
from bedside.sync.push import parse_push
from bedside.sync.resolution import parse_resolution, resolve
from bedside.web import responses
from bedside.web.device_auth import DeviceAuth
from bedside.web.fhir_http import bearer_token

__all__ = ["SyncApi"]

_STATES: Final = {"open": review.OPEN, "resolved": review.RESOLVED, "all": None}
_MAX_PAGE: Final = 1000


class SyncApi:
    def __init__(
        self,
        store: Store,
        auth: AuthServer,
        policy: Policy,
        auditor: Auditor,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.auth = auth
        self.policy = policy
        self.auditor = auditor
        self.devices = DeviceAuth(store, auth)
        self.base = auth.config.fhir_base

    def routes(self) -> list[Route]:
        return [
            Route("/sync/push", self.push, methods=["POST"]),
            Route("/review", self.list_items, methods=["GET"]),
            Route("/review/{item_id}", self.show_item, methods=["GET"]),
            Route("/review/{item_id}/resolve", self.resolve_item, methods=["POST"]),
        ]

    # --- push ----------------------------------------------------------------------------------

    async def push(self, request: Request) -> Response:
        network = request.client.host if request.client else None
        try:  # authenticate before reading the body
            caller = await run_in_threadpool(self.devices.caller, bearer_token(request))
            raw = await request.body()
        except FhirError as exc:
            self._count_push(None, exc.status)
            raise

        def work() -> Response:
            started = time.perf_counter()
            try:
                device = self.devices.draining_device(caller)  # a wipe drains first
                push = parse_push(json_body.loads(raw, max_depth=None))  # each event alone
            except FhirError as exc:
                self._refused(caller, network, "sync-reject", exc, "sync push refused")
                self._count_push(None, exc.status)
                raise
            ingest = Ingest(
                self.store, self.policy, self.auditor, self.base, caller, device, network=network
            )
            answer = ingest.run(push).encode()
            self._count_push(ingest.tally)
            elapsed = round((time.perf_counter() - started) * 1000)
            daily.keep(self.store, "push-ms", elapsed, self.policy.clock())
            return responses.json(200, orjson.Fragment(answer))

        return await run_in_threadpool(work)

    def _count_push(self, tally: Counter[tuple[str, str]] | None, status: int = 200) -> None:
        if self.metrics is not None:
            self.metrics.push(tally, status)

    # --- review queue --------------------------------------------------------------------------

    async def list_items(self, request: Request) -> Response:
        params = request.query_params
        network = request.client.host if request.client else None

        def work(caller: Caller) -> Response:
            role = params.get("role") or caller.role
            state = params.get("state", "open")
            try:
                if state not in _STATES:
                    raise InvalidRequest("state must be open, resolved or all.")
                count = _count(params.get("count"))
                governance = self.policy.rules.review_roles
                anyone = review.is_operator(caller) or caller.role in governance
                if not anyone and (role is None or role != caller.role):
                    raise Forbidden("You can list only the review queue of your own role.")
                with self.store.read() as session:
                    view = self.policy.view(session.records(), caller)
                    items, after = review.listing_page(
                        session.records(),
                        role=role,
                        state=_STATES[state],
                        cursor=params.get("cursor"),
                        count=count,
                    )
            except FhirError as exc:
                self._refused(caller, network, "review-list", exc, "review queue refused")
                raise
            shown: list[dict[str, Any]] = []
            patients: set[str] = set()
            for item in items:
                seen = review.may_see(caller, view, item, governance)
                if seen == "all" and item.patient:
                    patients.add(item.patient)
                if seen:
                    shown.append(item.detail() if seen == "all" else item.summary())
            trail = Trail(caller, self.policy.clock, network)
            trail.view = view
            trail.note(
                "review-list",
                patients=patients,
                description=f"review queue listed: {len(shown)} items",
            )
            self.auditor.submit(trail.entries)
            listed = {"role": role, "state": state, "items": shown, "next": after}
            return responses.json(200, listed)

        return await self._as_user(request, work)

    async def show_item(self, request: Request) -> Response:
        item_id = request.path_params["item_id"]
        network = request.client.host if request.client else None

        def work(caller: Caller) -> Response:
            try:
                with self.store.read() as session:
                    view = self.policy.view(session.records(), caller)
                    item = review.get(session.records(), item_id)
                    governance = self.policy.rules.review_roles
                    seen = review.may_see(caller, view, item, governance) if item else ""
                    if item is None or not seen:
                        raise NotFound("There is no review item with this id.")
                    by = changed_by(
                        session.records(), item.resource_type, item.resource_id,
                        item.server_version,
                    ) if seen == "all" else None  # fmt: skip
            except FhirError as exc:
                self._refused(caller, network, "review-read", exc, "review item refused")
                raise
            trail = Trail(caller, self.policy.clock, network)
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
            shown = {**item.detail(), "server_changed_by": by} if full else item.summary()
            return responses.json(200, shown)

        return await self._as_user(request, work)

    async def resolve_item(self, request: Request) -> Response:
        item_id = request.path_params["item_id"]
        network = request.client.host if request.client else None
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        raw = await request.body()

        def work() -> Response:
            repo = Repository(
                self.store,
                caller,
                self.base,
                policy=self.policy,
                auditor=self.auditor,
                network=network,
            )
            try:
                how = parse_resolution(json_body.loads(raw))
                with self.store.write() as session:
                    item = resolve(repo, session, item_id, how, now=self.policy.clock())
                    repo.chain(session)
            except FhirError as exc:
                repo.discard()
                self._refused(caller, network, "review-resolve", exc, "review resolution refused")
                raise
            return responses.json(200, item.detail())

        return await run_in_threadpool(work)

    # --- plumbing ------------------------------------------------------------------------------

    async def _as_user(self, request: Request, work: Callable[[Caller], Response]) -> Response:
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        return await run_in_threadpool(work, caller)

    def _refused(
        self, caller: Caller, network: str | None, subtype: str, exc: FhirError, words: str
    ) -> None:
        """Audit a refused request on its own (its transaction, if any, rolled back)."""
        trail = Trail(caller, self.policy.clock, network)
        trail.failure(subtype, None, exc, description=f"{words} ({exc.status})")
        self.auditor.submit(trail.entries)


def _count(text: str | None) -> int:
    """The page size asked for (default ``review.PAGE``); 400 unless 1 to ``_MAX_PAGE``."""
    if text is None:
        return review.PAGE
    if text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= _MAX_PAGE:
        return int(text)
    raise InvalidRequest(f"count must be a number from 1 to {_MAX_PAGE}.")
