"""``GET /patient/consents``: a patient's privacy Consents in plain words.

A patient should be able to check, without a FHIR app, whom they have let see what. This lists
the signed-in patient's own Consents, most recently changed first, in plain words (see
docs/consent.md). Who may call it and what it shows is decided by the caller-bound
:class:`bedside.portal.consents.ConsentListing`; this module authenticates and answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.auth.caller import Caller
from bedside.policy.decide import Policy
from bedside.portal.consents import ConsentListing
from bedside.store.base import Store
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["ConsentApi"]


class ConsentApi:
    """The patient-facing consent routes; ``clock`` gives UNIX seconds (tests pass their own)."""

    def __init__(
        self,
        store: Store,
        authenticate: Callable[[str], Caller],
        clock: Callable[[], float],
        *,
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.authenticate = authenticate
        self.clock = clock
        self.policy = policy  # the server's policy: the patient role's permissions apply too

    def routes(self) -> list[Route]:
        return [Route("/patient/consents", self.list_consents, methods=["GET"])]

    async def list_consents(self, request: Request) -> Response:
        token = bearer_token(request)
        return responses.json(200, await run_in_threadpool(self._list, token))

    def _list(self, token: str) -> dict[str, Any]:
        caller = self.authenticate(token)
        return ConsentListing(self.store, caller, self.clock, policy=self.policy).listing()
