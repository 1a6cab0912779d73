"""Request body limits, enforced while the body is read (issue 13, finding 11).

One ASGI middleware for the whole server, so no route can forget it. Each path has a limit
(:class:`bedside.settings.BodyLimits`):

- a request whose ``Content-Length`` declares more is answered 413 at once: the app never runs
  and no byte of the body is read (nor is ``100 Continue`` sent to a client that asked);
- otherwise the app's ``receive`` counts the bytes as they arrive, and the moment they pass the
  limit it stops reading: the app's read raises :class:`PayloadTooLarge`, and whatever the app
  then answers is replaced by the 413. At most the limit plus one chunk is ever held.

The 413 has the shape the path answers its errors in: the OAuth endpoints (``/auth/token``,
``/auth/introspect``, ``/auth/revoke``) an RFC 6749 §5.2 error (``invalid_request``), the
sign-in pages their HTML error page, everything else (FHIR, sync, review, device, policy) an
OperationOutcome with code ``too-long``. Every 413 carries ``Connection: close`` (the rest of
the body is never read) and ``Cache-Control: no-store``; its text names the limit, never
anything from the body.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bedside.errors import FhirError, OAuthError
from bedside.numerals import is_number
from bedside.settings import BodyLimits
from bedside.web.oauth import page
from bedside.web.responses import oauth_error, outcome

__all__ = ["BodyLimit", "PayloadTooLarge", "refusal"]

_OAUTH_JSON: Final = ("/auth/token", "/auth/introspect", "/auth/revoke")
_PAGES: Final = ("/auth/authorize", "/auth/signin", "/auth/patient", "/auth/consent")
_CLOSE: Final = {"Connection": "close", "Cache-Control": "no-store"}


class PayloadTooLarge(FhirError):
    """A request body past its path's limit (413)."""

    status = 413
    default_code = "too-long"


def _words(limit: int) -> str:
    return f"The request body is larger than this server accepts here ({limit} bytes)."


def refusal(path: str, limit: int) -> Response:
    """The 413 for ``path``, in the shape that path answers its errors in."""
    if path in _OAUTH_JSON:
        response = oauth_error(OAuthError("invalid_request", _words(limit), status=413))
    elif path in _PAGES:
        response = page("error", 413, title="Cannot sign in", message=_words(limit))
    else:
        response = outcome(PayloadTooLarge(_words(limit)))
    response.headers.update(_CLOSE)
    return response


def _declared(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if is_number(value) else None
    return None


class BodyLimit:
    """ASGI middleware: wrap the app (inside CORS, so a 413 still carries its headers)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limits.for_path(path)
        declared = _declared(scope)
        if declared is not None and declared > limit:
            await refusal(path, limit)(scope, receive, send)
            return
        seen = 0
        over = started = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                raise PayloadTooLarge(_words(limit))
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise PayloadTooLarge(_words(limit))
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the 413 below replaces whatever the app answers
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, answer)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await refusal(path, limit)(scope, receive, send)
