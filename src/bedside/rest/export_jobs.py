"""Where export jobs are kept: one owner-only folder per job under ``<data dir>/exports/``.

``job.json`` holds an :class:`ExportJob` (written atomically: a temporary file, then
``os.replace``), beside the job's NDJSON files. A folder that is gone means the job was
cancelled or expired: writers check for it and stop (ADR 0011).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ExportJob", "JobFolders"]


@dataclass
class ExportJob:
    """One export's state, as kept in ``job.json``."""

    id: str
    owner: str
    level: str  # system, patient or group
    types: list[str]
    since: str | None
    filters: dict[str, list[str]]  # type -> _typeFilter queries (ORed)
    patients: list[str] | None  # group level: the members
    request: str
    created: float
    state: str = "in-progress"  # in-progress, completed, failed
    done_types: int = 0
    finished: float | None = None
    transaction_time: str | None = None
    output: list[dict[str, Any]] | None = None
    deleted: int = 0  # with _since: resources reported deleted (deleted.ndjson)

    def to_json(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, raw: bytes) -> ExportJob:
        return cls(**orjson.loads(raw))


class JobFolders:
    """The folders of export jobs under ``root`` (created 0700 on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, job_id: str) -> ExportJob | None:
        try:
            return ExportJob.from_json((self.root / job_id / "job.json").read_bytes())
        except (OSError, ValueError, TypeError):
            return None

    def save(self, job: ExportJob, *, only_if_exists: bool = False) -> bool:
        """Write ``job.json`` atomically; False when the job's folder is gone (cancelled)."""
        folder = self.root / job.id
        if only_if_exists and not folder.exists():
            return False
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        tmp = folder / f"job.json.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(job.to_json())
        try:
            os.replace(tmp, folder / "job.json")
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True
