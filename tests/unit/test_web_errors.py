"""The server's one error boundary (bedside.web.errors): each error type gets its wire shape,
and anything unexpected a 500 that names the request id and nothing else."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.errors import EventError, Forbidden, OAuthError
from bedside.web.access_log import AccessLog
from bedside.web.errors import FAILED, ErrorBoundary, handlers


async def _forbidden(request: Request) -> Response:
    raise Forbidden("Your role cannot do this.")


async def _oauth(request: Request) -> Response:
    raise OAuthError("invalid_grant", "The code has expired.", headers={"X-Extra": "1"})


async def _event(request: Request) -> Response:
    raise EventError("event.seq must be a whole number")


async def _broken(request: Request) -> Response:
    raise RuntimeError("Patient Jane Doe, born 1970-01-01")  # PHI in a message


def _client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/forbidden", _forbidden),
            Route("/oauth", _oauth),
            Route("/event", _event),
            Route("/broken", _broken),
        ],
        exception_handlers=dict(handlers()),
        middleware=[Middleware(ErrorBoundary)],
    )
    transport = httpx.ASGITransport(app=AccessLog(app))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _get(path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        async with _client() as client:
            return await client.get(path)

    # in a thread of its own: a browser test earlier in the run may leave an event loop
    # running in this one (Playwright's sync API), and asyncio.run refuses to nest
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call()).result()


def test_a_fhir_error_is_its_status_and_an_operation_outcome_never_cached() -> None:
    resp = _get("/forbidden")
    assert resp.status_code == 403
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["content-type"].startswith("application/fhir+json")
    issue = resp.json()["issue"][0]
    assert (issue["code"], issue["diagnostics"]) == ("forbidden", "Your role cannot do this.")


def test_an_oauth_error_is_rfc_6749_json() -> None:
    resp = _get("/oauth")
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant", "error_description": "The code has expired."}
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["pragma"] == "no-cache"
    assert resp.headers["x-extra"] == "1"


def test_an_unreadable_event_is_400_invalid() -> None:
    resp = _get("/event")
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["code"] == "invalid"


def test_anything_else_is_a_500_naming_the_request_id_and_no_phi() -> None:
    resp = _get("/broken")
    assert resp.status_code == 500
    assert resp.headers["cache-control"] == "no-store"
    (issue,) = resp.json()["issue"]
    assert issue["code"] == "exception"
    assert issue["diagnostics"] == f"{FAILED} Request id: {resp.headers['x-request-id']}."
    assert "Jane" not in resp.text and "1970" not in resp.text
