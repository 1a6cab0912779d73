"""PostgreSQL store: pooled connections; writers serialize per key with advisory locks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from bedside.errors import StoreError
from bedside.store.migrations import migrations
from bedside.store.session import Cursor, SqlRecords, SqlSession

__all__ = ["PostgresDialect", "PostgresStore"]

#: Up to this many rows an insert is one INSERT statement, above it a COPY.
_SMALL_INSERT = 64
_MIGRATION_LOCK = 0x6265647369646501  # "bedside" + 1: serializes migrations across servers


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Search SQL is parameterised on the parameter name and value; a generic plan cannot know
    # that "category = laboratory" matches thousands of rows and "patient = X" a few dozen.
    conn.execute("SET plan_cache_mode = force_custom_plan")


class PostgresDialect:
    name = "postgresql"
    for_update = " FOR UPDATE OF r"

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def allocate(self, cur: Cursor, what: str, n: int) -> list[int]:
        seq = "resource_rid_seq" if what == "rid" else "change_seq"
        rows = cur.execute(f"SELECT nextval('{seq}') FROM generate_series(1, %s)", (n,)).fetchall()
        return sorted(int(r[0]) for r in rows)

    def lock(self, cur: Cursor, key: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    def lock_all(self, cur: Cursor, keys: Sequence[str]) -> None:
        """One statement, the keys locked one after another in the order given."""
        cur.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
            " FROM (SELECT k FROM unnest(%s::text[]) WITH ORDINALITY AS t(k, i) ORDER BY i) AS o",
            (list(keys),),
        )

    def insert(self, cur: Cursor, table: str, cols: str, rows: Sequence[Sequence[object]]) -> None:
        """COPY for many rows (several times faster than INSERT for the index rows of a
        Bundle); one multi-row INSERT for a few (a COPY's start and finish are two round
        trips, which dominated a single-resource write: a third of a sync push's time)."""
        if not rows:
            return
        if len(rows) <= _SMALL_INSERT:
            one = "(" + ", ".join("%s" for _ in cols.split(",")) + ")"
            args = [value for row in rows for value in row]
            cur.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(rows))}", args)
            return
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 16) -> None:
        self.url = url
        self._dialect = PostgresDialect()
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True},
                configure=_configure,
                open=True,
                timeout=30.0,
            )
            self._pool.wait(timeout=30.0)
        except (psycopg.Error, Exception) as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        try:
            self.migrate()
        except BaseException:
            self._pool.close()
            raise

    def pool_usage(self) -> dict[str, int]:
        """This process's connection pool: its size, connections idle, requests waiting."""
        stats = self._pool.get_stats()
        return {
            "size": int(stats.get("pool_size", 0)),
            "idle": int(stats.get("pool_available", 0)),
            "waiting": int(stats.get("requests_waiting", 0)),
            "max": int(self._pool.max_size),
        }

    def migrate(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for mg in migrations("postgresql"):
                    if mg.version in done:
                        continue
                    try:
                        with conn.transaction():
                            conn.execute(mg.sql.encode())
                            conn.execute(
                                "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                                (mg.version, mg.name, datetime.now(UTC).isoformat()),
                            )
                    except psycopg.Error as exc:
                        raise StoreError(f"migration {mg.version} failed: {exc}") from exc
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0]) if row else 0

    @contextmanager
    def records(self, *, write: bool = False) -> Iterator[SqlRecords]:
        """Writes run in one transaction; reads run each statement on its own (autocommit),
        one round trip each: the per-request grant check is a single primary-key SELECT."""
        if write:
            with self.write() as session:
                yield session.records()
            return
        with self._pool.connection() as conn:
            yield SqlRecords(conn.cursor(), self._dialect)

    @contextmanager
    def read(self) -> Iterator[SqlSession]:
        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield SqlSession(conn.cursor(), self._dialect)
            finally:
                conn.execute("ROLLBACK")

    @contextmanager
    def write(self) -> Iterator[SqlSession]:
        with self._pool.connection() as conn:
            conn.execute("BEGIN")
            try:
                yield SqlSession(conn.cursor(), self._dialect)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def analyze(self) -> None:
        """Refresh planner statistics (after a bulk import, before autovacuum gets to it)."""
        with self._pool.connection() as conn:
            conn.execute("ANALYZE")

    def close(self) -> None:
        self._pool.close()
