"""User passwords: argon2id (RFC 9106) via argon2-cffi, with its default cost parameters."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bedside.errors import AdminError

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_new", "hash_password", "spend_equal_time", "verify"]

MIN_LENGTH: Final = 8
MAX_LENGTH: Final = 1024

_HASHER: Final = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4


def check_new(password: str) -> None:
    """Refuse passwords that are too short or too long (NIST SP 800-63B §5.1.1)."""
    if len(password) < MIN_LENGTH:
        raise AdminError(f"The password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise AdminError(f"The password must be at most {MAX_LENGTH} characters long.")


def hash_password(password: str) -> str:
    check_new(password)
    return _HASHER.hash(password)


def verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def spend_equal_time(password: str) -> None:
    """Do the work of a verification for an unknown user, so timing does not tell who exists."""
    verify(_dummy_hash(), password)
