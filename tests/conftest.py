"""Shared fixtures: real SQLite and PostgreSQL stores, and a real server on loopback.

PostgreSQL tests use the server at $BEDSIDE_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test), each test in its own schema. When it is unreachable
they skip with a clear message, except under CI=true, where they fail: CI must test PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bedside.audit.entry import NullAuditor
from bedside.auth import tokens
from bedside.auth.caller import Caller
from bedside.auth.keys import load_or_create
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.policy.decide import Policy
from bedside.rest import Repository
from bedside.store import Store, open_store

PG_URL = os.environ.get("BEDSIDE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthea-r4"
BASE = "http://bedside.test/fhir"
BACKENDS = ["sqlite", "postgresql"]


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


_PG_PROBLEM: str | None = None
_PG_CHECKED = False


def require_postgres() -> None:
    global _PG_PROBLEM, _PG_CHECKED
    if not _PG_CHECKED:
        _PG_PROBLEM = _pg_available()
        _PG_CHECKED = True
    if _PG_PROBLEM is not None:
        message = f"PostgreSQL at {PG_URL} is not reachable ({_PG_PROBLEM})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must run the PostgreSQL tests.")
        pytest.skip(f"{message}; set BEDSIDE_TEST_POSTGRES to run the PostgreSQL tests.")


@dataclass
class PgSchema:
    url: str
    name: str


@contextmanager
def fresh_pg_schema() -> Iterator[PgSchema]:
    """A fresh, empty schema on the real PostgreSQL server, dropped afterwards."""
    require_postgres()
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield PgSchema(f"{PG_URL}{sep}options={quote(f'-csearch_path={name}')}", name)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def pg_schema() -> Iterator[PgSchema]:
    with fresh_pg_schema() as schema:
        yield schema


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'bedside.db'}"
    schema: PgSchema = request.getfixturevalue("pg_schema")
    return schema.url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return database_url(backend, tmp_path, request)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


OPERATOR = Caller("operator", ScopeSet.parse("system/*.cruds"))


@pytest.fixture
def repo(store: Store) -> Repository:
    """A Repository bound to an all-powerful operator caller."""
    return Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )


def repo_for(store: Store, scope: str) -> Repository:
    return Repository(
        store,
        Caller("tester", ScopeSet.parse(scope)),
        BASE,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `bedside serve` process on loopback, with a client and a token minter."""

    base: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def token(self, scope: str = "system/*.cruds", ttl: int = 600) -> str:
        return tokens.issue(
            load_or_create(self.data_dir),
            subject="tester",
            audience=self.base,
            scope=scope,
            ttl=ttl,
        )

    def client(self, scope: str | None = "system/*.cruds") -> httpx.Client:
        headers = {"Accept": "application/fhir+json"}
        if scope is not None:
            headers["Authorization"] = f"Bearer {self.token(scope)}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=60.0)


def start_server(data_dir: Path, db: str, *extra: str) -> Server:
    port = free_port()
    log = open(data_dir.parent / f"server-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bedside",
            "serve",
            "--data-dir",
            str(data_dir),
            "--database",
            db,
            "--port",
            str(port),
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/fhir"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited: {(data_dir.parent / f'server-{port}.log').read_text()}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Server(base, data_dir, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    """A real server process on the parametrized backend."""
    srv = start_server(tmp_path / "data", db_url)
    yield srv
    stop_server(srv)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def sample_bundles() -> list[Path]:
    if not SAMPLE_DIR.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"sample data missing at {SAMPLE_DIR}")
        pytest.skip(f"sample data not found at {SAMPLE_DIR}")
    return sorted(SAMPLE_DIR.glob("*.json"))


MakeResource = Callable[..., dict[str, object]]
