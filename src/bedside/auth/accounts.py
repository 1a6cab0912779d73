"""A signed-in user's own account at the authorization server: their apps and EHR launches.

Built per request for one verified caller (like ``Repository(store, caller)``): it decides what
the caller may do (list and revoke only their own grants; only clinicians and system callers
launch apps) and audits a revocation. The HTTP layer (:mod:`bedside.web.oauth_api`) parses and
answers. A launch's patient and encounter must be visible to the caller: ``visible(type, id)``,
passed in by the caller of this module, reads them under the server's policy (404 if not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bedside.auth.caller import Caller
from bedside.auth.server import AuthServer
from bedside.errors import Forbidden, InvalidRequest, NotFound

__all__ = ["LAUNCHERS", "LAUNCH_SECONDS", "Accounts"]

#: Roles that may create an EHR launch (None: a system caller)
LAUNCHERS: Final = (None, "doctor", "nurse")
LAUNCH_SECONDS: Final = 600


@dataclass
class Accounts:
    server: AuthServer
    caller: Caller

    def apps(self) -> list[dict[str, Any]]:
        """The apps the signed-in user has authorized, as their grants stand."""
        if self.caller.role is None:
            raise Forbidden("Only a signed-in user has authorized apps.")
        out = []
        for g in self.server.grants.for_user(self.caller.subject):
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
        return out

    def revoke(self, grant_id: str, network: str | None) -> None:
        """Revoke one of the user's own grants (its tokens stop at once), audited."""
        caller = self.caller
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
            network=network,
            description="an app's access revoked by the user",
        )

    def launch(self, body: Any, visible: Callable[[str, str], None]) -> str:
        """A launch context for ``body`` (``patient``, optional ``encounter`` and
        ``fhirContext``); the launch id."""
        if self.caller.role not in LAUNCHERS:
            raise Forbidden("Only clinicians and services can launch apps.")
        if not isinstance(body, dict) or not isinstance(body.get("patient"), str):
            raise InvalidRequest('A launch needs "patient" (a Patient id).')
        visible("Patient", body["patient"])
        context: dict[str, Any] = {"patient": body["patient"]}
        if isinstance(body.get("encounter"), str):
            visible("Encounter", body["encounter"])
            context["encounter"] = body["encounter"]
        if isinstance(body.get("fhirContext"), list):
            context["fhirContext"] = body["fhirContext"]
        user_id = self.caller.subject if self.caller.role is not None else None
        return self.server.grants.create_launch(context, user_id)
