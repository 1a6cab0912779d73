"""The Store seam: what the FHIR layer needs from a database, and nothing more.

A :class:`Store` hands out :class:`Session` objects, each one connection inside one database
transaction. Everything a FHIR interaction writes (versions, search index, change-feed positions)
goes through :meth:`Session.apply` in that transaction, so a write and its change-feed entry commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bedside.fhir.search.extract import IndexRows
    from bedside.fhir.search.query import SearchQuery
    from bedside.fhir.search.visibility import Visibility

__all__ = ["Page", "Records", "Session", "Store", "StoredVersion", "Write"]


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

    def current(
        self,
        rtype: str,
        rid: str,
        *,
        for_update: bool = False,
        visible: Visibility | None = None,
    ) -> StoredVersion | None:
        """The current version (possibly a delete), locked against concurrent writers if asked.

        With ``visible``, None also when the caller may not see the resource: to the caller an
        invisible resource and a missing one look the same, in one query.
        """
        ...

    def version(
        self, rtype: str, rid: str, version: int, *, visible: Visibility | None = None
    ) -> StoredVersion | None: ...

    def history(
        self,
        rtype: str | None,
        rid: str | None,
        *,
        since: str | None,
        before_seq: int | None,
        count: int,
        visible: Visibility | None = None,
    ) -> list[StoredVersion]:
        """Versions newest first (by change-feed position), optionally older than a position.

        With ``visible``, only versions of resources whose current version the caller may see.
        """
        ...

    def history_of(
        self,
        types: Mapping[str, Visibility | None],
        rid: str | None,
        *,
        since: str | None,
        at: tuple[str, str] | None,
        before_seq: int | None,
        count: int,
    ) -> list[StoredVersion]:
        """Versions of the resources of ``types`` (each with what of it may be seen; None:
        all), newest first; of one resource when ``rid`` is given (``types`` then holds one).

        ``since``: written at or after that instant; ``at``: current at some time between the
        two instants (http.html#history). Instants are compared as meta.lastUpdated strings.
        """
        ...

    def lock(self, key: str) -> None:
        """Serialize writers that use the same key until this transaction ends."""
        ...

    def lock_all(self, keys: Sequence[str]) -> None:
        """:meth:`lock` each key, in the order given (sort them: writers that take several
        keys in one order cannot deadlock), in one round trip."""
        ...

    def apply(self, writes: Sequence[Write]) -> list[int]:
        """Store new versions with their index rows; return their change-feed positions."""
        ...

    def mark(self, op: str, rtype: str, rid: str, version: int, recorded_at: str) -> int:
        """Put a non-write event (``access-revoked``, ``access-expired``) in the change feed."""
        ...

    def records(self) -> Records:
        """Plain SQL in this session's transaction (audit rows, policy tables)."""
        ...

    def search(
        self,
        query: SearchQuery,
        *,
        snapshot: int,
        after: tuple[object, ...] | None,
        limit: int,
        visible: Visibility | None,
    ) -> Page:
        """One page of matches; ``visible`` (None: no restriction) is part of the query."""
        ...

    def count(self, query: SearchQuery, *, snapshot: int, visible: Visibility | None) -> int: ...

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

    def visible_rids(self, rids: Sequence[int], visible: Visibility) -> set[int]:
        """The subset of ``rids`` (all of one type) that ``visible`` lets the caller see."""
        ...

    def max_seq(self) -> int: ...

    def deleted_since(self, rtype: str, since: str, snapshot: int) -> list[tuple[str, bytes]]:
        """``(id, content of its last live version)`` of each ``rtype`` deleted at or after the
        instant ``since`` (``YYYY-MM-DDThh:mm:ss.sssZ``) and at or below change-feed position
        ``snapshot``: what a Bulk Data export with ``_since`` reports as ``deleted``."""
        ...


class Records(Protocol):
    """Plain SQL on the server's own (non-FHIR) tables, e.g. the authorization server's state.

    Statements use ``?`` placeholders on every backend. One transaction per ``Store.records``.
    """

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def one(self, sql: str, args: Sequence[object] = ()) -> tuple[Any, ...] | None: ...

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        """Execute a statement; return the number of rows it changed."""
        ...


class Store(Protocol):
    dialect: str

    def records(self, *, write: bool = False) -> AbstractContextManager[Records]: ...

    def read(self) -> AbstractContextManager[Session]: ...

    def write(self) -> AbstractContextManager[Session]: ...

    def analyze(self) -> None:
        """Refresh the query planner's statistics, e.g. after a bulk import."""
        ...

    def close(self) -> None: ...
