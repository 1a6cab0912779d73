"""The SQL implementation of :class:`~bedside.store.base.Session`, shared by both backends.

Dialect differences (placeholders, id allocation, locks) live in :class:`Dialect` subclasses in
``sqlite.py`` and ``postgres.py``; how a version is written (its rows, index and change-feed
position) is in ``writing.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bedside.fhir.search.query import SearchQuery
from bedside.fhir.search.visibility import Visibility
from bedside.store import sqlsearch, writing
from bedside.store.base import Page, StoredVersion, Write
from bedside.store.sqlsearch import COLUMNS, FROM

__all__ = ["Cursor", "Dialect", "SqlRecords", "SqlSession"]


class Cursor(Protocol):
    def execute(self, sql: Any, params: Any = ...) -> Any: ...
    def executemany(self, sql: Any, params: Any) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Dialect(Protocol):
    name: str

    def sql(self, text: str) -> str:
        """Rewrite ``?`` placeholders for the driver."""
        ...

    def allocate(self, cur: Cursor, what: str, n: int) -> list[int]:
        """Reserve ``n`` new values of ``rid`` or ``seq``, increasing, inside the transaction."""
        ...

    def lock(self, cur: Cursor, key: str) -> None: ...

    def lock_all(self, cur: Cursor, keys: Sequence[str]) -> None: ...

    def insert(self, cur: Cursor, table: str, cols: str, rows: Sequence[Sequence[object]]) -> None:
        """Insert many rows at once (executemany, or COPY where the driver has it)."""
        ...

    for_update: str


def _row(r: Sequence[Any]) -> StoredVersion:
    content = r[8]
    return StoredVersion(
        rid=r[0],
        type=r[1],
        id=r[2],
        version=r[3],
        deleted=bool(r[4]),
        last_updated=r[5],
        seq=r[6],
        method=r[7],
        content=bytes(content) if content is not None else None,
    )


class SqlRecords:
    """:class:`bedside.store.base.Records` over one DB-API cursor in an open transaction."""

    def __init__(self, cur: Cursor, dialect: Dialect) -> None:
        self._cur = cur
        self._d = dialect
        #: Locks this transaction holds: they last until it ends (a rollback to a savepoint
        #: keeps them), so taking one again is a round trip for nothing.
        self._held: set[str] = set()

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(self._d.sql(sql), args)
        return [tuple(r) for r in self._cur.fetchall()]

    def one(self, sql: str, args: Sequence[object] = ()) -> tuple[Any, ...] | None:
        self._cur.execute(self._d.sql(sql), args)
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        self._cur.execute(self._d.sql(sql), args)
        return int(getattr(self._cur, "rowcount", 0) or 0)


class SqlSession:
    """A Session over one DB-API cursor in an open transaction."""

    def __init__(self, cur: Cursor, dialect: Dialect) -> None:
        self._cur = cur
        self._d = dialect
        #: Locks this transaction holds: they last until it ends (a rollback to a savepoint
        #: keeps them), so taking one again is a round trip for nothing.
        self._held: set[str] = set()

    def records(self) -> SqlRecords:
        """Plain SQL in this session's transaction."""
        return SqlRecords(self._cur, self._d)

    def _exec(self, text: str, args: Sequence[object] = ()) -> Cursor:
        self._cur.execute(self._d.sql(text), args)
        return self._cur

    def current(
        self,
        rtype: str,
        rid: str,
        *,
        for_update: bool = False,
        visible: Visibility | None = None,
    ) -> StoredVersion | None:
        suffix = self._d.for_update if for_update else ""
        access = _visible(visible)
        row = self._exec(
            f"SELECT {COLUMNS} FROM {FROM} WHERE r.type = ? AND r.id = ?{access.text}{suffix}",
            (rtype, rid, *access.args),
        ).fetchone()
        return _row(row) if row else None

    def version(
        self, rtype: str, rid: str, version: int, *, visible: Visibility | None = None
    ) -> StoredVersion | None:
        access = _visible(visible)
        row = self._exec(
            "SELECT r.rid, r.type, r.id, v.version, v.deleted, v.last_updated, v.seq, v.method,"
            " v.content FROM resources r JOIN resource_versions v ON v.rid = r.rid"
            f" WHERE r.type = ? AND r.id = ? AND v.version = ?{access.text}",
            (rtype, rid, version, *access.args),
        ).fetchone()
        return _row(row) if row else None

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
        conds: list[str] = []
        args: list[object] = []
        if rtype is not None:
            conds.append("r.type = ?")
            args.append(rtype)
        if rid is not None:
            conds.append("r.id = ?")
            args.append(rid)
        if since is not None:
            conds.append("v.last_updated >= ?")
            args.append(since)
        if before_seq is not None:
            conds.append("v.seq < ?")
            args.append(before_seq)
        where = " AND ".join(conds) or "1 = 1"
        access = _visible(visible)
        where += access.text
        args.extend(access.args)
        args.append(count)
        rows = self._exec(
            "SELECT r.rid, r.type, r.id, v.version, v.deleted, v.last_updated, v.seq, v.method,"
            " v.content FROM resources r JOIN resource_versions v ON v.rid = r.rid"
            f" WHERE {where} ORDER BY v.seq DESC LIMIT ?",
            args,
        ).fetchall()
        return [_row(r) for r in rows]

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
        if not types:
            return []
        conds: list[str] = []
        args: list[object] = []
        whole = [t for t, visible in types.items() if visible is None]
        ors = [f"r.type IN ({', '.join('?' for _ in whole)})"] if whole else []
        args.extend(whole)
        for rtype, visible in types.items():
            if visible is not None:
                access = _visible(visible)
                ors.append(f"(r.type = ?{access.text})")
                args.extend([rtype, *access.args])
        conds.append("(" + " OR ".join(ors) + ")")
        if rid is not None:
            conds.append("r.id = ?")
            args.append(rid)
        if since is not None:
            conds.append("v.last_updated >= ?")
            args.append(since)
        if at is not None:  # written by the end, and not replaced before the start
            conds.append(
                "v.last_updated <= ? AND NOT EXISTS (SELECT 1 FROM resource_versions n"
                " WHERE n.rid = v.rid AND n.version > v.version AND n.last_updated < ?)"
            )
            args.extend([at[1], at[0]])
        if before_seq is not None:
            conds.append("v.seq < ?")
            args.append(before_seq)
        args.append(count)
        rows = self._exec(
            "SELECT r.rid, r.type, r.id, v.version, v.deleted, v.last_updated, v.seq, v.method,"
            " v.content FROM resources r JOIN resource_versions v ON v.rid = r.rid"
            f" WHERE {' AND '.join(conds)} ORDER BY v.seq DESC LIMIT ?",
            args,
        ).fetchall()
        return [_row(r) for r in rows]

    def lock(self, key: str) -> None:
        if key not in self._held:
            self._d.lock(self._cur, key)
            self._held.add(key)

    def lock_all(self, keys: Sequence[str]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k not in self._held]
        if wanted:
            self._d.lock_all(self._cur, wanted)
            self._held.update(wanted)

    def apply(self, writes: Sequence[Write]) -> list[int]:
        return writing.apply(self._cur, self._d, writes)

    def mark(self, op: str, rtype: str, rid: str, version: int, recorded_at: str) -> int:
        """Put a non-write event (e.g. ``access-revoked``) in the change feed; return its seq."""
        return writing.mark(self._cur, self._d, op, (rtype, rid, version), recorded_at)

    def search(
        self,
        query: SearchQuery,
        *,
        snapshot: int,
        after: tuple[object, ...] | None,
        limit: int,
        visible: Visibility | None,
    ) -> Page:
        sql, nsort = sqlsearch.page(query, snapshot, after, limit, visible)
        rows = self._exec(sql.text, sql.args).fetchall()
        return Page([_row(r) for r in rows], [tuple(r[9 : 9 + nsort]) for r in rows])

    def count(self, query: SearchQuery, *, snapshot: int, visible: Visibility | None) -> int:
        sql = sqlsearch.count(query, snapshot, visible)
        row = self._exec(sql.text, sql.args).fetchone()
        return int(row[0])

    def referenced(
        self, rids: Sequence[int], param_keys: Sequence[str], target_type: str | None
    ) -> list[StoredVersion]:
        if not rids or not param_keys:
            return []
        marks = ", ".join("?" for _ in rids)
        pmarks = ", ".join("?" for _ in param_keys)
        args: list[object] = [*rids, *param_keys, False]
        extra = ""
        if target_type is not None:
            extra = " AND x.target_type = ?"
            args.append(target_type)
        rows = self._exec(
            f"SELECT DISTINCT {COLUMNS} FROM idx_reference x"
            " JOIN resources r ON r.type = x.target_type AND r.id = x.target"
            " JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"
            f" WHERE x.rid IN ({marks}) AND x.param IN ({pmarks}) AND r.deleted = ?{extra}",
            args,
        ).fetchall()
        return [_row(r) for r in rows]

    def referencing(
        self, targets: Sequence[tuple[str, str]], param_key: str
    ) -> list[StoredVersion]:
        if not targets:
            return []
        ors = " OR ".join("(x.target_type = ? AND x.target = ?)" for _ in targets)
        args: list[object] = [param_key]
        for t in targets:
            args.extend(t)
        args.append(False)
        rows = self._exec(
            f"SELECT DISTINCT {COLUMNS} FROM idx_reference x JOIN resources r ON r.rid = x.rid"
            " JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"
            f" WHERE x.param = ? AND ({ors}) AND r.deleted = ?",
            args,
        ).fetchall()
        return [_row(r) for r in rows]

    def visible_rids(self, rids: Sequence[int], visible: Visibility) -> set[int]:
        if not rids or visible.nothing:
            return set()
        access = sqlsearch.visibility(visible)
        marks = ", ".join("?" for _ in rids)
        rows = self._exec(
            f"SELECT r.rid FROM resources r WHERE r.rid IN ({marks}) AND {access.text}",
            [*rids, *access.args],
        ).fetchall()
        return {int(r[0]) for r in rows}

    def max_seq(self) -> int:
        row = self._exec("SELECT COALESCE(MAX(seq), 0) FROM change_feed").fetchone()
        return int(row[0])

    def deleted_since(self, rtype: str, since: str, snapshot: int) -> list[tuple[str, bytes]]:
        rows = self._exec(
            "SELECT r.id, v.content FROM resources r JOIN resource_versions v"
            " ON v.rid = r.rid AND v.version = r.version - 1"
            " WHERE r.type = ? AND r.deleted = ? AND r.last_updated >= ? AND r.seq <= ?"
            " ORDER BY r.rid",
            (rtype, True, since, snapshot),
        ).fetchall()
        return [(str(r[0]), bytes(r[1])) for r in rows if r[1] is not None]


def _visible(visible: Visibility | None) -> sqlsearch.Sql:
    """`` AND <visibility>`` for a WHERE clause on ``resources r`` ("" when unrestricted)."""
    if visible is None:
        return sqlsearch.Sql()
    access = sqlsearch.visibility(visible)
    return sqlsearch.Sql(f" AND {access.text}", access.args)
