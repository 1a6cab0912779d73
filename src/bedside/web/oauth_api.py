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

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.auth.server import AuthServer
from bedside.auth.users import User
from bedside.errors import FhirError, Forbidden, InvalidRequest, NotFound
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
            if caller.role is None:
                raise Forbidden("Only a signed-in user has authorized apps.")
            out = []
            for g in self.server.grants.for_user(caller.subject):
                client = self.server.clients.get(g.client_id)
                out.append(
                    {
                        "id": g.id,
                        "client_id": g.client_id,
                        "client_name": client.name if client else g.client_id,
                        "scope": g.scope,
                        "patient": g.patient,
                        "authorized_at": g.created_at,
                        "expires_at": g.expires_at,
                    }
                )
            return 200, {"grants": out}

        return await self._run(request, work)

    async def revoke_grant(self, request: Request) -> Response:
        grant_id = request.path_params["grant_id"]

        def work(caller: Caller) -> tuple[int, Any]:
            grant = self.server.grants.get(grant_id)
            if caller.role is None or grant is None or grant.user_id != caller.subject:
                raise NotFound("No such authorized app.")
            self.server.grants.revoke(grant.id, "revoked by the user")
            self.server.audit(
                "token-revoke",
                subject=caller.subject,
                user_ref=caller.fhir_user,
                role=caller.role,
                client_id=grant.client_id,
                network=request.client.host if request.client else None,
                description="an app's access revoked by the user",
            )
            return 204, None

        return await self._run(request, work)

    async def launch(self, request: Request) -> Response:
        raw = await request.body()  # past the body limit: web/body_limit.py answers

        def work(caller: Caller) -> tuple[int, Any]:
            if caller.role not in (None, "doctor", "nurse"):
                raise Forbidden("Only clinicians and services can launch apps.")
            body = json_body.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("patient"), str):
                raise InvalidRequest('A launch needs "patient" (a Patient id).')
            repo = _repository(self.server, self.policy, caller)
            repo.handle(FhirRequest("GET", f"Patient/{body['patient']}"))  # 404 if not visible
            context: dict[str, Any] = {"patient": body["patient"]}
            if isinstance(body.get("encounter"), str):
                repo.handle(FhirRequest("GET", f"Encounter/{body['encounter']}"))
                context["encounter"] = body["encounter"]
            if isinstance(body.get("fhirContext"), list):
                context["fhirContext"] = body["fhirContext"]
            user_id = caller.subject if caller.role is not None else None
            launch = self.server.grants.create_launch(context, user_id)
            return 201, {"launch": launch, "expires_in": 600}

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
