"""Bearer-token APIs of the authorization server that are not OAuth endpoints.

``GET /auth/grants`` lists the apps the signed-in user has authorized; ``DELETE
/auth/grants/{id}`` revokes one (its refresh token and live access tokens stop at once).
``POST /auth/launch`` creates an EHR launch context (clinicians and system callers).
The patient picker's search also lives here: it runs through a Repository bound to the user,
so it shows only patients the user may see.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.auth.accounts import LAUNCH_SECONDS, Accounts
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.auth.server import AuthServer
from bedside.auth.users import User
from bedside.errors import FhirError
from bedside.fhir import json_body
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.web import responses
from bedside.web.fhir_http import bearer_token

__all__ = ["AccountApi", "patient_choices"]


class AccountApi:
    def __init__(self, server: AuthServer, policy: Policy) -> None:
        self.server = server
        self.policy = policy  # the server's access policy, for the launch's FHIR reads

    def routes(self) -> list[Route]:
        return [
            Route("/auth/grants", self.list_grants, methods=["GET"]),
            Route("/auth/grants/{grant_id}", self.revoke_grant, methods=["DELETE"]),
            Route("/auth/launch", self.launch, methods=["POST"]),
        ]

    def _caller(self, request: Request) -> Caller:
        return self.server.caller(bearer_token(request))

    async def _run(self, request: Request, work: Any) -> Response:
        caller = await run_in_threadpool(self._caller, request)
        status, body = await run_in_threadpool(work, caller)
        return responses.json(status, body)

    async def list_grants(self, request: Request) -> Response:
        def work(caller: Caller) -> tuple[int, Any]:
            return 200, {"grants": Accounts(self.server, caller).apps()}

        return await self._run(request, work)

    async def revoke_grant(self, request: Request) -> Response:
        grant_id = request.path_params["grant_id"]
        network = request.client.host if request.client else None

        def work(caller: Caller) -> tuple[int, Any]:
            Accounts(self.server, caller).revoke(grant_id, network)
            return 204, None

        return await self._run(request, work)

    async def launch(self, request: Request) -> Response:
        raw = await request.body()  # past the body limit: web/body_limit.py answers

        def work(caller: Caller) -> tuple[int, Any]:
            repo = _repository(self.server, self.policy, caller)

            def visible(rtype: str, rid: str) -> None:
                repo.handle(FhirRequest("GET", f"{rtype}/{rid}"))  # 404 if not visible

            launch = Accounts(self.server, caller).launch(json_body.loads(raw), visible)
            return 201, {"launch": launch, "expires_in": LAUNCH_SECONDS}

        return await self._run(request, work)


def _repository(server: AuthServer, policy: Policy, caller: Caller) -> Repository:
    """The caller's FHIR repository under the server's policy, audited like the FHIR API."""
    return Repository(
        server.store, caller, server.config.fhir_base, policy=policy, auditor=server.auditor
    )


def patient_choices(
    server: AuthServer, policy: Policy, user: User, query: str, by_id: bool
) -> list[dict[str, str]]:
    """Patients the user may see, by name (or one by id), as {id, name, birth}."""
    caller = Caller(
        user.id, ScopeSet.parse("user/Patient.rs"), role=user.role, fhir_user=user.fhir_user
    )
    repo = _repository(server, policy, caller)
    params: list[tuple[str, str]] = [("_count", "20")]
    if by_id:
        params.append(("_id", query))
    elif query.strip():
        params.append(("name", query.strip()))
    try:
        bundle = repo.handle(FhirRequest("GET", "Patient", query=tuple(params))).resource
    except FhirError:
        return []
    out = []
    for entry in (bundle or {}).get("entry", []):
        resource = entry.get("resource", {})
        out.append(
            {
                "id": str(resource.get("id", "")),
                "name": _display_name(resource),
                "birth": str(resource.get("birthDate", "unknown")),
            }
        )
    return out


def _display_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        given = " ".join(name.get("given", []))
        text = name.get("text") or f"{given} {name.get('family', '')}".strip()
        if text:
            return str(text)
    return "(no name)"
