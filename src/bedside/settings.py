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
    def fhir_base(self) -> str:
        """The public FHIR base URL: tokens' audience and the root of every link."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/") + "/fhir"


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
    """Remember the FHIR base in the data dir so `bedside admin token` can use it as audience."""
    (settings.data_dir / "server.json").write_bytes(
        orjson.dumps({"fhir_base": settings.fhir_base}, option=orjson.OPT_INDENT_2)
    )


def recorded_fhir_base(data_dir: Path) -> str | None:
    path = data_dir / "server.json"
    if not path.exists():
        return None
    value = orjson.loads(path.read_bytes()).get("fhir_base")
    return str(value) if value else None
