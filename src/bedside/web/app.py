"""The ASGI application factory. Shared objects are built by the CLI and passed in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bedside.auth.server import AuthServer
from bedside.rest.capability import capability_statement
from bedside.store.base import Store
from bedside.web.fhir_http import FhirEndpoint, json_response
from bedside.web.oauth import OAuthRoutes

_FHIR_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
#: Browser apps on other origins call these; the sign-in pages are deliberately not among them.
_CORS_PREFIXES: Final = ("/fhir", "/auth/token", "/auth/revoke", "/auth/introspect", "/auth/jwks")
_CORS_EXACT: Final = ("/auth/grants", "/auth/smart-style.json", "/auth/launch")


class SelectiveCORS:
    """CORS (any origin, no cookies) on the API and token endpoints, never on the browser pages.

    Bearer tokens travel in a header, not a cookie, so allowing any origin exposes nothing a
    page could not already read with the token it holds.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=[*_FHIR_METHODS, "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "Prefer",
                "If-Match",
                "If-None-Match",
                "If-None-Exist",
            ],
            expose_headers=[
                "Location",
                "Content-Location",
                "ETag",
                "Last-Modified",
                "WWW-Authenticate",
            ],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(_CORS_PREFIXES) or path.startswith(_CORS_EXACT):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(store: Store, auth: AuthServer) -> ASGIApp:
    fhir_base = auth.config.fhir_base
    started = datetime.now(UTC).isoformat(timespec="seconds")
    oauth_uris = {
        "authorize": auth.config.url("authorize"),
        "token": auth.config.url("token"),
        "revoke": auth.config.url("revoke"),
        "introspect": auth.config.url("introspect"),
        "manage": auth.config.url("grants"),
    }
    capability = capability_statement(fhir_base, started, oauth_uris)
    endpoint = FhirEndpoint(store, auth.caller, fhir_base)

    async def metadata(request: Request) -> Response:
        return json_response(200, capability)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def fhir(request: Request) -> Response:
        return await endpoint(request)

    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/fhir/metadata", metadata, methods=["GET"]),
        *OAuthRoutes(auth).routes(),
        Route("/fhir", fhir, methods=_FHIR_METHODS),
        Route("/fhir/{path:path}", fhir, methods=_FHIR_METHODS),
    ]
    return SelectiveCORS(Starlette(routes=routes))
