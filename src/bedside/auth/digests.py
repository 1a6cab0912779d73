"""The authorization server's one-time secrets (codes, refresh tokens, browser requests): 256
random bits each, stored only as their SHA-256 digest, so the database never holds one."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["digest", "new_secret"]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
