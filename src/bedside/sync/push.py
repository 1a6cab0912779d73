"""The server's first check of each pushed event (docs/sync-protocol.md "Push: POST /sync/push").

The push body and its answer are the protocol's (:mod:`bedside.protocol.push`); here an event is
checked to be the pushing device's, its user's, and signed with its key, before any transaction.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bedside.errors import EventError, SignatureError
from bedside.protocol.event import Event, verify
from bedside.sync.results import Settled, rejected

__all__ = ["authentic"]


def authentic(raw: Any, device: str, user: str, key: Ed25519PublicKey) -> Event | Settled:
    """One pushed event, checked to be ``device``'s, recorded by ``user`` and signed with
    ``key``; a :class:`~bedside.sync.results.Settled` (``invalid``, ``wrong-device``,
    ``bad-signature``) otherwise. Needs no transaction."""
    seq = raw.get("seq") if isinstance(raw, dict) else None
    ikey = raw.get("idempotency_key") if isinstance(raw, dict) else None
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    ikey = ikey if isinstance(ikey, str) else None
    if not isinstance(raw, dict):
        return Settled(rejected(seq, ikey, "invalid", "The event is not a JSON object."))
    if raw.get("device") != device:
        reason = "This event was signed for another device than this one."
        return Settled(rejected(seq, ikey, "wrong-device", reason))
    if raw.get("user") != user:
        reason = "This event was recorded by another user than the one signed in."
        return Settled(rejected(seq, ikey, "wrong-device", reason))
    try:
        return verify(raw, key)
    except SignatureError:
        reason = "The event's signature does not match this device's key."
        return Settled(rejected(seq, ikey, "bad-signature", reason))
    except EventError as exc:
        return Settled(rejected(seq, ikey, "invalid", str(exc)))
