"""The device's SQLCipher store: keyed open, pragmas, schema, transactions and meta values."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.device.errors import DeviceError
from bedside.device.store import STORE_FILE, LocalStore


@pytest.fixture
def dk() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def store(tmp_path: Path, dk: bytes) -> Iterator[LocalStore]:
    s = LocalStore.open(tmp_path / STORE_FILE, dk, create=True)
    yield s
    s.close()


def test_created_store_is_owner_only_and_has_the_schema(store: LocalStore) -> None:
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    tables = {
        r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert {"meta", "patients", "resources", "search", "outbox", "accesses"} <= tables
    assert store.meta("schema_version") == "1"


def test_pragmas_keep_temporary_data_in_memory_and_use_wal(store: LocalStore) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: clinical writes
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA cipher_memory_security").fetchone()[0] == "0"


def test_only_transactions_asked_not_to_be_durable_skip_the_disk_sync(store: LocalStore) -> None:
    with store.transaction(durable=False) as tx:
        assert tx.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with store.transaction() as tx:
        assert tx.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_wrong_key_is_a_sentence_not_a_crash(tmp_path: Path, dk: bytes) -> None:
    s = LocalStore.open(tmp_path / STORE_FILE, dk, create=True)
    s.set_meta("user", "u-1")
    s.close()
    with pytest.raises(DeviceError, match="cannot be opened with its key"):
        LocalStore.open(tmp_path / STORE_FILE, secrets.token_bytes(32))
    reopened = LocalStore.open(tmp_path / STORE_FILE, dk)
    assert reopened.meta("user") == "u-1"
    reopened.close()


def test_missing_store_is_not_created_by_accident(tmp_path: Path, dk: bytes) -> None:
    with pytest.raises(DeviceError, match="missing"):
        LocalStore.open(tmp_path / STORE_FILE, dk)
    assert not (tmp_path / STORE_FILE).exists()


def test_existing_store_is_not_recreated(tmp_path: Path, dk: bytes) -> None:
    LocalStore.open(tmp_path / STORE_FILE, dk, create=True).close()
    with pytest.raises(FileExistsError):
        LocalStore.open(tmp_path / STORE_FILE, dk, create=True)


def test_file_is_ciphertext(tmp_path: Path, dk: bytes) -> None:
    s = LocalStore.open(tmp_path / STORE_FILE, dk, create=True)
    s.set_meta("probe", "plain-text-canary-4821")
    raw_wal = b"".join(p.read_bytes() for p in LocalStore.files(s.path))
    s.close()
    raw = (tmp_path / STORE_FILE).read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert b"plain-text-canary-4821" not in raw + raw_wal


def test_transaction_rolls_back_everything_on_error(store: LocalStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        store.set_meta("b", "2")  # joins the outer transaction
        raise RuntimeError("boom")
    assert store.meta("a") is None
    assert store.meta("b") is None
    with store.transaction() as tx:
        tx.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
    assert store.meta("a") == "1"


def test_meta_set_replace_and_delete(store: LocalStore) -> None:
    store.set_meta("sync_token", "t1")
    store.set_meta("sync_token", "t2")
    assert store.meta("sync_token") == "t2"
    store.set_meta("sync_token", None)
    assert store.meta("sync_token") is None


def test_closed_store_says_locked(store: LocalStore) -> None:
    store.close()
    assert not store.is_open
    with pytest.raises(DeviceError, match="locked"):
        store.meta("user")
    store.close()  # closing twice is harmless


def test_schema_is_reapplied_additively_on_open(tmp_path: Path, dk: bytes) -> None:
    s = LocalStore.open(tmp_path / STORE_FILE, dk, create=True)
    s.conn.execute("DROP TABLE accesses")
    s.set_meta("kept", "yes")
    s.close()
    s = LocalStore.open(tmp_path / STORE_FILE, dk)
    assert s.meta("kept") == "yes"
    assert s.conn.execute("SELECT count(*) FROM accesses").fetchone()[0] == 0
    s.close()
