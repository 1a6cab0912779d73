"""The ASGI application factory. Shared objects are built by the CLI and passed in."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bedside.auth.keys import SigningKeys
from bedside.rest.capability import capability_statement
from bedside.store.base import Store
from bedside.web.fhir_http import FhirEndpoint, json_response

_FHIR_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def create_app(store: Store, keys: SigningKeys, fhir_base: str) -> Starlette:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    capability = capability_statement(fhir_base, started)
    endpoint = FhirEndpoint(store, keys, fhir_base)

    async def metadata(request: Request) -> Response:
        return json_response(200, capability)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def fhir(request: Request) -> Response:
        return await endpoint(request)

    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/fhir/metadata", metadata, methods=["GET"]),
        Route("/fhir", fhir, methods=_FHIR_METHODS),
        Route("/fhir/{path:path}", fhir, methods=_FHIR_METHODS),
    ]
    return Starlette(routes=routes)
