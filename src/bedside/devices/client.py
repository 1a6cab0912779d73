"""The built-in OAuth client of Bedside's own device app, registered when the server starts.

The device app is a native public client (RFC 8252): no secret it could keep, PKCE S256, and a
loopback redirect on whatever port its one-shot listener got (§7.3; matched by
:func:`bedside.auth.clients.redirect_allowed`). Creating it at start means no operator step
stands between installing the server and enrolling a device. It is created only when missing
(an administrator's later changes, or its removal until the next start, stand), and with
``ON CONFLICT DO NOTHING`` so several server processes starting together do not collide.
"""

from __future__ import annotations

import time
from typing import Final

import orjson

from bedside.store.base import Store

CLIENT_ID: Final = "bedside-device"
NAME: Final = "Bedside device app"
REDIRECT_URI: Final = "http://127.0.0.1/callback"  # any port (RFC 8252 §7.3)
SCOPE: Final = "openid fhirUser offline_access user/*.cruds"


def ensure_device_client(store: Store, now: float | None = None) -> bool:
    """Register ``bedside-device`` unless a client of that id exists; True when created."""
    created = int(now if now is not None else time.time())
    with store.records(write=True) as db:
        return (
            db.run(
                "INSERT INTO auth_clients (client_id, name, auth_method, secret_hash, jwks,"
                " jwks_url, redirect_uris, scope, backend, disabled, created_at)"
                " VALUES (?, ?, 'none', NULL, NULL, NULL, ?, ?, 0, 0, ?)"
                " ON CONFLICT (client_id) DO NOTHING",
                (CLIENT_ID, NAME, orjson.dumps([REDIRECT_URI]).decode(), SCOPE, created),
            )
            > 0
        )
