"""HTTP for SMART Health Links (bedside.healthlinks; docs/portal.md "SMART Health Links").

    POST   /shl/m/{id}                  the manifest request (public: the link is the
                                        credential; JSON in and out, CORS for any origin)
    GET    /shl/f/{ticket}              a file by the short-lived location a manifest gave
    GET    /shl/view                    the viewer page: opens a link as a recipient would,
                                        decrypting in the browser with the key in the fragment
    GET    /shl/viewer.js               its script (same origin; no third-party code)
    POST   /patient/health-links        a patient makes a link (bearer token)
    GET    /patient/health-links        their links
    DELETE /patient/health-links/{id}   revoke one

Answers hold PHI or secrets, so none may be cached. The manifest answers the IG's plain JSON
(``{"status", "files"}``, 401 ``{"remainingAttempts"}``, 404 ``{"error"}``); the patient's
routes answer OperationOutcome on errors like the rest of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bedside.auth.caller import Caller
from bedside.errors import FhirError
from bedside.fhir import json_body
from bedside.healthlinks.records import LinkRow
from bedside.healthlinks.service import HealthLinks
from bedside.web.fhir_http import bearer_token
from bedside.web.responses import NO_CACHE, json

__all__ = ["HealthLinksApi", "link_summary"]

_MAX_ID: Final = 64
_VIEWER_HEADERS: Final = {
    **NO_CACHE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self';"
    " style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
}


def _json(status: int, body: Any) -> Response:
    return json(status, body, headers=NO_CACHE)


def link_summary(link: LinkRow, now: float) -> dict[str, Any]:
    """What a patient sees of one of their links (never its file or passcode hash)."""
    state = link.status
    if state == "active" and link.exp is not None and now >= link.exp:
        state = "expired"
    return {
        "id": link.id,
        "label": link.label,
        "what": list(link.what),
        "state": state,
        "passcode": link.passcode_hash is not None,
        "attempts_left": link.attempts_left,
        "created": link.created_at,
        "exp": link.exp,
    }


class HealthLinksApi:
    def __init__(self, links: HealthLinks, authenticate: Callable[[str], Caller]) -> None:
        self.links = links
        self.authenticate = authenticate

    def routes(self) -> list[Route]:
        return [
            Route("/shl/m/{link_id}", self.manifest, methods=["POST"]),
            Route("/shl/f/{ticket}", self.file, methods=["GET"]),
            Route("/shl/view", self.viewer, methods=["GET"]),
            Route("/shl/viewer.js", self.viewer_script, methods=["GET"]),
            Route("/patient/health-links", self.make, methods=["POST"]),
            Route("/patient/health-links", self.list_links, methods=["GET"]),
            Route("/patient/health-links/{link_id}", self.revoke, methods=["DELETE"]),
        ]

    async def manifest(self, request: Request) -> Response:
        link_id = request.path_params["link_id"]
        if len(link_id) > _MAX_ID:
            return _json(404, {"error": "This link does not exist or has ended."})
        try:
            body = json_body.loads(await request.body())
            network = request.client.host if request.client else None
            answer = await run_in_threadpool(self.links.manifest, link_id, body, network)
        except FhirError as exc:  # the SHL IG's own error body, not an OperationOutcome
            return _json(exc.status, {"error": exc.message})
        return _json(answer.status, answer.body)

    async def file(self, request: Request) -> Response:
        """A file by its short-lived ``location`` (SHL IG: ``application/jose``)."""
        ticket = request.path_params["ticket"][:_MAX_ID]
        found = await run_in_threadpool(self.links.file, ticket)
        if found is None:
            return _json(404, {"error": "This file link has expired or its link has ended."})
        return Response(found, media_type="application/jose", headers=NO_CACHE)

    async def viewer(self, request: Request) -> Response:
        page = resources.files("bedside.web").joinpath("static", "shl-viewer.html")
        return HTMLResponse(page.read_text("utf-8"), headers=_VIEWER_HEADERS)

    async def viewer_script(self, request: Request) -> Response:
        script = resources.files("bedside.web").joinpath("static", "shl-viewer.js")
        return Response(
            script.read_text("utf-8"),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    async def make(self, request: Request) -> Response:
        raw = await request.body()
        token = bearer_token(request)

        def work() -> dict[str, Any]:
            caller = self.authenticate(token)
            body = json_body.loads(raw)
            if not isinstance(body, dict):
                body = {}
            days = body.get("days", 30)
            made = self.links.make(
                caller,
                what=body.get("what") or [],
                label=body.get("label") if isinstance(body.get("label"), str) else None,
                days=days if isinstance(days, int) else -1,
                passcode=body.get("passcode") if isinstance(body.get("passcode"), str) else None,
            )
            return {
                "id": made.id,
                "link": made.payload.uri(),
                "viewer_url": made.viewer_url,
                "exp": made.payload.exp,
                "counts": made.counts,
            }

        return _json(201, await run_in_threadpool(work))

    async def list_links(self, request: Request) -> Response:
        token = bearer_token(request)

        def work() -> dict[str, Any]:
            caller = self.authenticate(token)
            now = self.links.clock()
            return {"links": [link_summary(x, now) for x in self.links.links(caller)]}

        return _json(200, await run_in_threadpool(work))

    async def revoke(self, request: Request) -> Response:
        link_id = request.path_params["link_id"]
        token = bearer_token(request)

        def work() -> None:
            self.links.revoke(self.authenticate(token), link_id[:_MAX_ID])

        await run_in_threadpool(work)
        return _json(204, None)
