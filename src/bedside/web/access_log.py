"""Bedside's access log: one scrubbed line per HTTP request, in place of uvicorn's.

uvicorn's access log prints the full URL, and a FHIR search URL is PHI
(``/fhir/Patient?name=...&birthdate=...``). This line carries the method, the path *template*
(ids and query removed by :func:`bedside.logs.path_template`), the status and the duration;
never the query, headers, body or client address (an IP address is a HIPAA identifier).

Each request gets a random ``request_id``, bound for every log line written while it runs and
returned in the ``X-Request-ID`` response header, so a user's report can be matched to the log.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bedside.logs import path_template

if TYPE_CHECKING:
    from bedside.metrics.registry import Metrics

__all__ = ["AccessLog"]

_log = structlog.get_logger("bedside.access")


class AccessLog:
    """ASGI middleware: wrap the whole app (outermost) to log every HTTP request once.

    With ``metrics``, the same line is counted there too (route template, method, status,
    duration) with the matched route's path parameters (Starlette's router puts its
    ``endpoint`` and ``path_params`` in the scope), so a random path is one ``unmatched`` route.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = secrets.token_hex(8)
        status = 500  # if the app fails before it starts a response, the server sends a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        error_type: str | None = None
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException as exc:
                error_type = type(exc).__name__
                raise
            finally:
                elapsed = time.perf_counter() - started
                fields = {
                    "method": scope.get("method", ""),
                    "path": path_template(scope.get("path", "")),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
                if self.metrics is not None:
                    self.metrics.request(
                        str(scope.get("path", "")),
                        str(scope.get("method", "")),
                        status,
                        elapsed,
                        scope.get("path_params", {}) if "endpoint" in scope else None,
                    )
                if error_type is not None:
                    fields["error_type"] = error_type
                if status >= 500:
                    _log.error("request", **fields)
                else:
                    _log.info("request", **fields)
