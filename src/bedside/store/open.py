"""Build a Store from a database URL (``sqlite:///path`` or ``postgresql://...``)."""

from __future__ import annotations

from pathlib import Path

from bedside.errors import ConfigurationError
from bedside.store.base import Store

__all__ = ["open_store"]


def open_store(url: str, *, pool_size: int = 8) -> Store:
    """Open (creating and migrating the schema as needed) the store at ``url``."""
    if url.startswith("sqlite:///"):
        from bedside.store.sqlite import SqliteStore

        return SqliteStore(Path(url[len("sqlite:///") :]))
    if url.startswith(("postgresql://", "postgres://")):
        from bedside.store.postgres import PostgresStore

        return PostgresStore(url, pool_size=pool_size)
    raise ConfigurationError(
        "The database URL must start with sqlite:/// or postgresql:// "
        "(for example sqlite:///var/bedside.db)."
    )
