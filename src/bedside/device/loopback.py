"""The one-shot loopback redirect listener of a native app's sign-in (RFC 8252 §7.3).

A command-line device cannot receive a redirect at a custom URL scheme, so it listens on
``http://127.0.0.1:<free port>/callback`` while the user signs in in a browser; the
authorization server sends the browser back there with ``code`` and ``state``. The listener
binds only the IPv4 loopback address (RFC 8252 §8.3: not ``localhost``, which a resolver could
point elsewhere), accepts one matching response, and stops.

``state`` is checked in constant time (RFC 6749 §10.12): a request with another state is
answered 400 and ignored, so a stray or forged redirect cannot finish someone's sign-in, and
cannot end the wait either. The browser page says only whether to return to the terminal; the
code never appears in any output.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from bedside.device.errors import DeviceError

HOST: Final = "127.0.0.1"
PATH: Final = "/callback"

_DONE: Final = "Signed in. You can close this window and return to the terminal."
_FAILED: Final = "Sign-in was not completed. You can close this window."
_FOREIGN: Final = "This response does not belong to the sign-in this device started."


@dataclass(frozen=True)
class Redirect:
    """What the authorization server sent back: a code, or an error (RFC 6749 §4.1.2)."""

    code: str | None
    error: str | None = None
    description: str | None = None


class LoopbackRedirect:
    """Listen on 127.0.0.1:<free port>/callback for the one redirect carrying ``state``.

    Use as a context manager: the listener serves from a daemon thread until :meth:`wait`
    has its answer or the block ends.
    """

    def __init__(self, state: str) -> None:
        if not state:
            raise ValueError("state must not be empty")
        self._state = state.encode("utf-8")
        self._result: Redirect | None = None
        self._arrived = threading.Event()
        self._httpd = HTTPServer((HOST, 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://{HOST}:{self.port}{PATH}"

    def __enter__(self) -> LoopbackRedirect:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self, timeout: float) -> str:
        """The authorization code, or DeviceError (timed out, or the server sent an error)."""
        if not self._arrived.wait(timeout):
            raise DeviceError(
                f"No sign-in arrived within {timeout:g} seconds; run the command again."
            )
        result = self._result
        assert result is not None
        if result.code is None:
            reason = result.description or result.error or "no reason given"
            raise DeviceError(f"The server did not complete the sign-in: {_sentence(reason)}")
        return result.code

    def _accept(self, query: dict[str, list[str]]) -> int:
        """Record a redirect if its state matches; the HTTP status to answer with."""
        state = query.get("state", [""])[0].encode("utf-8")
        if self._arrived.is_set() or not hmac.compare_digest(state, self._state):
            return 400
        code = query.get("code", [None])[0]
        error = query.get("error", [None])[0]
        if code is None and error is None:
            return 400
        if error is not None:
            code = None
        self._result = Redirect(code, error, query.get("error_description", [None])[0])
        self._arrived.set()
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != PATH:
                    self._answer(404, "Not found.")
                    return
                status = listener._accept(parse_qs(parts.query))
                if status != 200:
                    self._answer(status, _FOREIGN)
                else:
                    assert listener._result is not None
                    self._answer(200, _DONE if listener._result.code else _FAILED)

            def _answer(self, status: int, text: str) -> None:
                body = (
                    f"<!doctype html><meta charset=utf-8><title>Bedside</title><p>{text}</p>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds the authorization code: never log it

        return Handler


def _sentence(text: str) -> str:
    text = " ".join(text.split())[:200]
    return text if text.endswith(".") else text + "."


__all__ = ["HOST", "PATH", "LoopbackRedirect", "Redirect"]
