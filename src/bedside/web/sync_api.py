"""HTTP for sync push and the review queue (docs/sync-protocol.md, docs/sync-server.md)::

    POST /sync/push                 a device's signed events; one result per event
    GET  /review?role=&state=&count=&cursor=
                                    review items routed to a role (default: the caller's),
                                    oldest first, a page at a time (``next``: the next cursor)
    GET  /review/{id}               one item
    POST /review/{id}/resolve       keep device | server | merged (server writes nothing)

This module authenticates and parses (errors become HTTP at :mod:`bedside.web.errors`); the
work is :class:`bedside.sync.ingest.Ingest` and :class:`bedside.sync.review_service.
ReviewQueue`. Push checks, in order: a bearer token (401), a token naming a device of its user
(403), the device's status (revoked 403 with the device API's status issue; a device flagged
for wipe may still push, to drain before it wipes: docs/device-registry.md "Wipe"), then the
body (400, with the protocol versions the server speaks). The answer leaves only once every
event in it has been committed. Every decision is audited: each event by ingest, a refused
push here, a review request by the queue.
"""

from __future__ import annotations

import time
from collections import Counter

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import FhirError
from bedside.fhir import json_body
from bedside.fleet.device_auth import DeviceAuth
from bedside.metrics import daily
from bedside.metrics.registry import Metrics
from bedside.policy.decide import Policy
from bedside.protocol.push import parse_push
from bedside.rest.trail import Trail
from bedside.store.base import Store
from bedside.sync.ingest import Ingest
from bedside.sync.review_service import ReviewQueue
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["SyncApi"]


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
        queue = await self._queue(request)
        listed = await run_in_threadpool(
            queue.listing,
            params.get("role"),
            params.get("state", "open"),
            params.get("cursor"),
            params.get("count"),
        )
        return responses.json(200, listed)

    async def show_item(self, request: Request) -> Response:
        queue = await self._queue(request)
        return responses.json(
            200, await run_in_threadpool(queue.item, request.path_params["item_id"])
        )

    async def resolve_item(self, request: Request) -> Response:
        queue = await self._queue(request)
        raw = await request.body()
        item = await run_in_threadpool(queue.resolve, request.path_params["item_id"], raw)
        return responses.json(200, item)

    async def _queue(self, request: Request) -> ReviewQueue:
        """The review queue bound to the bearer token's caller (401 before anything else)."""
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        network = request.client.host if request.client else None
        return ReviewQueue(
            self.store, self.policy, self.auditor, caller, self.base, network=network
        )

    def _refused(
        self, caller: Caller, network: str | None, subtype: str, exc: FhirError, words: str
    ) -> None:
        """Audit a refused request on its own (its transaction, if any, rolled back)."""
        trail = Trail(caller, self.policy.clock, network)
        trail.failure(subtype, None, exc, description=f"{words} ({exc.status})")
        self.auditor.submit(trail.entries)
