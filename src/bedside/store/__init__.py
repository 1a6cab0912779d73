"""Server persistence: the Store protocol and its SQLite and PostgreSQL implementations."""

from bedside.store.base import Session, Store, StoredVersion, Write
from bedside.store.open import open_store

__all__ = ["Session", "Store", "StoredVersion", "Write", "open_store"]
