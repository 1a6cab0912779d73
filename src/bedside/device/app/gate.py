"""Who may use the app: the launch token, the one browser session it opens, its CSRF token.

The app listens on loopback, where every local user and every web page the browser opens can
reach it (a malicious page can send requests to 127.0.0.1; a DNS-rebinding page can even read
the answers under its own name). So nothing answers without the session cookie, and only one
browser gets it: ``bedside device app`` prints (or opens) a launch URL carrying a random
single-use token; the first request with it gets a fresh session id in an ``HttpOnly``,
``SameSite=Strict`` cookie and the token is spent. Whoever sees the URL afterwards (shell
history, a screenshot) has nothing. The session's CSRF token goes into every form and into the
header of the page's own requests; a state change without it is refused.

Every comparison of a secret is constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Final

__all__ = ["COOKIE_PREFIX", "Gate"]

COOKIE_PREFIX: Final = "bedside_app_"
_TOKEN_BYTES: Final = 32


@dataclass
class _Session:
    id: str
    csrf: str
    flash: list[str] = field(default_factory=list)


class Gate:
    """The launch token and the session of one running app (one per process)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port  # set to the bound port before the launch URL is shown
        self._launch: str | None = secrets.token_urlsafe(_TOKEN_BYTES)
        self._session: _Session | None = None
        self._lock = threading.Lock()

    @property
    def cookie(self) -> str:
        """The cookie's name: cookies ignore ports, so two apps on one machine must differ."""
        return f"{COOKIE_PREFIX}{self.port}"

    @property
    def hosts(self) -> frozenset[str]:
        """The Host headers the app answers: loopback by address or name, with its own port
        (anything else is a DNS-rebinding page or a misdirected request)."""
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def launch_url(self) -> str:
        """The one-time address to open (empty once the token is spent)."""
        with self._lock:
            if self._launch is None:
                return ""
            return f"http://127.0.0.1:{self.port}/launch?token={self._launch}"

    def exchange(self, token: str) -> str | None:
        """Spend the launch token: a new session id, or None (wrong or already used)."""
        with self._lock:
            expected = self._launch
            if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
                return None  # a wrong guess (256 bits to find) does not spend the real token
            self._launch = None
            self._session = _Session(
                secrets.token_urlsafe(_TOKEN_BYTES), secrets.token_urlsafe(_TOKEN_BYTES)
            )
            return self._session.id

    def admits(self, session_id: str | None) -> bool:
        """Whether ``session_id`` (the cookie's value) is the app's session."""
        current = self._session
        if current is None or not session_id:
            return False
        return hmac.compare_digest(session_id.encode(), current.id.encode())

    @property
    def csrf(self) -> str:
        current = self._session
        return current.csrf if current is not None else ""

    def csrf_ok(self, value: str | None) -> bool:
        current = self._session
        if current is None or not value:
            return False
        return hmac.compare_digest(value.encode(), current.csrf.encode())

    def flash(self, message: str) -> None:
        """A sentence for the next page (kept in memory: never in a URL)."""
        if self._session is not None:
            self._session.flash.append(message)

    def take_flash(self) -> list[str]:
        current = self._session
        if current is None:
            return []
        out, current.flash = current.flash, []
        return out
