"""Who may scrape ``/metrics``: whoever holds the scrape token (docs/operations.md).

Prometheus scrapes with a long-lived bearer token read from a file (``authorization:
credentials_file``); the server's short-lived OAuth access tokens do not fit that. So
``bedside admin metrics-token`` makes a random token, prints it once, and keeps only its SHA-256
digest in ``<data dir>/metrics-token.sha256`` (owner-only). The digest is read again at every
scrape, so a new token replaces the old one without a restart. Without the file, ``/metrics``
answers 404: metrics are off until an operator turns them on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

__all__ = ["DIGEST_FILE", "ScrapeToken"]

DIGEST_FILE: Final = "metrics-token.sha256"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ScrapeToken:
    """The scrape token's digest in a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DIGEST_FILE

    def configured(self) -> bool:
        return self.path.is_file()

    def matches(self, presented: str) -> bool:
        """Constant-time: the presented token's digest against the kept one."""
        try:
            kept = self.path.read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return False
        return bool(kept) and hmac.compare_digest(_digest(presented), kept)

    def create(self) -> str:
        """A new token (returned once, never stored); the old one stops working."""
        token = secrets.token_urlsafe(32)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(_digest(token) + "\n")
        os.replace(tmp, self.path)
        return token
