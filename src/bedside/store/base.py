"""The Store seam: what the FHIR layer needs from a database, and nothing more.

A :class:`Store` hands out :class:`Session` objects, each one connection inside one database
transaction. Everything a FHIR interaction writes (versions, search index, change-feed positions)
goes through :meth:`Session.apply` in that transaction, so a write and its change-feed entry commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bedside.fhir.search.extract import IndexRows
    from bedside.fhir.search.query import SearchQuery


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One stored version of a resource (content is None for a delete)."""

    rid: int
    type: str
    id: str
    version: int
    deleted: bool
    last_updated: str
    seq: int
    method: str
    content: bytes | None


@dataclass(frozen=True, slots=True)
class Write:
    """A new version to store. ``rid`` is None when the resource is new."""

    type: str
    id: str
    version: int
    deleted: bool
    last_updated: str
    method: str
    content: bytes | None
    index: IndexRows | None
    rid: int | None


@dataclass(frozen=True, slots=True)
class Page:
    """Search matches in order, each with its sort key (the position to continue after it)."""

    rows: list[StoredVersion]
    keys: list[tuple[object, ...]]


class Session(Protocol):
    """One connection in one transaction (read-only or read-write)."""

    def current(self, rtype: str, rid: str, *, for_update: bool = False) -> StoredVersion | None:
        """The current version (possibly a delete), locked against concurrent writers if asked."""
        ...

    def version(self, rtype: str, rid: str, version: int) -> StoredVersion | None: ...

    def history(
        self,
        rtype: str | None,
        rid: str | None,
        *,
        since: str | None,
        before_seq: int | None,
        count: int,
    ) -> list[StoredVersion]:
        """Versions newest first (by change-feed position), optionally older than a position."""
        ...

    def lock(self, key: str) -> None:
        """Serialize writers that use the same key until this transaction ends."""
        ...

    def apply(self, writes: Sequence[Write]) -> list[int]:
        """Store new versions with their index rows; return their change-feed positions."""
        ...

    def search(
        self, query: SearchQuery, *, snapshot: int, after: tuple[object, ...] | None, limit: int
    ) -> Page: ...

    def count(self, query: SearchQuery, *, snapshot: int) -> int: ...

    def referenced(
        self, rids: Sequence[int], param_keys: Sequence[str], target_type: str | None
    ) -> list[StoredVersion]:
        """Current versions of resources that ``rids`` point at through the given parameters."""
        ...

    def referencing(
        self, targets: Sequence[tuple[str, str]], param_key: str
    ) -> list[StoredVersion]:
        """Current versions of resources whose parameter ``param_key`` points at ``targets``."""
        ...

    def max_seq(self) -> int: ...


class Store(Protocol):
    dialect: str

    def read(self) -> AbstractContextManager[Session]: ...

    def write(self) -> AbstractContextManager[Session]: ...

    def analyze(self) -> None:
        """Refresh the query planner's statistics, e.g. after a bulk import."""
        ...

    def close(self) -> None: ...
