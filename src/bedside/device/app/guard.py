"""The app's front door: every request and every response pass here (an ASGI middleware).

In order, for each request:

1. **Host** must be ``127.0.0.1:<port>`` or ``localhost:<port>``: a page on another name that
   resolves to loopback (DNS rebinding) is refused before anything else.
2. ``GET /launch?token=…`` spends the launch token (:class:`~bedside.device.app.gate.Gate`) and
   answers with the session cookie (``HttpOnly; SameSite=Strict; Path=/``) and a redirect.
3. Everything else needs that cookie: without it, 403.
4. Only GET, HEAD and POST. There is no CORS: no preflight is answered and no
   ``Access-Control-*`` header is ever sent, so no other origin can read an answer.
5. A POST must come from the app's own origin (``Origin`` and ``Sec-Fetch-Site`` when the
   browser sends them) and carry
   the CSRF token, in the ``X-CSRF-Token`` header or the form's ``csrf`` field (a
   ``multipart/form-data`` form's too, parsed in memory); bodies are limited to 64 KiB, except
   a photo's (``/patients/<id>/photo``, :data:`MAX_PHOTO_BODY`).

And on every response, the app's pages, its JSON, its static files, redirects and refusals
alike: ``Cache-Control: no-store`` (the browser's disk cache is not encrypted, G8), a
Content-Security-Policy allowing only the app's own scripts and styles, and the usual framing,
sniffing and referrer limits.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

from bedside.device.app import multipart
from bedside.device.app.gate import Gate
from bedside.device.photos import MAX_BYTES

__all__ = [
    "CSP",
    "MAX_BODY",
    "MAX_PHOTO_BODY",
    "SECURITY_HEADERS",
    "App",
    "Guard",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = (
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # ids only in paths; nothing leaves for other sites
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_REPLACED: Final = frozenset(name for name, _ in SECURITY_HEADERS) | {b"server"}
MAX_BODY: Final = 64 * 1024
#: A photo form: the largest photo kept, and room for the form's other fields.
MAX_PHOTO_BODY: Final = MAX_BYTES + MAX_BODY
_PHOTO_PATH: Final = re.compile(r"^/patients/[A-Za-z0-9\-.]{1,64}/photo$")
#: ``Sec-Fetch-Site`` values a state change may carry (None: a client that sends none)
_SITES: Final = frozenset({None, "same-origin", "none"})

_NO_SESSION: Final = (
    "This page opens only in the browser window that Bedside started. Open the clinician app "
    "again with: bedside device app --home YOUR-DEVICE-FOLDER"
)
_BAD_HOST: Final = "The clinician app answers only at its own loopback address."
_SPENT: Final = (
    "This launch link has been used already or is not right. Start the clinician app again "
    "to get a new one."
)
_NO_CSRF: Final = "This form is out of date. Go back, reload the page and try again."
_METHOD: Final = "The clinician app does not accept this kind of request."


class Guard:
    """Wraps the app: host check, launch exchange, session, CSRF, security headers."""

    def __init__(self, app: App, gate: Gate, *, landing: str = "/unlock") -> None:
        self.app = app
        self.gate = gate
        self.landing = landing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in _REPLACED and not k.lower().startswith(b"access-control-")
                ]
                message["headers"] = [*headers, *SECURITY_HEADERS]
            await send(message)

        headers = _headers(scope)
        if headers.get("host") not in self.gate.hosts:
            await _plain(secured, 403, _BAD_HOST)
            return
        method, path = scope["method"], scope["path"]
        if path == "/launch" and method == "GET":
            await self._launch(scope, secured)
            return
        if not self.gate.admits(_cookie(headers.get("cookie"), self.gate.cookie)):
            await _plain(secured, 403, _NO_SESSION)
            return
        if method not in ("GET", "HEAD", "POST"):
            await _plain(secured, 405, _METHOD)
            return
        if method != "POST":
            await self.app(scope, receive, secured)
            return
        origin = headers.get("origin")
        site = headers.get("sec-fetch-site")
        if (origin is not None and origin not in self.gate.origins) or site not in _SITES:
            await _plain(secured, 403, _NO_CSRF)
            return
        limit = MAX_PHOTO_BODY if _PHOTO_PATH.match(path) else MAX_BODY
        body = await _body(receive, limit)
        if body is None:
            await _plain(secured, 413, "That request is too large for the clinician app.")
            return
        token = headers.get("x-csrf-token")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if token is None and ctype == "application/x-www-form-urlencoded":
            found = parse_qs(body.decode("latin-1")).get("csrf")
            token = found[0] if found else None
        elif token is None and multipart.is_multipart(ctype):
            field = multipart.parse(headers.get("content-type", ""), body).get("csrf")
            token = field.text if field else None
        if not self.gate.csrf_ok(token):
            await _plain(secured, 403, _NO_CSRF)
            return
        await self.app(scope, _replay(body, receive), secured)

    async def _launch(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        session = self.gate.exchange(token)
        if session is None:
            await _plain(send, 403, _SPENT)
            return
        cookie = f"{self.gate.cookie}={session}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", self.landing.encode()),
                    (b"set-cookie", cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, lower-case names; a repeated header keeps its first value."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _body(receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The whole request body, or None past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, upstream: Receive) -> Receive:
    """The body once, as read; after it, the connection's own messages (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await upstream()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _plain(send: Send, status: int, sentence: str) -> None:
    """A refusal as a small self-contained page (no stylesheet: it may have no session)."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bedside</title>'
        f"</head><body><main><h1>Bedside</h1><p>{sentence}</p></main></body></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(html)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": html})
