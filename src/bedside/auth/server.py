"""Bedside's SMART App Launch 2.x authorization server, without HTTP.

:class:`AuthServer` holds the users, clients, grants and keys, publishes discovery documents,
validates authorization requests and completes them into codes; the token endpoint lives in
:mod:`bedside.auth.token_endpoint`, the audited sign-in and the authorization events in
:mod:`bedside.auth.sign_in_audit`. The web layer (``bedside.web.oauth``) only turns HTTP into
calls here and results back into HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from bedside.audit.entry import Auditor
from bedside.auth import ceilings, rotation
from bedside.auth.caller import Caller
from bedside.auth.client_auth import ASSERTION_ALGORITHMS, ClientAuthenticator
from bedside.auth.clients import METHODS, Client, Clients, redirect_allowed
from bedside.auth.grants import Grants
from bedside.auth.keys import KeyRing
from bedside.auth.scopes import ScopeSet
from bedside.auth.sign_in_audit import SignInAudit
from bedside.auth.tokens import verify
from bedside.auth.users import User, Users
from bedside.errors import BedsideError, OAuthError
from bedside.store.base import Store

DEFAULT_ACCESS_TTL: Final = 15 * 60
MAX_ACCESS_TTL: Final = 3600
BACKEND_TTL: Final = 300
OFFLINE_LIFETIME: Final = 90 * 24 * 3600
ONLINE_LIFETIME: Final = 12 * 3600
_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43,128}")

CAPABILITIES: Final = (
    "launch-standalone",
    "launch-ehr",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-banner",
    "context-style",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
)


@dataclass(frozen=True)
class AuthConfig:
    fhir_base: str  # the FHIR base URL: every token's aud, and the issuer
    root: str  # the server's public root URL (fhir_base without /fhir)
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_grace: int = rotation.DEFAULT_GRACE  # docs/auth.md "Refresh token rotation"

    def __post_init__(self) -> None:
        if not 0 < self.access_ttl <= MAX_ACCESS_TTL:
            raise ValueError("access tokens live between 1 s and 1 h")

    def url(self, path: str) -> str:
        return f"{self.root}/auth/{path}"


@dataclass
class AuthorizationRequest:
    """A validated /authorize request, kept server-side while the user signs in and consents."""

    client_id: str
    redirect_uri: str
    state: str
    scope: str  # requested, already narrowed to the client's registration
    challenge: str
    nonce: str | None = None
    launch: dict[str, Any] = field(default_factory=dict)  # EHR launch context
    launch_user: str | None = None

    def redirect(self, **params: str) -> str:
        sep = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{sep}{urlencode({**params, 'state': self.state})}"


class RedirectError(BedsideError):
    """An authorization error to send back to the client's redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class AuthServer(SignInAudit):
    def __init__(
        self,
        store: Store,
        keyring: KeyRing,
        config: AuthConfig,
        *,
        auditor: Auditor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.config = config
        self.clock = clock
        self.users = Users(store, clock=clock)
        self.clients = Clients(store, clock=clock)
        self.grants = Grants(store, clock=clock, refresh_grace=config.refresh_grace)
        self.client_auth = ClientAuthenticator(
            self.clients, self.grants, config.url("token"), clock=clock
        )
        self.auditor = auditor  # the server's audit trail (sign-ins, tokens, grants)
        #: Client ids of Bedside's own apps (web/first_party.py): their users are not asked
        #: "Allow this app?", since the app is part of the server they already trust.
        self.first_party: set[str] = set()

    # --- discovery -------------------------------------------------------------------------------

    def smart_configuration(self) -> dict[str, Any]:
        """{fhir}/.well-known/smart-configuration (SMART App Launch 2.2 §Conformance)."""
        c = self.config
        return {
            "issuer": c.fhir_base,
            "jwks_uri": c.url("jwks"),
            "authorization_endpoint": c.url("authorize"),
            "token_endpoint": c.url("token"),
            "revocation_endpoint": c.url("revoke"),
            "introspection_endpoint": c.url("introspect"),
            "management_endpoint": c.url("grants"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": list(METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "scopes_supported": [
                *ceilings.CONTEXT_SCOPES,
                "patient/*.cruds",
                "user/*.cruds",
                "system/*.cruds",
                "patient/*.read",
                "user/*.read",
                "system/*.read",
            ],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": list(CAPABILITIES),
        }

    def openid_configuration(self) -> dict[str, Any]:
        c = self.config
        return {
            "issuer": c.fhir_base,
            "authorization_endpoint": c.url("authorize"),
            "token_endpoint": c.url("token"),
            "jwks_uri": c.url("jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "fhirUser", "profile"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "fhirUser"],
            "token_endpoint_auth_methods_supported": list(METHODS),
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }

    def jwks(self) -> dict[str, object]:
        return self.keyring.current().public_jwks()

    # --- bearer tokens on the FHIR API ---------------------------------------------------------

    def caller(self, token: str) -> Caller:
        """The Caller of a bearer token; 401 when invalid, expired or revoked."""
        return verify(
            self.keyring.current(),
            token,
            audience=self.config.fhir_base,
            grant_active=self.grants.is_active,
        )

    # --- /authorize --------------------------------------------------------------------------

    def check_authorization(self, params: dict[str, str]) -> AuthorizationRequest:
        """Validate an authorization request.

        A bad client or redirect URI raises OAuthError (shown to the user, never redirected);
        anything else raises RedirectError carrying the error back to the client.
        """
        client = self.clients.get(params.get("client_id", ""))
        if client is None or client.disabled or client.backend:
            raise OAuthError("invalid_client", "This app is not registered with Bedside.")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_allowed(client.redirect_uris, redirect_uri):
            raise OAuthError("invalid_request", "The redirect_uri is not registered for this app.")
        req = AuthorizationRequest(client.client_id, redirect_uri, params.get("state", ""), "", "")

        def fail(error: str, description: str) -> RedirectError:
            return RedirectError(req.redirect(error=error, error_description=description))

        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "response_type must be code.")
        if not req.state:
            raise fail("invalid_request", "state is required.")
        if params.get("code_challenge_method") != "S256":
            raise fail("invalid_request", "PKCE is required with code_challenge_method S256.")
        challenge = params.get("code_challenge", "")
        if not _CHALLENGE.fullmatch(challenge):
            raise fail("invalid_request", "code_challenge must be 43-128 base64url characters.")
        if params.get("aud", "").rstrip("/") != self.config.fhir_base:
            raise fail("invalid_request", f"aud must be this FHIR server: {self.config.fhir_base}")
        try:
            requested = ceilings.parse(params.get("scope", ""))
        except OAuthError as exc:
            raise fail("invalid_scope", exc.description) from None
        scope = ceilings.narrow(requested, ScopeSet.parse(client.scope))
        if not scope.scopes and not scope.other:
            raise fail("invalid_scope", "None of the requested scopes may be granted to this app.")
        req.scope = scope.text().strip()
        req.challenge = challenge
        req.nonce = params.get("nonce") or None
        if "launch" in params:
            found = self.grants.launch(params["launch"])
            if found is None:
                raise fail("invalid_request", "The launch is unknown or has expired.")
            req.launch, req.launch_user = found
        return req

    def role_scope(self, req: AuthorizationRequest, user: User) -> ScopeSet:
        """What this user may grant this app: the request narrowed by the user's role."""
        ceiling = ScopeSet.parse(ceilings.ROLE_CEILING[user.role])
        return ceilings.narrow(ScopeSet.parse(req.scope), ceiling)

    def needs_patient_choice(self, req: AuthorizationRequest, user: User) -> bool:
        """A clinician's standalone launch with launch/patient: they pick the patient."""
        scopes = self.role_scope(req, user)
        return (
            "launch/patient" in scopes.other
            and not req.launch.get("patient")
            and user.patient_id is None
        )

    def complete(
        self,
        req: AuthorizationRequest,
        user: User,
        *,
        patient: str | None,
        deselected: set[str],
        expand: tuple[str, ...],
    ) -> str:
        """Record the grant, issue a one-time code, and return the redirect to the client."""
        if req.launch_user is not None and req.launch_user != user.id:
            raise RedirectError(
                req.redirect(error="access_denied", error_description="launched by another user")
            )
        scopes = ceilings.without_types(self.role_scope(req, user), deselected, expand)
        context: dict[str, Any] = {}
        if req.launch:
            context.update(
                {
                    k: v
                    for k, v in req.launch.items()
                    if k in ("patient", "encounter", "fhirContext")
                }
            )
            context["need_patient_banner"] = False
        else:
            context["need_patient_banner"] = True
        if user.patient_id is not None:  # a patient's app always sees that patient only
            context["patient"] = user.patient_id
        elif patient and "launch/patient" in scopes.other:
            context["patient"] = patient
        if not scopes.scopes and not scopes.other:
            raise RedirectError(
                req.redirect(error="access_denied", error_description="nothing was allowed")
            )
        lifetime = self.config.access_ttl + 120
        if "offline_access" in scopes.other:
            lifetime = OFFLINE_LIFETIME
        elif "online_access" in scopes.other:
            lifetime = ONLINE_LIFETIME
        grant = self.grants.create(req.client_id, user.id, scopes.text().strip(), context, lifetime)
        code = self.grants.issue_code(grant, req.redirect_uri, req.challenge, req.nonce)
        return req.redirect(code=code)

    def deny(self, req: AuthorizationRequest) -> str:
        return req.redirect(error="access_denied", error_description="The user said no.")

    def client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)


__all__ = [
    "BACKEND_TTL",
    "CAPABILITIES",
    "DEFAULT_ACCESS_TTL",
    "MAX_ACCESS_TTL",
    "OFFLINE_LIFETIME",
    "ONLINE_LIFETIME",
    "AuthConfig",
    "AuthServer",
    "AuthorizationRequest",
    "RedirectError",
]
