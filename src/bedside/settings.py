"""Server settings, resolved once by the CLI and passed down (no module-level config)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    base_url: str = ""

    @property
    def root(self) -> str:
        """The server's public URL; the authorization server lives at root/auth/."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def fhir_base(self) -> str:
        """The public FHIR base URL: tokens' audience and issuer, and the root of every link."""
        return self.root + "/fhir"


def resolve(
    data_dir: Path,
    database: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    base_url: str | None = None,
) -> Settings:
    """Settings for a data dir: SQLite inside it unless a database URL is given."""
    data_dir = data_dir.resolve()
    url = database or f"sqlite:///{data_dir / 'bedside.db'}"
    return Settings(data_dir, url, host, port, base_url or "")


def prepare_data_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def record_server(settings: Settings) -> None:
    """Remember the FHIR base and database in the data dir, for the `bedside admin` commands.

    The file is owner-only: a PostgreSQL URL may carry a password.
    """
    path = settings.data_dir / "server.json"
    body = {"fhir_base": settings.fhir_base, "database": settings.database_url}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    os.chmod(path, 0o600)


def recorded_database(data_dir: Path) -> str | None:
    path = data_dir / "server.json"
    if not path.exists():
        return None
    value = orjson.loads(path.read_bytes()).get("database")
    return str(value) if value else None


def recorded_fhir_base(data_dir: Path) -> str | None:
    path = data_dir / "server.json"
    if not path.exists():
        return None
    value = orjson.loads(path.read_bytes()).get("fhir_base")
    return str(value) if value else None
