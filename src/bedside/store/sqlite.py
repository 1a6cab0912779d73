"""SQLite store: one writer at a time (BEGIN IMMEDIATE), readers in parallel under WAL."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bedside.errors import StoreError
from bedside.store.migrations import migrations
from bedside.store.session import Cursor, SqlRecords, SqlSession

__all__ = ["SqliteDialect", "SqliteStore"]


class SqliteDialect:
    name = "sqlite"
    for_update = ""  # the single writer already excludes others

    def sql(self, text: str) -> str:
        return text

    def allocate(self, cur: Cursor, what: str, n: int) -> list[int]:
        # Safe because the caller holds SQLite's write lock (BEGIN IMMEDIATE).
        table = "resources" if what == "rid" else "change_feed"
        start = int(cur.execute(f"SELECT COALESCE(MAX({what}), 0) FROM {table}").fetchone()[0])
        return list(range(start + 1, start + 1 + n))

    def lock(self, cur: Cursor, key: str) -> None:
        """Nothing to do: a write transaction already excludes every other writer."""

    def lock_all(self, cur: Cursor, keys: Sequence[str]) -> None:
        """Nothing to do, likewise."""

    def insert(self, cur: Cursor, table: str, cols: str, rows: Sequence[Sequence[object]]) -> None:
        marks = ", ".join("?" for _ in cols.split(","))
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


class SqliteStore:
    """A Store on one SQLite file. Connections are pooled per thread of use."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._dialect = SqliteDialect()
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        # Switching a new file to WAL can be refused at once (no busy wait) while another
        # connection opens it; retry briefly so stores opened together on one file all start.
        for attempt in range(300):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 299:
                    raise
                time.sleep(0.01)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-65536")
        self._all.append(conn)
        return conn

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            self._pool.put(conn)

    def migrate(self) -> None:
        with self._write_lock, self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for mg in migrations("sqlite"):
                if mg.version in done:
                    continue
                stamp = datetime.now(UTC).isoformat()
                try:
                    # The version row goes first: a store opened concurrently on the same file
                    # that already applied it makes this fail before any of the migration runs.
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\nINSERT INTO schema_migrations VALUES "
                        f"({mg.version}, '{mg.name}', '{stamp}');\n{mg.sql}\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    applied = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (mg.version,)
                    ).fetchone()
                    if applied:
                        continue
                    raise StoreError(f"migration {mg.version} failed: {exc}") from exc

    def schema_version(self) -> int:
        with self._conn() as conn:
            return int(conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    @contextmanager
    def records(self, *, write: bool = False) -> Iterator[SqlRecords]:
        """Writes run in one transaction; reads run each statement on its own (autocommit)."""
        if write:
            with self.write() as session:
                yield session.records()
            return
        with self._conn() as conn:
            yield SqlRecords(conn.cursor(), self._dialect)

    @contextmanager
    def read(self) -> Iterator[SqlSession]:
        with self._conn() as conn:
            conn.execute("BEGIN")
            try:
                yield SqlSession(conn.cursor(), self._dialect)
            finally:
                conn.execute("ROLLBACK")

    @contextmanager
    def write(self) -> Iterator[SqlSession]:
        with self._write_lock, self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqlSession(conn.cursor(), self._dialect)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def analyze(self) -> None:
        """Refresh planner statistics (after a bulk import)."""
        with self._write_lock, self._conn() as conn:
            conn.execute("ANALYZE")

    def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()
