"""Refresh token rotation that survives a lost answer (RFC 6749 §6, RFC 9700 §4.14.2).

Every refresh spends the token presented and issues its successor. Presenting a spent token
again is reuse: the caller revokes the whole grant (the token family). A retry is forgiven,
because the answer carrying the successor can be lost after the server committed (the network
drops it, the server dies before sending it, the device dies before storing it): within
``grace`` seconds of its rotation, and as long as its successor has not been used, the
*previous* token may be presented again, and every such retry gets the **same** successor.
Nothing new is minted for a retry, so no second family can appear, and the grace runs from the
rotation (a retry does not extend it). Any other reuse (after the grace, after the successor
was used) is still reuse.

Tokens are stored only as SHA-256 digests. To hand the same successor back, its row's
predecessor keeps it sealed (AES-256-GCM) under a key derived from the predecessor itself
(HMAC-SHA256 of the token, a key the database never holds): only someone presenting the
previous token can open it, which is exactly who the retry is for. The next rotation in the
family removes the seal, so a family holds at most one.

Concurrency: a first use claims its row with a conditional UPDATE, so of two requests with the
same token one rotates and the other, once the first committed, sees it as a retry and gets
the same successor. A retry holds the successor's row lock until it commits, so a use of the
successor running at the same time is ordered before it (then the retry is reuse) or after it.
Locks are taken newer token first, older second, on every path: no deadlock on PostgreSQL;
SQLite runs one writer at a time anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bedside.auth.digests import digest, new_secret
from bedside.store.base import Records

#: Seconds after a rotation during which the previous token may be retried.
DEFAULT_GRACE: Final = 60
MAX_GRACE: Final = 300
_SEAL_LABEL: Final = b"bedside refresh successor v1"
_NONCE: Final = 12


@dataclass(frozen=True, slots=True)
class Exchange:
    """What a presented refresh token was exchanged for: the successor, and whether this was
    a retry within the grace (``None`` successor: reuse, the family must be revoked)."""

    successor: str | None
    retry: bool = False


def seal(previous: str, successor: str) -> str:
    """``successor`` encrypted under a key only the holder of ``previous`` can derive."""
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(_key(previous)).encrypt(nonce, successor.encode("ascii"), _aad(previous))
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(previous: str, sealed: str) -> str | None:
    """The successor sealed by :func:`seal`, or None when it cannot be opened."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        plain = AESGCM(_key(previous)).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(previous))
        return plain.decode("ascii")
    except (InvalidTag, ValueError, binascii.Error, UnicodeError):
        return None


def _key(previous: str) -> bytes:
    # Not SHA-256(token) (that is the stored digest): a keyed hash under the token itself.
    return hmac.new(previous.encode("utf-8"), _SEAL_LABEL, hashlib.sha256).digest()


def _aad(previous: str) -> bytes:
    return digest(previous).encode("ascii")  # binds the seal to its row


def insert(db: Records, token: str, grant_id: str, now: int, expires_at: int) -> None:
    db.run(
        "INSERT INTO auth_refresh_tokens (token_hash, grant_id, issued_at, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (digest(token), grant_id, now, expires_at),
    )


def exchange(
    db: Records, token: str, grant_id: str, expires_at: int, now: int, grace: int
) -> Exchange:
    """Spend ``token`` (already checked: live, of a live grant of this client) inside the
    caller's write transaction; its successor, or ``Exchange(None)`` for reuse."""
    key = digest(token)
    fresh = new_secret()
    first_use = db.run(
        "UPDATE auth_refresh_tokens SET rotated_at = ?, successor_sealed = ?"
        " WHERE token_hash = ? AND rotated_at IS NULL",
        (now, seal(token, fresh) if grace > 0 else None, key),
    )
    if first_use:
        insert(db, fresh, grant_id, now, expires_at)
        # The family's older seals go: their successors (this token among them) are now used.
        db.run(
            "UPDATE auth_refresh_tokens SET successor_sealed = NULL WHERE grant_id = ?"
            " AND token_hash <> ? AND successor_sealed IS NOT NULL",
            (grant_id, key),
        )
        return Exchange(fresh)
    # Spent already (maybe a moment ago by a concurrent request: this statement sees its commit).
    row = db.one(
        "SELECT rotated_at, successor_sealed FROM auth_refresh_tokens WHERE token_hash = ?",
        (key,),
    )
    if row is None or row[0] is None or row[1] is None or int(row[0]) + grace < now:
        return Exchange(None)
    successor = unseal(token, str(row[1]))
    if successor is None:
        return Exchange(None)
    # Require the successor unused, holding its row lock until commit, so a rotation of the
    # successor running now either finished before (then this is reuse) or waits for us.
    unused = db.run(
        "UPDATE auth_refresh_tokens SET rotated_at = NULL WHERE token_hash = ?"
        " AND rotated_at IS NULL AND expires_at > ?",
        (digest(successor), now),
    )
    return Exchange(successor, retry=True) if unused else Exchange(None)


__all__ = [
    "DEFAULT_GRACE",
    "MAX_GRACE",
    "Exchange",
    "exchange",
    "insert",
    "seal",
    "unseal",
]
