"""A `bedside serve` process shared by every test of one module, on each backend.

Starting a server costs about a second; modules with many small HTTP tests share one per
backend and keep their tests apart with fresh ids and identifiers instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.conftest import PG_URL, Server, require_postgres, start_server, stop_server


def module_server(factory: pytest.TempPathFactory, backend: str) -> Iterator[Server]:
    tmp = factory.mktemp(f"live-{backend}")
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'bedside.db'}"
    else:
        require_postgres()
        import psycopg

        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        srv = start_server(tmp / "data", url)
        try:
            yield srv
        finally:
            stop_server(srv)
    finally:
        if schema is not None:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
