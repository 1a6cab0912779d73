"""Grants and the one-time secrets that hang off them (codes, refresh tokens, launches).

A *grant* is one authorization of one client: its scopes and launch context. Authorization codes,
refresh tokens and access tokens (claim ``sid``) all point at it, so revoking the grant stops
every one of them at once. Refresh tokens rotate on every use; presenting a rotated one again is
reuse (RFC 9700 §4.14.2) and revokes the grant, except for the retry of a lost answer that
:mod:`bedside.auth.rotation` allows. A code redeemed twice revokes its grant too (RFC 6749
§4.1.2). Secrets are random (256 bits) and stored only as SHA-256 digests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bedside.auth import rotation
from bedside.auth.digests import digest, new_secret
from bedside.auth.rotation import DEFAULT_GRACE, MAX_GRACE
from bedside.errors import OAuthError
from bedside.store.base import Records, Store

__all__ = ["CODE_TTL", "LAUNCH_TTL", "REQUEST_TTL", "Grant", "Grants", "Rotated", "pkce_challenge"]

CODE_TTL: Final = 60
REQUEST_TTL: Final = 15 * 60
LAUNCH_TTL: Final = 10 * 60
_GRANT_COLUMNS: Final = (
    "id, client_id, user_id, scope, context, created_at, expires_at, revoked_at, device"
)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    raw = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    client_id: str
    user_id: str | None
    scope: str
    context: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    expires_at: int = 0
    revoked_at: int | None = None
    device: str | None = None  # the registered device holding it (docs/device-registry.md)

    @property
    def patient(self) -> str | None:
        value = self.context.get("patient")
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class Rotated:
    """A refresh exchanged: its grant, the next refresh token, and whether it was the one
    retry of a lost answer (the same next token as the first exchange handed out)."""

    grant: Grant
    refresh_token: str = field(repr=False)
    retry: bool = False


def _grant(row: tuple[Any, ...]) -> Grant:
    gid, client_id, user_id, scope, context, created, expires, revoked, device = row
    return Grant(
        str(gid),
        str(client_id),
        user_id,
        str(scope),
        orjson.loads(context),
        int(created),
        int(expires),
        revoked if revoked is None else int(revoked),
        device,
    )


class Grants:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        refresh_grace: int = DEFAULT_GRACE,
    ) -> None:
        if not 0 <= refresh_grace <= MAX_GRACE:
            raise ValueError(f"the refresh grace is 0 to {MAX_GRACE} s")
        self.store = store
        self.clock = clock
        self.refresh_grace = refresh_grace  # seconds a lost refresh answer may be retried

    def now(self) -> int:
        return int(self.clock())

    @contextmanager
    def _writing(self, db: Records | None) -> Iterator[Records]:
        """The caller's open write transaction, or a new one of our own."""
        if db is not None:
            yield db
            return
        with self.store.records(write=True) as own:
            yield own

    # --- grants ------------------------------------------------------------------------------

    def create(
        self,
        client_id: str,
        user_id: str | None,
        scope: str,
        context: dict[str, Any],
        lifetime: int,
        db: Records | None = None,
    ) -> Grant:
        now = self.now()
        grant = Grant(
            "g-" + secrets.token_hex(12), client_id, user_id, scope, context, now, now + lifetime
        )
        args = (
            grant.id,
            client_id,
            user_id,
            scope,
            orjson.dumps(context).decode(),
            now,
            grant.expires_at,
            now,
        )
        sql = (
            "INSERT INTO auth_grants (id, client_id, user_id, scope, context, created_at,"
            " expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self._writing(db) as w:
            w.run(sql, args)
        return grant

    def get(self, grant_id: str) -> Grant | None:
        with self.store.records() as db:
            row = db.one(f"SELECT {_GRANT_COLUMNS} FROM auth_grants WHERE id = ?", (grant_id,))
        return _grant(row) if row else None

    def is_active(self, grant_id: str) -> bool:
        """One indexed read per authenticated request: not revoked, not expired, and, for a
        grant bound to a device, that device still active (a device flagged for wipe keeps
        its grant, so it can still learn its status, but its tokens reach nothing else)."""
        with self.store.records() as db:
            row = db.one(
                "SELECT g.expires_at FROM auth_grants g"
                " LEFT JOIN devices d ON d.device_id = g.device"
                " WHERE g.id = ? AND g.revoked_at IS NULL"
                " AND (g.device IS NULL OR d.status = 'active')",
                (grant_id,),
            )
        return row is not None and int(row[0]) > self.now()

    def revoke(self, grant_id: str, why: str, db: Records | None = None) -> bool:
        sql = (
            "UPDATE auth_grants SET revoked_at = ?, revoked_why = ?"
            " WHERE id = ? AND revoked_at IS NULL"
        )
        with self._writing(db) as w:
            return w.run(sql, (self.now(), why, grant_id)) > 0

    def for_user(self, user_id: str) -> list[Grant]:
        """A user's live grants, newest first."""
        with self.store.records() as db:
            rows = db.rows(
                f"SELECT {_GRANT_COLUMNS} FROM auth_grants WHERE user_id = ?"
                " AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC",
                (user_id, self.now()),
            )
        return [_grant(r) for r in rows]

    def states_of(self, user_id: str) -> list[tuple[Grant, str | None, int, int]]:
        """Every grant of a user, newest first, live or not, with when and why it was revoked
        and its refresh tokens (live, spent): what ``bedside support`` shows. No secrets."""
        with self.store.records() as db:
            rows = db.rows(
                f"SELECT {_GRANT_COLUMNS}, revoked_why,"
                " (SELECT COUNT(*) FROM auth_refresh_tokens t WHERE t.grant_id = auth_grants.id"
                "  AND t.rotated_at IS NULL AND t.expires_at > ?),"
                " (SELECT COUNT(*) FROM auth_refresh_tokens t WHERE t.grant_id = auth_grants.id"
                "  AND t.rotated_at IS NOT NULL)"
                " FROM auth_grants WHERE user_id = ? ORDER BY created_at DESC LIMIT 50",
                (self.now(), user_id),
            )
        return [(_grant(r[:9]), r[9], int(r[10]), int(r[11])) for r in rows]

    # --- authorization codes -------------------------------------------------------------------

    def issue_code(self, grant: Grant, redirect_uri: str, challenge: str, nonce: str | None) -> str:
        code = new_secret()
        with self.store.records(write=True) as db:
            db.run(
                "INSERT INTO auth_codes (code_hash, grant_id, redirect_uri, challenge, nonce,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (digest(code), grant.id, redirect_uri, challenge, nonce, self.now() + CODE_TTL),
            )
        return code

    def redeem_code(
        self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> tuple[Grant, str | None]:
        """The grant a code stands for, and its nonce. Single use; checks PKCE and binding."""
        bad = OAuthError("invalid_grant", "The authorization code is invalid, expired or used.")
        now = self.now()
        with self.store.records(write=True) as db:
            row = db.one(
                "SELECT grant_id, redirect_uri, challenge, nonce, expires_at, used_at"
                " FROM auth_codes WHERE code_hash = ?",
                (digest(code),),
            )
            if row is None:
                raise bad
            grant_id, bound_uri, challenge, nonce, expires_at, _ = row
            first_use = db.run(
                "UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
                (now, digest(code)),
            )
            if not first_use:  # committed before refusing: the revocation must stick
                self.revoke(str(grant_id), "authorization code reused", db)
            g = db.one(f"SELECT {_GRANT_COLUMNS} FROM auth_grants WHERE id = ?", (grant_id,))
        if not first_use or g is None or int(expires_at) < now:
            raise bad
        grant = _grant(g)
        if grant.client_id != client_id or grant.revoked_at is not None:
            raise bad
        if redirect_uri != bound_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization.")
        if not verifier:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE).")
        if not hmac.compare_digest(pkce_challenge(verifier), str(challenge)):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
        return grant, nonce

    # --- refresh tokens ------------------------------------------------------------------------

    def issue_refresh(self, grant: Grant, db: Records | None = None) -> str:
        token = new_secret()
        with self._writing(db) as w:
            rotation.insert(w, token, grant.id, self.now(), grant.expires_at)
        return token

    def rotate_refresh(
        self, token: str, client_id: str, allow: Callable[[Grant], None] | None = None
    ) -> Rotated:
        """Exchange a refresh token for its grant and the next refresh token.

        ``allow`` may still refuse (raise) a permitted exchange, which then spends nothing. A
        token already exchanged is reuse and revokes the whole grant (token family), except
        for the retry of a lost answer within the grace (:func:`bedside.auth.rotation.exchange`).
        """
        bad = OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.")
        now = self.now()
        with self.store.records(write=True) as db:
            row = db.one(
                "SELECT grant_id, expires_at FROM auth_refresh_tokens WHERE token_hash = ?",
                (digest(token),),
            )
            if row is None:
                raise bad
            grant_id, expires_at = row
            g = db.one(f"SELECT {_GRANT_COLUMNS} FROM auth_grants WHERE id = ?", (grant_id,))
            if g is None:
                raise bad
            grant = _grant(g)
            if grant.client_id != client_id:
                raise bad  # bound to the client it was issued to
            if grant.revoked_at is not None or int(expires_at) <= now or grant.expires_at <= now:
                raise bad
            done = rotation.exchange(db, token, grant.id, grant.expires_at, now, self.refresh_grace)
            if done.successor is not None:
                if allow is not None:
                    allow(grant)  # raising rolls the exchange back: nothing is spent
                db.run("UPDATE auth_grants SET last_used_at = ? WHERE id = ?", (now, grant.id))
            else:  # committed before refusing: the revocation must stick
                self.revoke(grant.id, "refresh token reused", db)
        if done.successor is None:
            raise bad
        return Rotated(grant, done.successor, done.retry)

    def grant_of_refresh(self, token: str) -> Grant | None:
        """The grant of an unrotated, unexpired refresh token (for introspection/revocation)."""
        with self.store.records() as db:
            row = db.one(
                "SELECT grant_id FROM auth_refresh_tokens WHERE token_hash = ?"
                " AND rotated_at IS NULL AND expires_at > ?",
                (digest(token), self.now()),
            )
            if row is None:
                return None
            g = db.one(f"SELECT {_GRANT_COLUMNS} FROM auth_grants WHERE id = ?", (row[0],))
        return _grant(g) if g else None

    # --- browser authorization requests ----------------------------------------------------------

    def open_request(self, params: dict[str, Any]) -> tuple[str, str]:
        """Store a validated authorization request; return (request id, browser secret)."""
        rid, browser = new_secret(), new_secret()
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_requests WHERE expires_at < ?", (self.now(),))
            db.run(
                "INSERT INTO auth_requests (id, browser_hash, params, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (rid, digest(browser), orjson.dumps(params).decode(), self.now() + REQUEST_TTL),
            )
        return rid, browser

    def load_request(self, rid: str, browser: str) -> tuple[dict[str, Any], str | None, str | None]:
        """(params, signed-in user id, chosen patient) of a request made by this browser."""
        with self.store.records() as db:
            row = db.one(
                "SELECT browser_hash, params, user_id, patient, expires_at FROM auth_requests"
                " WHERE id = ?",
                (rid,),
            )
        if (
            row is None
            or int(row[4]) < self.now()
            or not hmac.compare_digest(str(row[0]), digest(browser))
        ):
            raise OAuthError(
                "invalid_request",
                "This sign-in has expired or was started in another browser. Start again.",
            )
        return orjson.loads(row[1]), row[2], row[3]

    def update_request(
        self, rid: str, *, user_id: str | None = None, patient: str | None = None
    ) -> None:
        with self.store.records(write=True) as db:
            if user_id is not None:
                db.run("UPDATE auth_requests SET user_id = ? WHERE id = ?", (user_id, rid))
            if patient is not None:
                db.run("UPDATE auth_requests SET patient = ? WHERE id = ?", (patient, rid))

    def close_request(self, rid: str) -> None:
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_requests WHERE id = ?", (rid,))

    # --- EHR launches and client assertions ---------------------------------------------------

    def create_launch(self, context: dict[str, Any], user_id: str | None) -> str:
        launch = "l-" + secrets.token_urlsafe(16)
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_launches WHERE expires_at < ?", (self.now(),))
            db.run(
                "INSERT INTO auth_launches (id, context, user_id, expires_at) VALUES (?, ?, ?, ?)",
                (launch, orjson.dumps(context).decode(), user_id, self.now() + LAUNCH_TTL),
            )
        return launch

    def launch(self, launch: str) -> tuple[dict[str, Any], str | None] | None:
        with self.store.records() as db:
            row = db.one(
                "SELECT context, user_id FROM auth_launches WHERE id = ? AND expires_at >= ?",
                (launch, self.now()),
            )
        return (orjson.loads(row[0]), row[1]) if row else None

    def first_use_of_assertion(self, client_id: str, jti: str, expires_at: int) -> bool:
        """Record a client assertion's ``jti``; False when it was seen before (a replay)."""
        with self.store.records(write=True) as db:
            db.run("DELETE FROM auth_assertions WHERE expires_at < ?", (self.now(),))
            inserted = db.run(
                "INSERT INTO auth_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (client_id, jti) DO NOTHING",
                (client_id, jti, expires_at),
            )
        return inserted > 0
