"""The device's local store: one SQLCipher database, encrypted by the data key (ADR 0007, G8).

Everything the device knows about patients lives in ``<home>/store.db``: resources, the search
index, drafts, the outbox, conflicts, the access log and the meta values (snapshot, refresh
token, device key). SQLCipher 4 encrypts every page, the WAL and the rollback journal with
AES-256 and authenticates them with HMAC-SHA512, so the files on disk are noise without DK.

Opening follows SQLCipher's rules (https://www.zetetic.net/sqlcipher/sqlcipher-api/):
``PRAGMA key`` is the first statement, given the raw 32-byte key as ``x'<hex>'`` (no key
derivation: DK is already random), then a read of ``sqlite_master`` proves the key, because
SQLCipher only decrypts a page when one is read. Then the pragmas:

* ``cipher_memory_security = ON``: SQLCipher wipes and locks the memory it allocates;
* ``journal_mode = WAL`` and ``synchronous = NORMAL``: a commit is one WAL append, durable
  against a process crash (the kill -9 test); a power cut may lose the last commits but never
  corrupts the database (https://www.sqlite.org/wal.html);
* ``temp_store = MEMORY``: sorts and temporary tables never touch an unencrypted temp file;
* ``foreign_keys = ON``.

One connection is shared by the app's threads (a UI thread and a timer), so it is opened with
``check_same_thread=False`` and every use holds :attr:`LocalStore.lock`; SQLite's own
serialisation then never sees two statements at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Final, cast

import sqlcipher3  # type: ignore[import-untyped]  # no stubs; its API is the sqlite3 module's

from bedside.device.errors import DeviceError

__all__ = [
    "CHECKPOINT_EVERY",
    "KEY_BYTES",
    "SCHEMA_VERSION",
    "STORE_FILE",
    "WAL_LIMIT",
    "Connection",
    "DatabaseError",
    "LocalStore",
]

#: sqlcipher3 is the sqlite3 module built against SQLCipher: same classes, same methods.
Connection = sqlite3.Connection
DatabaseError: type[Exception] = sqlcipher3.DatabaseError
_Error: type[Exception] = sqlcipher3.Error

STORE_FILE: Final = "store.db"
SCHEMA_VERSION: Final = "1"
KEY_BYTES: Final = 32
#: Commits between the store's own checkpoints, for an app that never calls the timer.
CHECKPOINT_EVERY: Final = 1000
#: Bytes of write-ahead log after which a pull checkpoints (:meth:`LocalStore.checkpoint_if_large`).
WAL_LIMIT: Final = 64 * 1024 * 1024


class LocalStore:
    """The open, keyed database. Build it with :meth:`open`; close it on lock."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self._conn: Connection | None = conn
        self.path = path
        self.lock = threading.RLock()
        self._commits = 0

    @classmethod
    def open(cls, path: Path, dk: bytes, *, create: bool = False) -> LocalStore:
        """Open (``create``: make) the store at ``path`` with the data key ``dk``.

        A wrong key, a damaged file or a missing one raises :class:`DeviceError` with a
        sentence; the database is never created by accident where one should exist.
        """
        if len(dk) != KEY_BYTES:
            raise DeviceError("The data key has the wrong length; the device cannot open.")
        if create:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)  # SQLite gives -wal and -shm the database file's mode (0600)
        elif not path.is_file():
            raise DeviceError(
                "This device's data store is missing. Sign in online to set the device up again."
            )
        conn = cast(
            Connection,
            sqlcipher3.connect(str(path), check_same_thread=False, isolation_level=None),
        )
        try:
            conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is ours to report
            conn.execute(f"PRAGMA key = \"x'{dk.hex()}'\"")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except DatabaseError:
            conn.close()
            raise DeviceError(
                "This device's data store cannot be opened with its key: it is damaged or "
                "belongs to another setup. Sign in online to set the device up again."
            ) from None
        store = cls(conn, path)
        try:
            store._configure()
        except _Error:
            conn.close()
            raise DeviceError("This device's data store cannot be prepared for use.") from None
        return store

    def _configure(self) -> None:
        conn = self.conn
        # Memory security (wipe and lock every freed page) stays off, SQLCipher 4's default: it
        # made a first sync 7x slower (docs/benchmarks.md), and while the store is open the data
        # key itself is in this process's memory, so it guards little. docs/device.md says so.
        with suppress(_Error):
            conn.execute("PRAGMA cipher_memory_security = OFF")
        conn.execute("PRAGMA journal_mode = WAL")
        # No checkpoint inside a clinical write: an automatic one every 1,000 pages made one
        # write in ~60 take 5-10 ms (docs/benchmarks.md). :meth:`checkpoint` runs them instead,
        # from the app's timer, after a pull, at close, and after every CHECKPOINT_EVERY commits.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        # FULL: a write the app showed as "saved on device" survives a battery pull, not only a
        # killed process (NORMAL would; it may lose the last commits on power loss).
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB of decrypted pages: see below
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        schema = resources.files("bedside.device").joinpath("schema.sql").read_text("utf-8")
        with self.transaction() as tx:
            for statement in _statements(schema):
                tx.execute(statement)
            tx.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (SCHEMA_VERSION,),
            )

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise DeviceError("The device is locked. Enter your PIN to continue.")
        return self._conn

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception.

        IMMEDIATE takes the write lock at the start, so a transaction that reads then writes
        (the outbox's next seq) can never be overtaken. A nested use joins the outer one.

        ``durable=False`` commits without waiting for the disk (``synchronous = NORMAL``): the
        commit survives a killed process at once, and a power loss once the next durable commit
        or checkpoint has synced the log (every WAL sync covers all earlier frames). For what
        can be rebuilt or is not clinical: read-access log rows, data pulled from the server.
        A clinical action is always durable before the app shows it saved.
        """
        with self.lock:
            conn = self.conn
            if conn.in_transaction:
                yield conn
                return
            conn.execute("PRAGMA synchronous = FULL" if durable else "PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (PASSIVE: never waits on a reader)."""
        with self.lock, suppress(_Error):
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def checkpoint_if_large(self, limit: int = WAL_LIMIT) -> None:
        """Checkpoint once the write-ahead log passes ``limit`` bytes (a long pull, say).

        Checkpointing after every batch of a first sync would copy the same B-tree pages into
        the database again and again; never checkpointing would let the log grow with the
        whole working set. This keeps it bounded at little cost.
        """
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            large = wal.stat().st_size > limit
        except OSError:
            return
        if large:
            self.checkpoint()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """The connection, held for a read (no transaction: each statement is consistent)."""
        with self.lock:
            yield self.conn

    def meta(self, key: str) -> str | None:
        """A meta value, or None when unset."""
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (None: delete) a meta value; inside the caller's transaction if there is one."""
        with self.transaction() as tx:
            if value is None:
                tx.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def close(self) -> None:
        """Checkpoint and close; the data key is no longer in SQLCipher's memory after this."""
        with self.lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            with suppress(_Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()

    @staticmethod
    def files(path: Path) -> list[Path]:
        """The database and its WAL and shared-memory files (those that exist)."""
        candidates = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        candidates.append(path.with_name(path.name + "-journal"))
        return [p for p in candidates if p.exists()]


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` (``executescript`` would commit our transaction)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement.strip()
