"""Server-side sessions of Bedside's own browser apps, kept in the database so every
``--workers`` process sees the same ones (docs/first-party-apps.md).

Two short records: a pending sign-in (the OAuth ``state`` and the PKCE verifier, for ten
minutes) and a session (the Caller its grant stands for, its CSRF token, when it was last used).
The browser holds only random secrets; the database holds their digests, so a copy of it lets
nobody in. A session never outlives its grant, and :meth:`BrowserSessions.find` checks the grant
is still live on every request, exactly as :meth:`~bedside.auth.server.AuthServer.caller` does
for a bearer token: revoking the grant (sign-out, "Disconnect", an administrator) ends the
session at once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import orjson

from bedside.auth import digests
from bedside.auth.caller import Caller
from bedside.store.base import Store

__all__ = ["SIGN_IN_WINDOW", "BrowserSession", "BrowserSessions"]

#: How long a started sign-in may take before its state is forgotten.
SIGN_IN_WINDOW: Final = 10 * 60
#: ``seen_at`` is rewritten at most this often, so reading pages does not write on every request.
_TOUCH_EVERY: Final = 30


@dataclass(frozen=True)
class BrowserSession:
    """One signed-in browser. ``repr`` shows no secret."""

    app: str
    grant_id: str
    caller: Caller
    csrf: str = field(repr=False)
    created_at: int
    expires_at: int

    def csrf_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), token.encode())


class BrowserSessions:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    # --- sign-in ---------------------------------------------------------------------------

    def start_sign_in(self, app: str, next_path: str) -> tuple[str, str]:
        """A new ``(state, verifier)``; the state goes to the browser (cookie and URL)."""
        state, verifier = digests.new_secret(), secrets.token_urlsafe(48)
        now = self.now()
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_browser_sign_ins WHERE expires_at <= ?", (now,))
            db.run(
                "INSERT INTO auth_browser_sign_ins (state_hash, app, verifier, next_path,"
                " expires_at) VALUES (?, ?, ?, ?, ?)",
                (digests.digest(state), app, verifier, next_path, now + SIGN_IN_WINDOW),
            )
        return state, verifier

    def take_sign_in(self, app: str, state: str) -> tuple[str, str] | None:
        """``(verifier, next_path)`` of a pending sign-in, used up; None when unknown or old."""
        with self.store.records(write=True) as db:
            row = db.one(
                "SELECT verifier, next_path, expires_at FROM auth_browser_sign_ins"
                " WHERE state_hash = ? AND app = ?",
                (digests.digest(state), app),
            )
            if row is None:
                return None
            db.run(
                "DELETE FROM auth_browser_sign_ins WHERE state_hash = ?", (digests.digest(state),)
            )
        if int(row[2]) <= self.now():
            return None
        return str(row[0]), str(row[1])

    # --- sessions --------------------------------------------------------------------------

    def open(self, app: str, caller: Caller, expires_at: int) -> tuple[str, BrowserSession]:
        """A new session for a signed-in caller: ``(cookie secret, session)``."""
        if caller.grant_id is None:
            raise ValueError("a browser session needs the grant it rides on")
        secret, csrf, now = digests.new_secret(), digests.new_secret(), self.now()
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_browser_sessions WHERE expires_at <= ?", (now,))
            db.run(
                "INSERT INTO auth_browser_sessions (id_hash, app, grant_id, caller, csrf,"
                " created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digests.digest(secret),
                    app,
                    caller.grant_id,
                    orjson.dumps(caller.to_record()).decode(),
                    csrf,
                    now,
                    now,
                    expires_at,
                ),
            )
        return secret, BrowserSession(app, caller.grant_id, caller, csrf, now, expires_at)

    def find(self, app: str, secret: str, idle: int) -> BrowserSession | None:
        """The live session of a cookie secret, or None: unknown, idle for longer than ``idle``
        seconds, past its end, or its grant revoked or expired (then it is also deleted)."""
        if not secret:
            return None
        key, now = digests.digest(secret), self.now()
        with self.store.records() as db:
            row = db.one(
                "SELECT s.grant_id, s.caller, s.csrf, s.created_at, s.seen_at, s.expires_at,"
                " g.expires_at, g.revoked_at FROM auth_browser_sessions s"
                " LEFT JOIN auth_grants g ON g.id = s.grant_id"
                " WHERE s.id_hash = ? AND s.app = ?",
                (key, app),
            )
        if row is None:
            return None
        grant_id, fields, csrf, created, seen, ends, grant_ends, revoked = row
        live = (
            now - int(seen) <= idle
            and int(ends) > now
            and grant_ends is not None
            and int(grant_ends) > now
            and revoked is None
        )
        if not live:
            with self.store.records(write=True) as db:
                db.run("DELETE FROM auth_browser_sessions WHERE id_hash = ?", (key,))
            return None
        if now - int(seen) >= _TOUCH_EVERY:
            with self.store.records(write=True) as db:
                db.run("UPDATE auth_browser_sessions SET seen_at = ? WHERE id_hash = ?", (now, key))
        caller = Caller.from_record(orjson.loads(fields))
        return BrowserSession(app, str(grant_id), caller, str(csrf), int(created), int(ends))

    def close(self, app: str, secret: str) -> BrowserSession | None:
        """End a session (sign-out); the session it was, so its grant can be revoked."""
        key = digests.digest(secret)
        with self.store.records(write=True) as db:
            row = db.one(
                "SELECT grant_id, caller, csrf, created_at, expires_at FROM auth_browser_sessions"
                " WHERE id_hash = ? AND app = ?",
                (key, app),
            )
            if row is None:
                return None
            db.run("DELETE FROM auth_browser_sessions WHERE id_hash = ?", (key,))
        caller = Caller.from_record(orjson.loads(row[1]))
        return BrowserSession(app, str(row[0]), caller, str(row[2]), int(row[3]), int(row[4]))
