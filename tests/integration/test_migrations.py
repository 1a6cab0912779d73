"""Schema migrations on both backends: applied once, in order, recorded, and safe to race."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import pytest

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.errors import StoreError
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store import Store, migrations, open_store
from bedside.store.migrations import Migration, latest_version
from tests.conftest import BASE, OPERATOR

DIALECTS = ("sqlite", "postgresql")
TABLES = {
    "resources",
    "resource_versions",
    "change_feed",
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_reference",
    "idx_quantity",
}


@contextmanager
def raw(db_url: str) -> Iterator[Any]:
    """A plain DB-API connection to the database behind ``db_url``."""
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///") :])
        try:
            yield conn
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as pg:
            yield pg


def recorded(db_url: str) -> list[tuple[int, str, str]]:
    with raw(db_url) as conn:
        rows = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(n), str(a)) for v, n, a in rows]


def tables(db_url: str) -> set[str]:
    with raw(db_url) as conn:
        if db_url.startswith("sqlite:///"):
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        else:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            ).fetchall()
    return {str(r[0]) for r in rows}


def dialect_of(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite:///") else "postgresql"


def test_opening_an_empty_database_applies_every_migration_in_order(db_url: str) -> None:
    dialect = dialect_of(db_url)
    assert tables(db_url) == set()
    store = open_store(db_url)
    try:
        rows = recorded(db_url)
        expected = [(m.version, m.name) for m in migrations.migrations(dialect)]
        assert [(v, n) for v, n, _ in rows] == expected
        assert [v for v, _, _ in rows] == list(range(1, latest_version(dialect) + 1))
        stamps = [a for _, _, a in rows]
        assert stamps == sorted(stamps), "migrations were not applied oldest first"
        assert TABLES | {"schema_migrations"} <= tables(db_url)
        assert store.schema_version() == latest_version(dialect)  # type: ignore[attr-defined]
        # The migrated schema works.
        repo = Repository(
            store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
        )
        resp = repo.handle(FhirRequest("POST", "Patient", body={"resourceType": "Patient"}))
        assert resp.status == 201
    finally:
        store.close()


def test_opening_again_is_a_no_op(db_url: str) -> None:
    first = open_store(db_url)
    Repository(
        first, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    ).handle(FhirRequest("PUT", "Patient/kept", body={"resourceType": "Patient", "id": "kept"}))
    first.close()
    before = recorded(db_url)
    before_tables = tables(db_url)

    for _ in range(2):
        again = open_store(db_url)
        try:
            assert recorded(db_url) == before  # same rows, same applied_at: nothing re-ran
            assert tables(db_url) == before_tables
            resp = Repository(
                again, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
            ).handle(FhirRequest("GET", "Patient/kept"))
            assert resp.status == 200
            assert resp.resource is not None and resp.resource["meta"]["versionId"] == "1"
        finally:
            again.close()


def test_concurrent_opens_of_an_empty_database_do_not_fail(db_url: str) -> None:
    n = 4
    barrier = threading.Barrier(n)
    stores: list[Store] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_one() -> None:
        try:
            barrier.wait(timeout=30)
            s = open_store(db_url, pool_size=2)
            with lock:
                stores.append(s)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, [f"{type(e).__name__}: {e}" for e in errors]
        assert len(stores) == n
        dialect = dialect_of(db_url)
        versions = [v for v, _, _ in recorded(db_url)]
        assert versions == list(range(1, latest_version(dialect) + 1))
        for i, s in enumerate(stores):
            resp = Repository(
                s, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
            ).handle(
                FhirRequest("PUT", f"Patient/c{i}", body={"resourceType": "Patient", "id": f"c{i}"})
            )
            assert resp.status == 201
    finally:
        for s in stores:
            s.close()


def test_a_failing_migration_leaves_the_previous_version(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect = dialect_of(db_url)
    open_store(db_url).close()
    before = recorded(db_url)
    good = migrations.migrations(dialect)
    broken = Migration(
        len(good) + 1,
        "broken",
        "CREATE TABLE half_done (x INTEGER);\nCREATE TABLE half_done (x INTEGER);\n",
    )
    module = "bedside.store.sqlite" if dialect == "sqlite" else "bedside.store.postgres"
    monkeypatch.setattr(f"{module}.migrations", lambda d: [*good, broken])
    with pytest.raises(StoreError):
        open_store(db_url)
    assert recorded(db_url) == before
    assert "half_done" not in tables(db_url)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_latest_version_is_the_number_of_files(dialect: str) -> None:
    folder = resources.files("bedside.store").joinpath("schema", dialect)
    files = sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))
    assert files, f"no migrations for {dialect}"
    assert latest_version(dialect) == len(files)
    found = migrations.migrations(dialect)
    assert [f"{m.version:04d}_{m.name}.sql" for m in found] == files
    assert all(m.sql.strip() for m in found)


def test_both_dialects_have_the_same_versions() -> None:
    sqlite_versions = [(m.version, m.name) for m in migrations.migrations("sqlite")]
    pg_versions = [(m.version, m.name) for m in migrations.migrations("postgresql")]
    assert sqlite_versions == pg_versions
    assert latest_version("sqlite") == latest_version("postgresql")
