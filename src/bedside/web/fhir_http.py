"""The one place FHIR requests and outcomes meet HTTP (http.html#general).

Turns a Starlette request into a :class:`FhirRequest`, runs it through a Repository bound to the
caller, and turns the :class:`FhirResponse` into an HTTP response with the right status and
headers; a :class:`FhirError` becomes its OperationOutcome at the server's one error boundary
(:mod:`bedside.web.errors`). Nothing below this module knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bedside.audit.entry import MINOR_FAILURE, AuditEntry, Auditor
from bedside.auth import tokens
from bedside.auth.caller import Caller
from bedside.errors import (
    InvalidRequest,
    NotAcceptable,
    Unauthorized,
    UnsupportedMediaType,
)
from bedside.fhir import json_body
from bedside.fhir.search.query import JSON_FORMATS
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, FhirResponse, Repository
from bedside.rest.bulk_export import BulkExports
from bedside.store.base import Store
from bedside.subscriptions.service import SubscriptionService
from bedside.web.responses import fhir_json

_BODYLESS = frozenset({"GET", "HEAD", "DELETE"})
_JSON_TYPES = (
    "application/fhir+json",
    "application/json",
    "application/json-patch+json",
    "application/merge-patch+json",
)
#: Media ranges of an ``Accept`` header that JSON answers satisfy (http.html#mime-type).
_ACCEPTED = frozenset(
    {
        "*/*",
        "application/*",
        "application/fhir+json",
        "application/json",
        "application/json+fhir",
        "application/json-patch+json",
        "application/merge-patch+json",
    }
)
__all__ = ["FhirEndpoint", "bearer_token", "negotiate"]


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.missing_token()
    return token.strip()


def negotiate(request: Request) -> None:
    """406 when the client asks only for a format this server does not serve (XML, Turtle):
    ``_format`` names another, or no range of ``Accept`` admits JSON (RFC 9110 §12.5.1).
    A missing or empty ``Accept`` admits anything."""
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt.split(";")[0].strip().lower() not in JSON_FORMATS:
        raise NotAcceptable("This server answers in FHIR JSON only (_format=json).")
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return
    ranges = []
    for item in accept.split(","):
        media, *rest = item.split(";")
        q = next((p.split("=", 1)[1] for p in rest if p.strip().startswith("q=")), "1")
        if q.strip() not in ("0", "0.0", "0.00", "0.000"):
            ranges.append(media.strip().lower())
    if not any(r in _ACCEPTED for r in ranges):
        raise NotAcceptable("This server answers in FHIR JSON only: accept application/fhir+json.")


class FhirEndpoint:
    """Serves every /fhir/... path except /metadata."""

    def __init__(
        self,
        store: Store,
        authenticate: Callable[[str], Caller],
        fhir_base: str,
        *,
        policy: Policy,
        auditor: Auditor,
        exports: BulkExports | None = None,
        subscriptions: SubscriptionService | None = None,
    ) -> None:
        self.store = store
        self.exports = exports
        self.subscriptions = subscriptions
        self.authenticate = authenticate  # bearer token -> Caller, or Unauthorized
        self.base = fhir_base
        self.policy = policy
        self.auditor = auditor

    async def __call__(self, request: Request) -> Response:
        negotiate(request)
        if request.method in _BODYLESS:  # one worker-thread hop: authenticate, then run
            req = await _fhir_request(request)
            resp = await run_in_threadpool(self._serve, request, req)
        else:  # authenticate before reading a body
            caller = await run_in_threadpool(self._caller, request)
            req = await _fhir_request(request)
            resp = await run_in_threadpool(self._repository(request, caller).handle, req)
        return _http(resp, pretty=request.query_params.get("_pretty") == "true")

    def _serve(self, request: Request, req: FhirRequest) -> FhirResponse:
        return self._repository(request, self._caller(request)).handle(req)

    def _repository(self, request: Request, caller: Caller) -> Repository:
        network = request.client.host if request.client else None
        return Repository(
            self.store,
            caller,
            self.base,
            policy=self.policy,
            auditor=self.auditor,
            network=network,
            exports=self.exports,
            subscriptions=self.subscriptions,
        )

    def _caller(self, request: Request) -> Caller:
        try:
            return self.authenticate(bearer_token(request))
        except Unauthorized:
            network = request.client.host if request.client else None
            self.auditor.submit(
                [
                    AuditEntry(
                        subtype="read" if request.method in _BODYLESS else "operation",
                        action="E",
                        outcome=MINOR_FAILURE,
                        recorded_ms=int(self.policy.clock() * 1000),
                        description="refused: no valid access token",
                        network=network,
                    )
                ]
            )
            raise


async def _fhir_request(request: Request) -> FhirRequest:
    path = request.path_params.get("path", "").strip("/")
    method = request.method
    body: Any = None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    query = list(request.query_params.multi_items())
    if method in ("POST", "PUT", "PATCH"):
        raw = await request.body()
        if path.endswith("/_search") or (
            method == "POST" and ctype == "application/x-www-form-urlencoded"
        ):
            try:  # parsed here: Starlette's request.form() needs python-multipart
                query.extend(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise InvalidRequest("The form body is not UTF-8.") from None
        elif raw:
            if ctype and ctype not in _JSON_TYPES:
                raise UnsupportedMediaType(
                    "Send FHIR JSON (application/fhir+json) or, for PATCH, "
                    "application/json-patch+json or application/merge-patch+json."
                )
            body = json_body.loads(raw)
        elif method != "POST" or not path.endswith("_search"):
            raise InvalidRequest("This request needs a body.")
    prefer = _prefer(request.headers.get("prefer", ""))
    return FhirRequest(
        method=method,
        path=path,
        query=tuple(query),
        body=body,
        if_match=request.headers.get("if-match"),
        if_none_exist=request.headers.get("if-none-exist"),
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        prefer_return=prefer.get("return"),
        lenient=prefer.get("handling") == "lenient",
        prefer_async="respond-async" in prefer,
        content_type=ctype or None,
    )


def _prefer(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(","):
        for item in part.split(";"):
            key, _, value = item.strip().partition("=")
            if key:
                out[key.lower()] = value.strip('"')
    return out


def _http(resp: FhirResponse, *, pretty: bool) -> Response:
    headers = dict(resp.headers)
    if resp.etag:
        headers["ETag"] = resp.etag
    if resp.last_modified:
        headers["Last-Modified"] = _http_date(resp.last_modified)
    if resp.location:
        headers["Location" if resp.status == 201 else "Content-Location"] = resp.location
    if resp.status == 304:  # RFC 9110 §15.4.5: no content, the validators only
        return Response(status_code=304, headers={**headers, "Cache-Control": "no-store"})
    return fhir_json(resp.status, resp.resource, headers, pretty=pretty)


def _http_date(instant: str) -> str:
    value = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return format_datetime(value, usegmt=True)
