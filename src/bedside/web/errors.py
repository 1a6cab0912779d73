"""The server's one error boundary: where a :class:`~bedside.errors.BedsideError` becomes HTTP.

Routes parse, call and respond; they do not catch errors to answer them. The app factory
(:func:`bedside.web.app.create_app`) registers :func:`handlers` once and wraps the routes in
:class:`ErrorBoundary`:

- :class:`~bedside.errors.FhirError` (the FHIR API and every bearer-token JSON API: sync, review,
  device, policy, governance, consent) → its status, headers and an OperationOutcome, with the
  device API's machine-readable status issue when it carries one (docs/device-registry.md);
- :class:`~bedside.errors.OAuthError` → RFC 6749 §5.2 JSON (``error``, ``error_description``);
- :class:`~bedside.errors.EventError` (a sync event that cannot be read, outside the per-event
  results) → 400 OperationOutcome ``invalid``;
- anything else → 500 OperationOutcome that names only the request id (the ``X-Request-ID``
  of :class:`~bedside.web.access_log.AccessLog`), never a stack trace or PHI; the log line
  names the exception's type only.

A browser page that shows a refusal as a page (sign-in, portal, console) still catches it
itself: that is rendering, not mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bedside.errors import EventError, FhirError, Issue, OAuthError
from bedside.fhir.outcome import operation_outcome
from bedside.web.responses import fhir_json, oauth_error, outcome

__all__ = ["FAILED", "ErrorBoundary", "Handler", "failed", "handlers"]

FAILED: Final = "The server could not complete the request."
log = logging.getLogger("bedside.web")

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _http_only(request: Request, exc: Exception) -> None:
    """A WebSocket has no HTTP answer: its error closes the connection, as it always did."""
    if request.scope["type"] != "http":
        raise exc


def _fhir(request: Request, exc: Exception) -> Response:
    _http_only(request, exc)
    assert isinstance(exc, FhirError)
    return outcome(exc)


def _oauth(request: Request, exc: Exception) -> Response:
    _http_only(request, exc)
    assert isinstance(exc, OAuthError)
    return oauth_error(exc)


def _event(request: Request, exc: Exception) -> Response:
    _http_only(request, exc)
    return fhir_json(400, operation_outcome([Issue("invalid", str(exc))]))


def handlers() -> Mapping[type[Exception], Handler]:
    """The exception handlers for ``Starlette(exception_handlers=...)``."""
    return {FhirError: _fhir, OAuthError: _oauth, EventError: _event}


def failed() -> Response:
    """The 500 for an unexpected error: the request id (to find the log line), nothing else."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    words = f"{FAILED} Request id: {request_id}." if request_id else FAILED
    return fhir_json(500, operation_outcome([Issue("exception", words)]))


class ErrorBoundary:
    """ASGI middleware: an unexpected exception before the answer started becomes
    :func:`failed` (after the answer started, the connection is dropped as before)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # never a stack trace or PHI to the client
            if started:
                raise
            log.error("unhandled error", extra={"error_type": type(exc).__name__})
            await failed()(scope, receive, send)
