"""Registered OAuth clients: SMART apps (public or confidential) and backend services.

A client authenticates at the token, introspection and revocation endpoints in one of three ways:
``none`` (a public app: ``client_id`` only, protected by PKCE), ``client_secret_basic`` (HTTP Basic
with a secret of at least 32 characters, stored as a SHA-256 digest) or ``private_key_jwt``
(RFC 7523 client assertion signed with RS384 or ES384 by a key in the client's JWK Set, given as
a file at registration or fetched from its URL). Backend services (client_credentials) must use
``private_key_jwt``, as SMART Backend Services requires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from bedside.auth import ceilings
from bedside.errors import AdminError
from bedside.store.base import Store

__all__ = [
    "METHODS",
    "MIN_SECRET_LENGTH",
    "Client",
    "Clients",
    "check_jwks",
    "check_redirect_uri",
    "digest",
    "redirect_allowed",
]

METHODS: Final = ("none", "client_secret_basic", "private_key_jwt")
MIN_SECRET_LENGTH: Final = 32
_CLIENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")
_LOOPBACK_NETLOC: Final = re.compile(r"(127\.0\.0\.1|\[::1\]):([0-9]{1,5})")
_COLUMNS: Final = (
    "client_id, name, auth_method, secret_hash, jwks, jwks_url, redirect_uris, scope, backend,"
    " disabled"
)


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    auth_method: str
    redirect_uris: tuple[str, ...]
    scope: str
    backend: bool
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    disabled: bool = False

    @property
    def public(self) -> bool:
        return self.auth_method == "none"

    def secret_matches(self, secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(digest(secret), self.secret_hash)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _client(row: tuple[Any, ...]) -> Client:
    cid, name, method, secret_hash, jwks, jwks_url, uris, scope, backend, disabled = row
    return Client(
        client_id=str(cid),
        name=str(name),
        auth_method=str(method),
        redirect_uris=tuple(orjson.loads(uris)),
        scope=str(scope),
        backend=bool(backend),
        secret_hash=secret_hash,
        jwks=orjson.loads(jwks) if jwks else None,
        jwks_url=jwks_url,
        disabled=bool(disabled),
    )


def check_redirect_uri(uri: str) -> None:
    """Absolute, no fragment; https, or http only on a loopback host (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc or parts.scheme not in ("https", "http"):
        raise AdminError(f"'{uri}' is not an absolute http(s) redirect URI without a fragment.")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise AdminError(f"'{uri}' must use https (plain http is allowed only on loopback).")


def redirect_allowed(registered: tuple[str, ...], uri: str) -> bool:
    """Whether an authorization request may use ``uri`` as its redirect.

    An exact match of a registered URI; or, for a registered loopback IP literal without a port
    (``http://127.0.0.1/callback``, ``http://[::1]/callback``), the same URI with any port, as
    RFC 8252 §7.3 requires for native apps that listen on an ephemeral port. Scheme, host, path
    and query must still match exactly; user info, fragments and ``localhost`` never qualify
    (§8.3: a name can resolve elsewhere).
    """
    if uri in registered:
        return True
    parts = urlsplit(uri)
    port = _LOOPBACK_NETLOC.fullmatch(parts.netloc)
    if parts.scheme != "http" or port is None or parts.fragment or "#" in uri:
        return False
    if not 0 < int(port.group(2)) < 65536:
        return False
    bare = f"http://{port.group(1)}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return bare in registered


def check_jwks(jwks: Any) -> dict[str, Any]:
    from joserfc.jwk import KeySet

    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise AdminError('The JWK Set must be a JSON object with a non-empty "keys" array.')
    if any("d" in k for k in jwks["keys"] if isinstance(k, dict)):
        raise AdminError("The JWK Set contains a private key; register only public keys.")
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except Exception as exc:
        raise AdminError(f"The JWK Set cannot be read: {exc}.") from None
    return jwks


class Clients:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def add(
        self,
        client_id: str,
        *,
        redirect_uris: list[str],
        secret: str | None = None,
        jwks: dict[str, Any] | None = None,
        jwks_url: str | None = None,
        backend: bool = False,
        scope: str | None = None,
        name: str | None = None,
    ) -> Client:
        if not _CLIENT_ID.fullmatch(client_id):
            raise AdminError("A client id is 1-128 letters, digits, dots, dashes, colons or _.")
        if sum(x is not None for x in (secret, jwks, jwks_url)) > 1:
            raise AdminError("Choose one of --public, --secret-stdin, --jwks-file or --jwks-url.")
        method = "none"
        if secret is not None:
            if len(secret) < MIN_SECRET_LENGTH:
                raise AdminError(
                    f"A client secret must be at least {MIN_SECRET_LENGTH} characters "
                    "(generate one with: openssl rand -base64 32)."
                )
            method = "client_secret_basic"
        elif jwks is not None or jwks_url is not None:
            method = "private_key_jwt"
            if jwks is not None:
                check_jwks(jwks)
            if jwks_url is not None and urlsplit(jwks_url).scheme not in ("https", "http"):
                raise AdminError("--jwks-url must be an http(s) URL.")
        if backend and method != "private_key_jwt":
            raise AdminError(
                "A backend service authenticates with a signed JWT: give --jwks-file or --jwks-url."
            )
        if not backend and not redirect_uris:
            raise AdminError("An app needs at least one --redirect-uri.")
        for uri in redirect_uris:
            check_redirect_uri(uri)
        scope = scope or (ceilings.DEFAULT_BACKEND_SCOPE if backend else ceilings.DEFAULT_APP_SCOPE)
        parsed = ceilings.parse(scope)
        if backend and any(s.context != "system" for s in parsed.scopes):
            raise AdminError("A backend service's scopes are system/ scopes.")
        if not backend and any(s.context == "system" for s in parsed.scopes):
            raise AdminError("system/ scopes are for backend services (--backend).")
        client = Client(
            client_id=client_id,
            name=name or client_id,
            auth_method=method,
            redirect_uris=tuple(redirect_uris),
            scope=parsed.text().strip(),
            backend=backend,
            secret_hash=digest(secret) if secret is not None else None,
            jwks=jwks,
            jwks_url=jwks_url,
        )
        with self.store.records(write=True) as db:
            if db.one("SELECT 1 FROM auth_clients WHERE client_id = ?", (client_id,)):
                raise AdminError(f"A client '{client_id}' is already registered.")
            db.run(
                f"INSERT INTO auth_clients ({_COLUMNS}, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    client.client_id,
                    client.name,
                    client.auth_method,
                    client.secret_hash,
                    orjson.dumps(jwks).decode() if jwks else None,
                    jwks_url,
                    orjson.dumps(list(redirect_uris)).decode(),
                    client.scope,
                    int(backend),
                    0,
                    int(self.clock()),
                ),
            )
        return client

    def ensure_public(
        self, client_id: str, *, name: str, redirect_uri: str, scope: str, now: float | None = None
    ) -> bool:
        """Register one of Bedside's own public apps unless a client of that id exists (an
        administrator's later changes, or its removal until the next start, stand); True when
        created. ``ON CONFLICT DO NOTHING``: several server processes may start together."""
        created = int(now if now is not None else self.clock())
        with self.store.records(write=True) as db:
            return (
                db.run(
                    f"INSERT INTO auth_clients ({_COLUMNS}, created_at)"
                    " VALUES (?, ?, 'none', NULL, NULL, NULL, ?, ?, 0, 0, ?)"
                    " ON CONFLICT (client_id) DO NOTHING",
                    (client_id, name, orjson.dumps([redirect_uri]).decode(), scope, created),
                )
                > 0
            )

    def get(self, client_id: str) -> Client | None:
        with self.store.records() as db:
            row = db.one(f"SELECT {_COLUMNS} FROM auth_clients WHERE client_id = ?", (client_id,))
        return _client(row) if row else None

    def list(self) -> list[Client]:
        with self.store.records() as db:
            rows = db.rows(f"SELECT {_COLUMNS} FROM auth_clients ORDER BY client_id")
        return [_client(r) for r in rows]

    def remove(self, client_id: str) -> None:
        """Delete a client and revoke every grant it holds."""
        with self.store.records(write=True) as db:
            if not db.run("DELETE FROM auth_clients WHERE client_id = ?", (client_id,)):
                raise AdminError(f"There is no client '{client_id}'.")
            db.run(
                "UPDATE auth_grants SET revoked_at = ?, revoked_why = 'client removed'"
                " WHERE client_id = ? AND revoked_at IS NULL",
                (int(self.clock()), client_id),
            )
