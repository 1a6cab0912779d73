"""`bedside audit verify` as an operator runs it: a subprocess against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bedside import settings as settings_mod
from bedside.audit.chain import AuditLog
from bedside.audit.entry import SUCCESS, AuditEntry
from bedside.store import open_store


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside", "audit", "verify", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def fill(url: str, count: int) -> None:
    store = open_store(url)
    log = AuditLog(store, server="http://bedside.test/fhir")
    log.submit(
        [
            AuditEntry("read", "R", SUCCESS, 1_767_225_600_000 + i, subject="u-1", patients=("p",))
            for i in range(count)
        ]
    )
    log.close()
    store.close()


def tamper(url: str, sql: str) -> None:
    store = open_store(url)
    with store.records(write=True) as db:
        db.run(sql)
    store.close()


def test_intact_chain_exits_0(db_url: str, tmp_path: Path) -> None:
    fill(db_url, 12)
    done = verify_cli("--database", db_url, "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Audit chain intact: 12 records."


def test_tampered_chain_exits_1_naming_the_record(db_url: str, tmp_path: Path) -> None:
    fill(db_url, 12)
    tamper(db_url, "DELETE FROM audit_log WHERE n = 7")
    done = verify_cli("--database", db_url, "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1
    assert done.stdout.strip() == "Audit chain broken at record 7: record 7 is missing"


def test_changed_content_exits_1(db_url: str, tmp_path: Path) -> None:
    fill(db_url, 5)
    tamper(db_url, "UPDATE audit_log SET content = content WHERE n = 2")  # a no-op is fine
    assert verify_cli("--database", db_url, "--data-dir", str(tmp_path)).returncode == 0
    store = open_store(db_url)
    with store.records(write=True) as db:
        db.run("UPDATE audit_log SET content = ? WHERE n = 2", (b'{"resourceType":"x"}',))
    store.close()
    done = verify_cli("--database", db_url, "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.strip() == (
        "Audit chain broken at record 2: record 2's content does not match its hash"
    )


def test_default_database_is_the_one_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    fill(f"sqlite:///{data / 'bedside.db'}", 3)
    done = verify_cli("--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Audit chain intact: 3 records."


def test_a_missing_database_is_an_error_not_an_empty_chain(tmp_path: Path) -> None:
    done = verify_cli("--data-dir", str(tmp_path / "nothing-here"))
    assert done.returncode == 1
    assert "there is no database" in done.stderr
    assert not (tmp_path / "nothing-here" / "bedside.db").exists()


def test_without_database_the_one_the_server_recorded_is_used(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings_mod.record_server(settings_mod.Settings(data, db_url))
    fill(db_url, 4)
    done = verify_cli("--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Audit chain intact: 4 records."
