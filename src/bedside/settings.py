"""Server settings, resolved once by the CLI and passed down (no module-level config)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from bedside.numerals import is_number

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "KIB",
    "MIB",
    "BodyLimits",
    "Settings",
    "parse_size",
    "prepare_data_dir",
    "record_server",
    "recorded_database",
    "recorded_fhir_base",
    "resolve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
KIB = 1024
MIB = 1024 * KIB
_UNITS = {"": 1, "b": 1, "k": KIB, "kb": KIB, "kib": KIB, "m": MIB, "mb": MIB, "mib": MIB}


@dataclass(frozen=True)
class BodyLimits:
    """The most bytes a request body may carry, by where it goes (docs/api.md, "Limits on
    hostile input"); :class:`bedside.web.body_limit.BodyLimit` enforces them while reading.

    ``fhir``: the FHIR API and review resolutions. A transaction Bundle of a whole record is a
    few MB, and attachments travel inline (base64 in Binary or Attachment.data, 4 bytes per 3),
    so 16 MiB holds a photo of about 12 MB. ``sync``: ``POST /sync/push``, up to 500 events of
    one resource each. ``other``: everything else, the OAuth forms (``/auth/...``) and the small
    JSON bodies of the device, launch and governance APIs.
    """

    fhir: int = 16 * MIB
    sync: int = 32 * MIB
    other: int = 64 * KIB

    def for_path(self, path: str) -> int:
        if path == "/fhir" or path.startswith(("/fhir/", "/review/")):
            return self.fhir
        if path.startswith("/sync/"):
            return self.sync
        return self.other


def parse_size(text: str) -> int | None:
    """Bytes from ``16MiB``, ``64k``, ``1048576`` (K and M are 1024-based); None if not one."""
    value = text.strip().lower()
    digits = value.rstrip("kmib")
    unit = value[len(digits) :]
    if not is_number(digits) or unit not in _UNITS:
        return None
    return int(digits) * _UNITS[unit]


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    base_url: str = ""
    body_limits: BodyLimits = BodyLimits()

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
    body_limits: BodyLimits | None = None,
) -> Settings:
    """Settings for a data dir: SQLite inside it unless a database URL is given."""
    data_dir = data_dir.resolve()
    url = database or f"sqlite:///{data_dir / 'bedside.db'}"
    return Settings(data_dir, url, host, port, base_url or "", body_limits or BodyLimits())


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
