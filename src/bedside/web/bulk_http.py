"""The Bulk Data status and file URLs over HTTP (export.html), beside the FHIR endpoint.

``GET /fhir/$export-status/{job}`` polls (202 with ``Retry-After`` and ``X-Progress`` while the
job runs, 200 with the manifest when it is complete), ``DELETE`` cancels it, and
``GET /fhir/$export-file/{job}/{file}`` streams one NDJSON file from disk. All need the bearer
token of the client that started the job (``requiresAccessToken``): any other caller is told
the job does not exist. Every answer is ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bedside.auth.caller import Caller
from bedside.rest.bulk_export import NDJSON, BulkExports
from bedside.web.fhir_http import bearer_token
from bedside.web.responses import NO_STORE, fhir_json

__all__ = ["BulkEndpoints"]


class BulkEndpoints:
    def __init__(
        self, exports: BulkExports, authenticate: Callable[[str], Caller], fhir_base: str
    ) -> None:
        self.exports = exports
        self.authenticate = authenticate
        self.base = fhir_base.rstrip("/")

    def routes(self) -> list[Route]:
        return [
            Route("/fhir/$export-status/{job}", self.status, methods=["GET", "DELETE"]),
            Route("/fhir/$export-file/{job}/{name}", self.file, methods=["GET"]),
        ]

    async def status(self, request: Request) -> Response:
        job = request.path_params["job"]
        caller = await run_in_threadpool(self.authenticate, bearer_token(request))
        if request.method == "DELETE":
            await run_in_threadpool(self.exports.cancel, caller, job)
            return fhir_json(202, None)
        code, body, headers = await run_in_threadpool(self.exports.status, caller, job, self.base)
        response = fhir_json(code, body, headers)
        if body is not None:
            response.headers["content-type"] = "application/json"
        return response

    async def file(self, request: Request) -> Response:
        job, name = request.path_params["job"], request.path_params["name"]
        caller = await run_in_threadpool(self.authenticate, bearer_token(request))
        path = await run_in_threadpool(self.exports.file, caller, job, name)
        return FileResponse(path, media_type=NDJSON, headers=NO_STORE)
