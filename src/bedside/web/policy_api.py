"""HTTP for the policy snapshot and break-glass governance (bearer-token JSON APIs).

``GET /policy/snapshot`` signs the caller's current access view for offline use
(docs/policy-snapshot.md), with the pins of the caller's device when the token names one.
``/governance/break-glass`` is the review queue for ``[governance] review_roles`` and
``/governance/break-glass/stats`` the counts for ``monitor_roles``. The work lives in
:mod:`bedside.policy.snapshot` and :mod:`bedside.policy.breakglass`; this module only
authenticates, checks the role, parses the request and turns results into HTTP (errors
become OperationOutcomes at :mod:`bedside.web.errors`). Every body may hold PHI (a queue
item names a patient and a reason), so none is cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import SUCCESS, AuditEntry
from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import Forbidden, InvalidRequest
from bedside.fhir import json_body
from bedside.policy import breakglass
from bedside.policy.decide import Policy
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.store.base import Records, Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token


class PolicyApi:
    def __init__(
        self,
        store: Store,
        auth: AuthServer,
        policy: Policy,
        *,
        pins: Callable[[Records, Caller], Sequence[str]] | None = None,
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

    async def _run(self, request: Request, work: Callable[[Caller], Response]) -> Response:
        """Authenticate (401 before anything else), then run ``work`` off the event loop."""
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        return await run_in_threadpool(work, caller)

    def _require(self, caller: Caller, roles: frozenset[str], what: str) -> None:
        if caller.role is None or caller.role not in roles:
            raise Forbidden(f"Your role cannot {what}.")

    # --- the offline policy snapshot ---------------------------------------------------------

    async def snapshot(self, request: Request) -> Response:
        as_json = "application/json" in request.headers.get("accept", "")

        def work(caller: Caller) -> Response:
            with self.store.records() as db:
                view = self.policy.view(db, caller)
                pins = self.pins(db, caller) if self.pins and caller.device else ()
            claims = snapshot(
                view,
                caller,
                issuer=self.auth.config.fhir_base,
                rules=self.policy.rules,
                now=view.now,
                pins=pins,
            )
            jws = sign_snapshot(claims, self.auth.keyring.current())
            if as_json:
                return responses.json(200, {"snapshot": jws, "claims": claims})
            return Response(jws, media_type="application/jose", headers=responses.NO_STORE)

        return await self._run(request, work)

    # --- governance: the break-glass review queue ---------------------------------------------

    async def queue(self, request: Request) -> Response:
        status = request.query_params.get("status", "open")
        limit = request.query_params.get("limit", "100")

        def work(caller: Caller) -> Response:
            self._require(caller, self.policy.rules.review_roles, "review break-glass access")
            with self.store.records() as db:
                items = breakglass.review_queue(db, status=status, limit=_whole(limit, "limit"))
            return responses.json(200, {"status": status, "items": items})

        return await self._run(request, work)

    async def close(self, request: Request) -> Response:
        grant_id = request.path_params["grant_id"]

        async def body() -> dict[str, Any]:
            parsed = json_body.loads(await request.body())
            if not isinstance(parsed, dict):
                raise InvalidRequest(
                    'Send a JSON object such as {"outcome": "justified", "note": "..."}.'
                )
            return parsed

        def work(caller: Caller, sent: dict[str, Any]) -> Response:
            outcome, note = sent.get("outcome"), sent.get("note")
            if not isinstance(outcome, str) or not (note is None or isinstance(note, str)):
                raise InvalidRequest("outcome must be text, and note text or absent.")
            with self.store.records(write=True) as db:
                item = breakglass.close(
                    db,
                    grant_id,
                    reviewer=caller.fhir_user or caller.subject,
                    outcome=outcome,
                    note=note,
                    now=self.policy.clock(),
                )
                self.auth.auditor.append(  # the review is audited in its own transaction
                    db,
                    [
                        AuditEntry(
                            subtype="break-glass",
                            action="U",
                            outcome=SUCCESS,
                            recorded_ms=int(self.policy.clock() * 1000),
                            user_ref=caller.fhir_user,
                            subject=caller.subject,
                            client_id=caller.client_id,
                            role=caller.role,
                            patients=(item["patient"].partition("/")[2],),
                            description=f"break-glass review closed: {outcome}",
                        )
                    ],
                )
            return responses.json(200, item)

        # authenticate and check the role before reading the body
        caller = await run_in_threadpool(self.auth.caller, bearer_token(request))
        self._require(caller, self.policy.rules.review_roles, "review break-glass access")
        sent = await body()
        return await run_in_threadpool(work, caller, sent)

    async def stats(self, request: Request) -> Response:
        hours = request.query_params.get("hours", "24")

        def work(caller: Caller) -> Response:
            self._require(caller, self.policy.rules.monitor_roles, "read break-glass statistics")
            with self.store.records() as db:
                counts = breakglass.stats(db, now=self.policy.clock(), hours=_whole(hours, "hours"))
            return responses.json(200, counts)

        return await self._run(request, work)


def _whole(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number.") from None
