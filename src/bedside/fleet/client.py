"""The built-in OAuth client of Bedside's own device app, registered when the server starts.

The device app is a native public client (RFC 8252): no secret it could keep, PKCE S256, and a
loopback redirect on whatever port its one-shot listener got (§7.3; matched by
:func:`bedside.auth.clients.redirect_allowed`). Creating it at start means no operator step
stands between installing the server and enrolling a device. It is created only when missing
(an administrator's later changes, or its removal until the next start, stand), and with
``ON CONFLICT DO NOTHING`` so several server processes starting together do not collide.
"""

from __future__ import annotations

from typing import Final

from bedside.auth.clients import Clients
from bedside.store.base import Store

__all__ = ["CLIENT_ID", "NAME", "REDIRECT_URI", "SCOPE", "ensure_device_client"]

CLIENT_ID: Final = "bedside-device"
NAME: Final = "Bedside device app"
REDIRECT_URI: Final = "http://127.0.0.1/callback"  # any port (RFC 8252 §7.3)
SCOPE: Final = "openid fhirUser offline_access user/*.cruds"


def ensure_device_client(store: Store, now: float | None = None) -> bool:
    """Register ``bedside-device`` unless a client of that id exists; True when created."""
    return Clients(store).ensure_public(
        CLIENT_ID, name=NAME, redirect_uri=REDIRECT_URI, scope=SCOPE, now=now
    )
