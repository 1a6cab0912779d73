"""HTTP for the policy snapshot and break-glass governance (bearer-token JSON APIs).

``GET /policy/snapshot`` signs the caller's current access view for offline use
(docs/policy-snapshot.md), with the pins of the caller's device when the token names one.
``/governance/break-glass`` is the review queue for ``[governance] review_roles`` and
``/governance/break-glass/stats`` the counts for ``monitor_roles``. The work, the role
checks and the transactions live in the caller-bound services
:class:`bedside.policy.snapshot_service.OfflineSnapshot` and
:class:`bedside.policy.governance.BreakGlassGovernance`; this module only authenticates,
parses the request and turns results into HTTP (errors become OperationOutcomes at
:mod:`bedside.web.errors`). Every body may hold PHI (a queue
item names a patient and a reason), so none is cached.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import InvalidRequest
from bedside.fhir import json_body
from bedside.policy.decide import Policy
from bedside.policy.governance import BreakGlassGovernance
from bedside.policy.snapshot_service import OfflineSnapshot, Pins
from bedside.store.base import Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["PolicyApi"]


class PolicyApi:
    def __init__(
        self,
        store: Store,
        auth: AuthServer,
        policy: Policy,
        *,
        pins: Pins | None = None,
    ) -> None:
        self.store = store
        self.auth = auth
        self.policy = policy
        self.pins = pins  # the patients the caller's device pinned (bedside.fleet.registry)

    def routes(self) -> list[Route]:
        return [
            Route("/policy/snapshot", self.snapshot, methods=["GET"]),
            Route("/governance/break-glass", self.queue, methods=["GET"]),
            Route("/governance/break-glass/stats", self.stats, methods=["GET"]),
            Route("/governance/break-glass/{grant_id}/close", self.close, methods=["POST"]),
        ]

    async def _caller(self, request: Request) -> Caller:
        """The bearer token's caller (401 before anything else)."""
        return await run_in_threadpool(self.auth.caller, bearer_token(request))

    def _governance(self, caller: Caller) -> BreakGlassGovernance:
        return BreakGlassGovernance(self.store, self.policy, self.auth.auditor, caller)

    # --- the offline policy snapshot ---------------------------------------------------------

    async def snapshot(self, request: Request) -> Response:
        as_json = "application/json" in request.headers.get("accept", "")
        offline = OfflineSnapshot(
            self.store,
            self.policy,
            await self._caller(request),
            issuer=self.auth.config.fhir_base,
            keys=self.auth.keyring.current,
            pins=self.pins,
        )
        jws, claims = await run_in_threadpool(offline.signed)
        if as_json:
            return responses.json(200, {"snapshot": jws, "claims": claims})
        return Response(jws, media_type="application/jose", headers=responses.NO_STORE)

    # --- governance: the break-glass review queue ---------------------------------------------

    async def queue(self, request: Request) -> Response:
        status = request.query_params.get("status", "open")
        limit = request.query_params.get("limit", "100")
        governance = self._governance(await self._caller(request))
        queued = await run_in_threadpool(governance.queue, status, limit)
        return responses.json(200, queued)

    async def close(self, request: Request) -> Response:
        governance = self._governance(await self._caller(request))
        governance.require_reviewer()  # before reading the body
        sent = json_body.loads(await request.body())
        if not isinstance(sent, dict):
            raise InvalidRequest(
                'Send a JSON object such as {"outcome": "justified", "note": "..."}.'
            )
        item = await run_in_threadpool(governance.close, request.path_params["grant_id"], sent)
        return responses.json(200, item)

    async def stats(self, request: Request) -> Response:
        hours = request.query_params.get("hours", "24")
        governance = self._governance(await self._caller(request))
        counts = await run_in_threadpool(governance.stats, hours)
        return responses.json(200, counts)
